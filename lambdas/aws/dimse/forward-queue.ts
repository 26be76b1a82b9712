// The forwarding queue on AWS (an SQS FIFO queue and its dead-letter queue, made by the CDK app), for
// whoever queues or sends forwarding jobs: the streaming tasks and the archive events' consumer.
import type { SQSClient } from '@aws-sdk/client-sqs';
import { FORWARD_QUEUE, type ForwardJob } from '../../dimse/forwarding/enqueue.js';
import { SqsWorkQueue, type SqsWorkQueueOptions } from '../../storage/aws/sqs-work-queue.js';

export function forwardQueueFromEnv(sqs: SQSClient, env: NodeJS.ProcessEnv, options: SqsWorkQueueOptions): SqsWorkQueue<ForwardJob> {
  const url = env.DIMSE_FORWARD_QUEUE_URL;
  const deadLetterUrl = env.DIMSE_FORWARD_DEAD_LETTER_URL;
  if (!url || !deadLetterUrl) throw new Error('DIMSE_FORWARD needs DIMSE_FORWARD_QUEUE_URL and DIMSE_FORWARD_DEAD_LETTER_URL (the CDK app sets them)');
  return new SqsWorkQueue<ForwardJob>(sqs, { [FORWARD_QUEUE]: { url, deadLetterUrl } }, options);
}
