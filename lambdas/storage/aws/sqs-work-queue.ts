// WorkQueue on Amazon SQS (FIFO): one queue and one dead-letter queue per analyser. Deduplication by
// message id within SQS's five-minute window; beyond it the pipeline's consumer is idempotent (a job
// whose result exists is acknowledged without work). Retries back off by hiding the message; after the
// last attempt the message moves to the dead-letter queue with its error, explicitly, so that the
// pipeline knows and records the failure. (A redrive policy on the queue remains the safety net for
// workers that die mid-message.)
import { createHash } from 'node:crypto';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { DeadLetter, QueuedMessage, WorkQueue } from '../ports.js';

export interface SqsQueuePair {
  url: string;
  deadLetterUrl: string;
}

export interface SqsWorkQueueOptions {
  maxAttempts: number;
  /** First retry delay; doubled for each further attempt (SQS counts whole seconds, up to 12 hours). */
  backoffBaseMs: number;
}

interface Envelope<T> {
  id: string;
  body: T;
  error?: string;
  attempts?: number;
  at?: string;
}

const dedupId = (id: string) => createHash('sha256').update(id).digest('hex');

export class SqsWorkQueue<T> implements WorkQueue<T> {
  /** Receive counts by receipt: SQS reports them on receive, and fail() needs them. */
  private readonly attemptsByReceipt = new Map<string, { attempts: number; envelope: Envelope<T> }>();

  constructor(
    private readonly sqs: SQSClient,
    private readonly queues: Record<string, SqsQueuePair>,
    private readonly options: SqsWorkQueueOptions,
  ) {}

  private pair(queue: string): SqsQueuePair {
    const pair = this.queues[queue];
    if (!pair) throw new Error(`no SQS queue is configured for "${queue}"`);
    return pair;
  }

  async send(queue: string, id: string, body: T): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.pair(queue).url,
        MessageBody: JSON.stringify({ id, body } satisfies Envelope<T>),
        MessageDeduplicationId: dedupId(id),
        // One group per job: jobs run in parallel, a job's own deliveries in order.
        MessageGroupId: dedupId(id).slice(0, 64),
      }),
    );
  }

  async receive(queue: string, max: number): Promise<Array<QueuedMessage<T>>> {
    const res = await this.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: this.pair(queue).url, MaxNumberOfMessages: Math.min(10, max), WaitTimeSeconds: 0, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }),
    );
    return (res.Messages ?? []).map((m) => {
      const envelope = JSON.parse(m.Body!) as Envelope<T>;
      const attempts = Number(m.Attributes?.ApproximateReceiveCount ?? 1);
      this.attemptsByReceipt.set(m.ReceiptHandle!, { attempts, envelope });
      return { body: envelope.body, attempts, receipt: m.ReceiptHandle! };
    });
  }

  /**
   * Takes over a message that Lambda's SQS event source received on our behalf, so that ack and fail
   * work on it as on one from receive().
   */
  delivered(message: { body: string; receiptHandle: string; approximateReceiveCount: string | number }): QueuedMessage<T> {
    const envelope = JSON.parse(message.body) as Envelope<T>;
    const attempts = Number(message.approximateReceiveCount) || 1;
    this.attemptsByReceipt.set(message.receiptHandle, { attempts, envelope });
    return { body: envelope.body, attempts, receipt: message.receiptHandle };
  }

  async ack(queue: string, receipt: string): Promise<void> {
    this.attemptsByReceipt.delete(receipt);
    await this.sqs.send(new DeleteMessageCommand({ QueueUrl: this.pair(queue).url, ReceiptHandle: receipt }));
  }

  async fail(queue: string, receipt: string, error: string): Promise<boolean> {
    const known = this.attemptsByReceipt.get(receipt);
    this.attemptsByReceipt.delete(receipt);
    if (!known) return false;
    const { url, deadLetterUrl } = this.pair(queue);
    if (known.attempts >= this.options.maxAttempts) {
      const dead: Envelope<T> = { ...known.envelope, error, attempts: known.attempts, at: new Date().toISOString() };
      await this.sqs.send(
        new SendMessageCommand({ QueueUrl: deadLetterUrl, MessageBody: JSON.stringify(dead), MessageDeduplicationId: dedupId(known.envelope.id), MessageGroupId: dedupId(known.envelope.id).slice(0, 64) }),
      );
      await this.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: receipt }));
      return true;
    }
    const delaySeconds = Math.min(43_200, Math.ceil((this.options.backoffBaseMs * 2 ** (known.attempts - 1)) / 1000));
    await this.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: receipt, VisibilityTimeout: delaySeconds }));
    return false;
  }

  async deadLetters(queue: string): Promise<Array<DeadLetter<T>>> {
    // A look without taking: received with a zero visibility timeout, so the messages stay available.
    const res = await this.sqs.send(new ReceiveMessageCommand({ QueueUrl: this.pair(queue).deadLetterUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0, WaitTimeSeconds: 0 }));
    return (res.Messages ?? []).map((m) => {
      const e = JSON.parse(m.Body!) as Envelope<T>;
      return { body: e.body, attempts: e.attempts ?? 0, error: e.error ?? '', at: e.at ?? '' };
    });
  }

  async wait(ms: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
  }

  async close(): Promise<void> {
    this.attemptsByReceipt.clear();
  }
}
