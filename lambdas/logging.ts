// One shape for structured logs across runtimes: JSON lines on the console locally, Powertools' Logger
// on Lambda (lambdas/aws/observability.ts), so application code does not know where it runs.
export type LogLevel = 'info' | 'warn' | 'error';
export type StructuredLog = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

export const consoleLog =
  (service: string): StructuredLog =>
  (level, message, fields = {}) =>
    console[level === 'info' ? 'log' : level](JSON.stringify({ level, message, service, ...fields }));
