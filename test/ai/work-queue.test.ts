// The work queue's SQS-like contract: deduplication by id, visibility timeout, retries with backoff,
// dead letters with the last error, and persistence across a restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteWorkQueue } from '../../lambdas/storage/local/sqlite-work-queue.js';

const dir = mkdtempSync(join(tmpdir(), 'work-queue-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SqliteWorkQueue', () => {
  it('delivers once per id, again after the visibility timeout, and dead-letters after the last attempt', async () => {
    const file = join(dir, 'q1.sqlite');
    const queue = new SqliteWorkQueue<{ n: number }>(file, { visibilityTimeoutMs: 150, maxAttempts: 3, backoffBaseMs: 40 });
    await queue.send('a', 'job-1', { n: 1 });
    await queue.send('a', 'job-1', { n: 99 }); // same id: ignored
    await queue.send('b', 'job-1', { n: 2 }); // another queue
    const [first, ...rest] = await queue.receive('a', 10);
    expect(rest).toEqual([]);
    expect(first).toMatchObject({ body: { n: 1 }, attempts: 1 });
    expect(await queue.receive('a', 10)).toEqual([]); // invisible while being worked on
    await sleep(200);
    const [again] = await queue.receive('a', 10); // the worker died: delivered again
    expect(again.attempts).toBe(2);
    expect(await queue.fail('a', first.receipt, 'stale receipt')).toBe(false); // an expired receipt changes nothing
    expect(await queue.fail('a', again.receipt, 'boom 2')).toBe(false);
    expect(await queue.receive('a', 10)).toEqual([]); // backing off (40 ms × 2)
    await queue.wait(500); // woken when the retry comes due
    const [third] = await queue.receive('a', 10);
    expect(third.attempts).toBe(3);
    expect(await queue.fail('a', third.receipt, 'boom 3')).toBe(true);
    expect(await queue.deadLetters('a')).toEqual([expect.objectContaining({ body: { n: 1 }, attempts: 3, error: 'boom 3' })]);
    await queue.send('a', 'job-1', { n: 1 }); // a dead job is not revived by a duplicate send
    expect(await queue.receive('a', 10)).toEqual([]);
    await queue.close();

    // State survives a restart: queue b's message is still there, and an acknowledged one never returns.
    const reopened = new SqliteWorkQueue<{ n: number }>(file, { visibilityTimeoutMs: 150, maxAttempts: 3, backoffBaseMs: 40 });
    const [b] = await reopened.receive('b', 10);
    expect(b.body).toEqual({ n: 2 });
    await reopened.ack('b', b.receipt);
    await sleep(200);
    expect(await reopened.receive('b', 10)).toEqual([]);
    await reopened.close();
  });
});
