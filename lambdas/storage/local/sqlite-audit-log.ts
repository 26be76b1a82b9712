// The audit trail in SQLite (audit.sqlite beside the index): append-only — triggers refuse any UPDATE or
// DELETE, so neither the archive nor a slip in its code can change a record — and hash-chained: each row
// holds SHA-256(previous row's chain ‖ record), so an edit made around SQLite (another tool, the file
// itself) shows in verify(). Records are found by patient, study and user through a key table.
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { auditKeys, type AuditLog, type AuditQuery, type AuditRecord } from '../ports.js';
import { openGroupSyncedDatabase } from './durable-database.js';
import { TurnBatch } from './turn-batch.js';
import type { GroupFsync } from './group-fsync.js';

const APPEND_ONLY = (table: string) => `
CREATE TRIGGER IF NOT EXISTS ${table}_no_update BEFORE UPDATE ON ${table} BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS ${table}_no_delete BEFORE DELETE ON ${table} BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  at TEXT NOT NULL,
  record TEXT NOT NULL,
  chain TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
CREATE TABLE IF NOT EXISTS audit_keys (
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (kind, value, seq)
) WITHOUT ROWID;
${APPEND_ONLY('audit')}
${APPEND_ONLY('audit_keys')}
`;

const GENESIS = '0'.repeat(64);
const chainOf = (previous: string, record: string) => createHash('sha256').update(previous).update(record).digest('hex');

/** Rows read per statement while searching, so that a long trail is never held at once. */
const PAGE = 100;

export class SqliteAuditLog implements AuditLog {
  private readonly db: Database.Database;
  private readonly walSync: GroupFsync;

  constructor(file: string) {
    // SQLite does not fsync at commit; walSync does, before append resolves.
    ({ db: this.db, walSync: this.walSync } = openGroupSyncedDatabase(file, SCHEMA));
  }

  private readonly appends = new TurnBatch<{ record: AuditRecord; done: () => void; fail: (e: unknown) => void }>((batch) => this.flush(batch));

  /**
   * Group commit, as the index's: the records appended within one turn of the event loop share one
   * transaction (IMMEDIATE: the chain is read and extended with no other writer between) and one fsync.
   */
  append(record: AuditRecord): Promise<void> {
    return new Promise((done, fail) => this.appends.add({ record, done, fail }));
  }

  private flush(batch: Array<{ record: AuditRecord; done: () => void; fail: (e: unknown) => void }>): void {
    try {
      this.db
        .transaction(() => {
          let previous = (this.db.prepare('SELECT chain FROM audit ORDER BY seq DESC LIMIT 1').pluck().get() as string | undefined) ?? GENESIS;
          const insert = this.db.prepare('INSERT INTO audit (id, at, record, chain) VALUES (?, ?, ?, ?)');
          const key = this.db.prepare('INSERT OR IGNORE INTO audit_keys (kind, value, seq) VALUES (?, ?, ?)');
          for (const { record } of batch) {
            const json = JSON.stringify(record);
            previous = chainOf(previous, json);
            const { lastInsertRowid } = insert.run(record.id, record.EventIdentification.EventDateTime, json, previous);
            const keys = auditKeys(record);
            for (const v of keys.patients) key.run('patient', v, lastInsertRowid);
            for (const v of keys.studies) key.run('study', v, lastInsertRowid);
            for (const v of keys.users) key.run('user', v, lastInsertRowid);
          }
        })
        .immediate();
    } catch (error) {
      for (const p of batch) p.fail(error);
      return;
    }
    this.walSync.sync().then(
      () => batch.forEach((p) => p.done()),
      (error: unknown) => batch.forEach((p) => p.fail(error)),
    );
  }

  async *search(query: AuditQuery): AsyncIterable<AuditRecord> {
    const where: string[] = ['a.seq < @before'];
    const params: Record<string, string | number> = {};
    const byKey = (kind: string, value: string | undefined) => {
      if (value === undefined) return;
      where.push(`EXISTS (SELECT 1 FROM audit_keys k WHERE k.kind = '${kind}' AND k.value = @${kind} AND k.seq = a.seq)`);
      params[kind] = value;
    };
    byKey('patient', query.patientID);
    byKey('study', query.studyInstanceUID);
    byKey('user', query.userID);
    if (query.since) (where.push('a.at >= @since'), (params.since = query.since));
    if (query.until) (where.push('a.at <= @until'), (params.until = query.until));
    const page = this.db.prepare(`SELECT a.seq, a.record FROM audit a WHERE ${where.join(' AND ')} ORDER BY a.seq DESC LIMIT ${PAGE}`);
    for (let before = Number.MAX_SAFE_INTEGER; ; ) {
      const rows = page.all({ ...params, before }) as Array<{ seq: number; record: string }>;
      for (const row of rows) yield JSON.parse(row.record) as AuditRecord;
      if (rows.length < PAGE) return;
      before = rows[rows.length - 1].seq;
    }
  }

  /** Recomputes the chain: the first record whose row no longer matches what was appended, if any. */
  verify(): { records: number; brokenAt?: string } {
    let previous = GENESIS;
    let records = 0;
    for (const row of this.db.prepare('SELECT id, record, chain FROM audit ORDER BY seq').iterate() as Iterable<{ id: string; record: string; chain: string }>) {
      previous = chainOf(previous, row.record);
      if (previous !== row.chain) return { records, brokenAt: row.id };
      records += 1;
    }
    return { records };
  }

  async close(): Promise<void> {
    await this.walSync.close();
    this.db.close();
  }
}
