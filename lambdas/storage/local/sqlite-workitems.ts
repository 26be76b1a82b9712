// UPS workitems in SQLite (workitems.sqlite beside the index): one row per workitem, its attributes as
// JSON, and the columns lists are ordered by. Changes are compare-and-set on the version, so that two
// performers claiming one workitem at once cannot both win.
import Database from 'better-sqlite3';
import { openDurableDatabase } from './durable-database.js';
import type { WorkitemRecord, WorkitemStore } from '../ports.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS workitems (
  uid TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  transaction_uid TEXT,
  dataset TEXT NOT NULL,
  priority_rank INTEGER NOT NULL,
  scheduled_at TEXT NOT NULL,
  version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS workitems_order ON workitems(priority_rank, scheduled_at, uid);
`;

type Row = { uid: string; state: string; transaction_uid: string | null; dataset: string; priority_rank: number; scheduled_at: string; version: number };

const fromRow = (r: Row): WorkitemRecord => ({
  sopInstanceUID: r.uid,
  state: r.state as WorkitemRecord['state'],
  ...(r.transaction_uid ? { transactionUID: r.transaction_uid } : {}),
  dataset: JSON.parse(r.dataset) as WorkitemRecord['dataset'],
  priorityRank: r.priority_rank,
  scheduledAt: r.scheduled_at,
  version: r.version,
});

/** Rows read per statement while listing, so that a long worklist is never held at once. */
const PAGE = 64;

export class SqliteWorkitemStore implements WorkitemStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = openDurableDatabase(file, SCHEMA);
  }

  async create(record: WorkitemRecord): Promise<boolean> {
    const result = this.db
      .prepare('INSERT OR IGNORE INTO workitems (uid, state, transaction_uid, dataset, priority_rank, scheduled_at, version) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(record.sopInstanceUID, record.state, record.transactionUID ?? null, JSON.stringify(record.dataset), record.priorityRank, record.scheduledAt, record.version);
    return result.changes === 1;
  }

  async get(sopInstanceUID: string): Promise<WorkitemRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM workitems WHERE uid = ?').get(sopInstanceUID) as Row | undefined;
    return row && fromRow(row);
  }

  async replace(record: WorkitemRecord): Promise<boolean> {
    const result = this.db
      .prepare('UPDATE workitems SET state = ?, transaction_uid = ?, dataset = ?, priority_rank = ?, scheduled_at = ?, version = ? WHERE uid = ? AND version = ?')
      .run(record.state, record.transactionUID ?? null, JSON.stringify(record.dataset), record.priorityRank, record.scheduledAt, record.version, record.sopInstanceUID, record.version - 1);
    return result.changes === 1;
  }

  async *list(): AsyncIterable<WorkitemRecord> {
    const page = this.db.prepare(
      'SELECT * FROM workitems WHERE (priority_rank, scheduled_at, uid) > (?, ?, ?) ORDER BY priority_rank, scheduled_at, uid LIMIT ?',
    );
    let after: [number, string, string] = [-1, '', ''];
    for (;;) {
      const rows = page.all(...after, PAGE) as Row[];
      for (const row of rows) yield fromRow(row);
      if (rows.length < PAGE) return;
      const last = rows[rows.length - 1];
      after = [last.priority_rank, last.scheduled_at, last.uid];
    }
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
