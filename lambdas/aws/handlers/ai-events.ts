// The AI pipeline's arrival stage on AWS: archive events from the events queue (SQS event source) are
// recorded as study activity, and a delayed message asks the readiness function to look again once the
// quiet period is over; with forwarding rules, matching instances are queued for the DIMSE task to send.
// An event that cannot be read is reported as a batch item failure, so SQS
// retries it and, after the redrive limit, dead-letters it; the reason is logged.
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { cachedUntilRejected } from '../../cached-until-rejected.js';
import { queueForwards, type ForwardJob } from '../../dimse/forwarding/enqueue.js';
import { parseForwardRules, parsePeers, type ForwardRule } from '../../dimse/settings.js';
import { forwardQueueFromEnv } from '../dimse/forward-queue.js';
import type { ArchiveEvent, WorkQueue } from '../../storage/ports.js';
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

/** Forwarding rules and their queue, when the deployment forwards (DIMSE_FORWARD): this function is the events queue's consumer. */
export interface EventForwarding {
  rules: ForwardRule[];
  queue: WorkQueue<ForwardJob>;
}

export function forwardingFromEnv(sqs: SQSClient, env: NodeJS.ProcessEnv = process.env): EventForwarding | undefined {
  if (!env.DIMSE_FORWARD) return undefined;
  return {
    rules: parseForwardRules(env.DIMSE_FORWARD, parsePeers(env.DIMSE_PEERS ?? '')),
    // This function only queues: attempts and backoff are the sending task's.
    queue: forwardQueueFromEnv(sqs, env, { maxAttempts: 1, backoffBaseMs: 1000 }),
  };
}

export async function handleArchiveEvents(event: SQSEvent, context: Context, ai: AwsAi, obs: Observability, forwarding?: EventForwarding): Promise<SQSBatchResponse> {
  obs.logger.addContext(context);
  const recordHandler = async (record: SQSRecord) => {
    try {
      const archiveEvent = parseEvent(record);
      await ai.pipeline.handleEvent(archiveEvent);
      // What arrives, and the AI's own results, go on to the hospital's PACS (the DIMSE task sends them).
      if (forwarding) await queueForwards(forwarding.rules, forwarding.queue, archiveEvent);
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
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  const started = await ai();
  forwarding ??= forwardingFromEnv(started.clients.sqs);
  return handleArchiveEvents(event, context, started, obs, forwarding);
};
let forwarding: EventForwarding | undefined;
