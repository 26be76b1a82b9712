// The AI pipeline's arrival stage on AWS: archive events from the events queue (SQS event source) are
// recorded as study activity, and a delayed message asks the readiness function to look again once the
// quiet period is over. An event that cannot be read is reported as a batch item failure, so SQS
// retries it and, after the redrive limit, dead-letters it; the reason is logged.
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { cachedUntilRejected } from '../../cached-until-rejected.js';
import type { ArchiveEvent } from '../../storage/ports.js';
import { coordinatorStorage, createAwsAi, type AwsAi } from '../ai/runtime.js';
import { observability, type Observability } from '../observability.js';

/** SQS delays a message by at most 15 minutes; longer quiet periods are caught by the scheduled run. */
const MAX_DELAY_SECONDS = 900;

const EVENT_TYPES = new Set<ArchiveEvent['type']>(['InstanceStored', 'InstancesDeleted']);

function parseEvent(record: SQSRecord): ArchiveEvent {
  let event: Partial<ArchiveEvent>;
  try {
    event = JSON.parse(record.body) as Partial<ArchiveEvent>;
  } catch (e) {
    throw new Error(`archive event ${record.messageId} is not JSON: ${String(e)}`);
  }
  if (!event.type || !EVENT_TYPES.has(event.type) || typeof event.studyInstanceUID !== 'string' || typeof event.at !== 'string') {
    throw new Error(`archive event ${record.messageId} lacks type, studyInstanceUID or at`);
  }
  return event as ArchiveEvent;
}

export async function handleArchiveEvents(event: SQSEvent, context: Context, ai: AwsAi, obs: Observability): Promise<SQSBatchResponse> {
  obs.logger.addContext(context);
  const recordHandler = async (record: SQSRecord) => {
    try {
      await ai.pipeline.handleEvent(parseEvent(record));
    } catch (e) {
      obs.logger.error('archive event not recorded; SQS will retry it, then dead-letter it', { messageId: record.messageId, error: String(e) });
      throw e;
    }
  };
  const response = await processPartialResponse(event, recordHandler, new BatchProcessor(EventType.SQS), { context, throwOnFullBatchFailure: false });
  if (event.Records.length > response.batchItemFailures.length) {
    const delaySeconds = Math.min(MAX_DELAY_SECONDS, Math.ceil(ai.config.quietPeriodMs / 1000) + 1);
    await ai.clients.sqs.send(new SendMessageCommand({ QueueUrl: ai.settings.readinessQueueUrl, MessageBody: JSON.stringify({ check: 'readiness' }), DelaySeconds: delaySeconds }));
  }
  return response;
}

const obs = observability('ai-events');
const ai = cachedUntilRejected(() => createAwsAi(obs, coordinatorStorage('ai-events')));
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => handleArchiveEvents(event, context, await ai(), obs);
