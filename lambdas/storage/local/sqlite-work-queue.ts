// WorkQueue for local mode: SQS semantics (visibility timeout, retries with exponential backoff,
// a dead-letter state, deduplication by message id) on a SQLite table, so queued work survives restarts.
import Database from 'better-sqlite3';
import { openDurableDatabase } from './durable-database.js';
import { randomUUID } from 'node:crypto';
import type { DeadLetter, QueuedMessage, WorkQueue } from '../ports.js';

export interface WorkQueueOptions {
  /** How long a received message stays invisible before it is delivered again (a crashed worker). */
  visibilityTimeoutMs: number;
  /** Deliveries before a message is dead-lettered. */
  maxAttempts: number;
  /** First retry delay; doubled for each further attempt. */
  backoffBaseMs: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
  queue TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,
  state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, visible_at INTEGER NOT NULL,
  receipt TEXT, last_error TEXT, dead_at TEXT,
  PRIMARY KEY (queue, id)
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages(queue, state, visible_at);
`;

type Row = Record<string, unknown>;

export class SqliteWorkQueue<T> implements WorkQueue<T> {
  private readonly db: Database.Database;
  private waiters = new Set<() => void>();

  constructor(
    file: string,
    private readonly options: WorkQueueOptions,
  ) {
    this.db = openDurableDatabase(file, SCHEMA);
  }

  async send(queue: string, id: string, body: T): Promise<void> {
    const inserted = this.db
      .prepare(`INSERT OR IGNORE INTO messages (queue, id, body, state, visible_at) VALUES (?, ?, ?, 'ready', ?)`)
      .run(queue, id, JSON.stringify(body), Date.now()).changes;
    if (inserted) this.wake();
  }

  async receive(queue: string, max: number): Promise<Array<QueuedMessage<T>>> {
    const now = Date.now();
    return this.db.transaction(() => {
      const rows = this.db
        .prepare(`SELECT id, body, attempts FROM messages WHERE queue = ? AND state = 'ready' AND visible_at <= ? ORDER BY visible_at LIMIT ?`)
        .all(queue, now, max) as Row[];
      const update = this.db.prepare('UPDATE messages SET attempts = attempts + 1, receipt = ?, visible_at = ? WHERE queue = ? AND id = ?');
      return rows.map((r) => {
        const receipt = `${r.id as string} ${randomUUID()}`;
        update.run(receipt, now + this.options.visibilityTimeoutMs, queue, r.id);
        return { body: JSON.parse(r.body as string) as T, attempts: Number(r.attempts) + 1, receipt };
      });
    })();
  }

  async ack(queue: string, receipt: string): Promise<void> {
    this.db.prepare(`UPDATE messages SET state = 'done', receipt = NULL WHERE queue = ? AND receipt = ?`).run(queue, receipt);
  }

  async fail(queue: string, receipt: string, error: string): Promise<boolean> {
    return this.db.transaction(() => {
      const row = this.db.prepare('SELECT attempts FROM messages WHERE queue = ? AND receipt = ?').get(queue, receipt) as Row | undefined;
      if (!row) return false; // the receipt expired and the message went to another worker
      const attempts = Number(row.attempts);
      if (attempts >= this.options.maxAttempts) {
        this.db
          .prepare(`UPDATE messages SET state = 'dead', receipt = NULL, last_error = ?, dead_at = ? WHERE queue = ? AND receipt = ?`)
          .run(error, new Date().toISOString(), queue, receipt);
        return true;
      }
      const delay = this.options.backoffBaseMs * 2 ** (attempts - 1);
      this.db.prepare('UPDATE messages SET receipt = NULL, last_error = ?, visible_at = ? WHERE queue = ? AND receipt = ?').run(error, Date.now() + delay, queue, receipt);
      setTimeout(() => this.wake(), delay).unref();
      return false;
    })();
  }

  async deadLetters(queue: string): Promise<Array<DeadLetter<T>>> {
    const rows = this.db.prepare(`SELECT body, attempts, last_error, dead_at FROM messages WHERE queue = ? AND state = 'dead' ORDER BY dead_at`).all(queue) as Row[];
    return rows.map((r) => ({ body: JSON.parse(r.body as string) as T, attempts: Number(r.attempts), error: r.last_error as string, at: r.dead_at as string }));
  }

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  async close(): Promise<void> {
    this.wake();
    this.db.close();
  }
}
