// De-identified export jobs in SQLite (exports.sqlite beside the index): one row a job, as JSON.
import type Database from 'better-sqlite3';
import type { ExportJob, ExportJobStore, ExportManifestEntry } from '../ports.js';
import { openDurableDatabase } from './durable-database.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS export_jobs (
  id TEXT PRIMARY KEY,
  created_at TEXT NOT NULL,
  job TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS export_jobs_created ON export_jobs(created_at);
CREATE TABLE IF NOT EXISTS export_manifest (
  job_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  entry TEXT NOT NULL,
  PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
`;

/** Manifest rows read per statement, so that a cohort of thousands is never held at once. */
const PAGE = 500;

export class SqliteExportJobs implements ExportJobStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = openDurableDatabase(file, SCHEMA);
  }

  async put(job: ExportJob): Promise<void> {
    this.db.prepare('INSERT INTO export_jobs (id, created_at, job) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET job = excluded.job').run(job.id, job.createdAt, JSON.stringify(job));
  }

  async get(id: string): Promise<ExportJob | undefined> {
    const row = this.db.prepare('SELECT job FROM export_jobs WHERE id = ?').pluck().get(id) as string | undefined;
    return row ? (JSON.parse(row) as ExportJob) : undefined;
  }

  async list(limit: number): Promise<ExportJob[]> {
    return (this.db.prepare('SELECT job FROM export_jobs ORDER BY created_at DESC, id DESC LIMIT ?').pluck().all(limit) as string[]).map((j) => JSON.parse(j) as ExportJob);
  }

  async addManifestEntries(id: string, entries: ExportManifestEntry[]): Promise<void> {
    this.db.transaction(() => {
      let seq = ((this.db.prepare('SELECT max(seq) FROM export_manifest WHERE job_id = ?').pluck().get(id) as number | null) ?? -1) + 1;
      const insert = this.db.prepare('INSERT INTO export_manifest (job_id, seq, entry) VALUES (?, ?, ?)');
      for (const e of entries) insert.run(id, seq++, JSON.stringify(e));
    })();
  }

  async *manifest(id: string): AsyncIterable<ExportManifestEntry> {
    const page = this.db.prepare('SELECT seq, entry FROM export_manifest WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?');
    for (let after = -1; ; ) {
      const rows = page.all(id, after, PAGE) as Array<{ seq: number; entry: string }>;
      for (const r of rows) yield JSON.parse(r.entry) as ExportManifestEntry;
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1].seq;
    }
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
