// Structured logs and metrics for the archive's Lambda functions, by Powertools for AWS Lambda: JSON
// logs carrying the request id, and CloudWatch metrics in the embedded metric format (written to the
// log, no API calls). Traces are in tracing.ts, apart, because the X-Ray SDK they need would take the
// API function's bundle over its 1 MB budget.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { StructuredLog } from '../logging.js';
import { METRICS_NAMESPACE } from './metrics-namespace.js';

export interface Observability {
  logger: Logger;
  metrics: Metrics;
}

export function observability(serviceName: string): Observability {
  return { logger: new Logger({ serviceName }), metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName }) };
}

/** The archive's structured-log shape, written by the Logger (with the request id once `addContext` ran). */
export function powertoolsLog(logger: Logger): StructuredLog {
  return (level, message, fields = {}) => logger[level](message, fields);
}
