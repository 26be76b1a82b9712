// The work queue's SQS-like contract, for the local SQLite queue and the SQS queue (fauxqs): deduplication
// by id, visibility timeout, retries with backoff, dead letters with the last error, and durability
// across a new client or process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkQueue } from '../../lambdas/ai/ports.js';
import { SqsWorkQueue } from '../../lambdas/storage/aws/sqs-work-queue.js';
import { SqliteWorkQueue } from '../../lambdas/storage/local/sqlite-work-queue.js';

const dir = mkdtempSync(join(tmpdir(), 'work-queue-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let fauxqs: FauxqsServer;
let sqs: SQSClient;
beforeAll(async () => {
  fauxqs = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
  sqs = new SQSClient({ endpoint: `http://127.0.0.1:${fauxqs.port}`, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
});
afterAll(async () => {
  sqs?.destroy();
  await fauxqs?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Implementation {
  name: string;
  /** Opens the queues "a" and "b"; called again to stand for a restarted process. */
  open(): Promise<WorkQueue<{ n: number }>>;
  visibilityMs: number;
  /** How long a first retry stays hidden (SQS counts whole seconds). */
  firstRetryMs: number;
}

let sqsQueues: Record<string, { url: string; deadLetterUrl: string }> | undefined;
async function sqsQueuePairs() {
  if (sqsQueues) return sqsQueues;
  const create = async (name: string) =>
    (await sqs.send(new CreateQueueCommand({ QueueName: `${name}.fifo`, Attributes: { FifoQueue: 'true', VisibilityTimeout: '1' } }))).QueueUrl!;
  sqsQueues = {};
  for (const q of ['a', 'b']) sqsQueues[q] = { url: await create(`work-${q}`), deadLetterUrl: await create(`work-${q}-dead`) };
  return sqsQueues;
}

const implementations: Implementation[] = [
  {
    name: 'SqliteWorkQueue',
    open: async () => new SqliteWorkQueue<{ n: number }>(join(dir, 'q.sqlite'), { visibilityTimeoutMs: 150, maxAttempts: 3, backoffBaseMs: 40 }),
    visibilityMs: 150,
    firstRetryMs: 40,
  },
  {
    name: 'SqsWorkQueue',
    open: async () => new SqsWorkQueue<{ n: number }>(sqs, await sqsQueuePairs(), { maxAttempts: 3, backoffBaseMs: 500 }),
    visibilityMs: 1000,
    firstRetryMs: 1000,
  },
];

describe.each(implementations)('WorkQueue contract: $name', (impl) => {
  it('delivers once per id, again after the visibility timeout, and dead-letters after the last attempt', async () => {
    const queue = await impl.open();
    await queue.send('a', 'job-1', { n: 1 });
    await queue.send('a', 'job-1', { n: 99 }); // same id: ignored
    await queue.send('b', 'job-1', { n: 2 }); // another queue
    const [first, ...rest] = await queue.receive('a', 10);
    expect(rest).toEqual([]);
    expect(first).toMatchObject({ body: { n: 1 }, attempts: 1 });
    expect(await queue.receive('a', 10)).toEqual([]); // invisible while being worked on
    await sleep(impl.visibilityMs + 300);
    const [again] = await queue.receive('a', 10); // the worker died: delivered again
    expect(again.attempts).toBe(2);
    expect(await queue.fail('a', again.receipt, 'boom 2')).toBe(false);
    expect(await queue.receive('a', 10)).toEqual([]); // backing off
    await queue.wait(impl.firstRetryMs * 2 + 300);
    let third = (await queue.receive('a', 10))[0];
    for (let i = 0; !third && i < 20; i++) {
      await sleep(100);
      third = (await queue.receive('a', 10))[0];
    }
    expect(third.attempts).toBe(3);
    expect(await queue.fail('a', third.receipt, 'boom 3')).toBe(true);
    expect(await queue.deadLetters('a')).toEqual([expect.objectContaining({ body: { n: 1 }, attempts: 3, error: 'boom 3' })]);
    await queue.send('a', 'job-1', { n: 1 }); // a dead job is not revived by a duplicate send
    expect(await queue.receive('a', 10)).toEqual([]);
    await queue.close();

    // A new client (or a restarted process) finds queue b's message; an acknowledged one never returns.
    const reopened = await impl.open();
    const [b] = await reopened.receive('b', 10);
    expect(b.body).toEqual({ n: 2 });
    await reopened.ack('b', b.receipt);
    await sleep(impl.visibilityMs + 300);
    expect(await reopened.receive('b', 10)).toEqual([]);
    await reopened.close();
  });
});
