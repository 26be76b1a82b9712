// Where the AI pipeline's AWS resources are, as the CDK app passes them to each AI function.
import type { SqsQueuePair } from '../../storage/aws/sqs-work-queue.js';

export interface AwsAiSettings {
  stateTable: string;
  /** Each installed analyser's FIFO queue and dead-letter queue, by analyser id. */
  queues: Record<string, SqsQueuePair>;
  /** Standard queue whose delayed messages ask for a readiness check after the quiet period. */
  readinessQueueUrl: string;
}

export function awsAiSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): AwsAiSettings {
  const need = (name: string): string => {
    const v = env[name]?.trim();
    if (!v) throw new Error(`${name} is not set; the CDK app sets it on every AI function`);
    return v;
  };
  let queues: unknown;
  try {
    queues = JSON.parse(need('AI_QUEUES'));
  } catch (e) {
    throw new Error(`AI_QUEUES must be JSON mapping analyser ids to {url, deadLetterUrl}: ${String(e)}`);
  }
  if (typeof queues !== 'object' || queues === null) throw new Error('AI_QUEUES must be a JSON object');
  for (const [id, pair] of Object.entries(queues)) {
    const p = pair as Partial<SqsQueuePair>;
    if (typeof p.url !== 'string' || typeof p.deadLetterUrl !== 'string') throw new Error(`AI_QUEUES["${id}"] needs url and deadLetterUrl`);
  }
  return { stateTable: need('AI_STATE_TABLE'), queues: queues as Record<string, SqsQueuePair>, readinessQueueUrl: need('AI_READINESS_QUEUE_URL') };
}
