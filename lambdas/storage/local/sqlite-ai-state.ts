// AiStateStore for local mode: one SQLite file beside the archive index.
import Database from 'better-sqlite3';
import { openDurableDatabase } from './durable-database.js';
import type {
  AiStateStore,
  AnalyserRecord,
  AnalysisJob,
  AnalysisResult,
  ChangeLogEntry,
  Feedback,
  ModelRecord,
  StudyActivity,
  WorklistItem,
} from '../../ai/ports.js';
import { PRIORITY_RANK, jobKey } from '../../ai/ports.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS study_activity (
  study_uid TEXT PRIMARY KEY, revision INTEGER NOT NULL, state TEXT NOT NULL, last_change_at TEXT NOT NULL,
  dispatched_at TEXT
);
CREATE INDEX IF NOT EXISTS study_activity_due ON study_activity(state, last_change_at);
CREATE TABLE IF NOT EXISTS dispatched_jobs (
  key TEXT PRIMARY KEY, study_uid TEXT NOT NULL, revision INTEGER NOT NULL, job TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dispatched_jobs_study ON dispatched_jobs(study_uid, revision);
CREATE TABLE IF NOT EXISTS results (
  key TEXT PRIMARY KEY, study_uid TEXT NOT NULL, revision INTEGER NOT NULL, analyser_id TEXT NOT NULL,
  created_at TEXT NOT NULL, result TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS results_study ON results(study_uid, revision);
CREATE INDEX IF NOT EXISTS results_analyser ON results(analyser_id, created_at);
CREATE TABLE IF NOT EXISTS worklist (
  study_uid TEXT PRIMARY KEY, priority_rank INTEGER NOT NULL, state TEXT NOT NULL, waiting_since TEXT NOT NULL, item TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS worklist_order ON worklist(priority_rank, waiting_since);
CREATE TABLE IF NOT EXISTS feedback (
  id INTEGER PRIMARY KEY AUTOINCREMENT, result_key TEXT NOT NULL, feedback TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_result ON feedback(result_key);
CREATE TABLE IF NOT EXISTS analysers (id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS analyser_changes (
  id INTEGER PRIMARY KEY AUTOINCREMENT, analyser_id TEXT NOT NULL, entry TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS models (sha256 TEXT PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT NULL, record TEXT NOT NULL);
`;

type Row = Record<string, unknown>;
const parse = <T>(row: Row | undefined, column: string): T | undefined => (row ? (JSON.parse(row[column] as string) as T) : undefined);

export class SqliteAiState implements AiStateStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = openDurableDatabase(file, SCHEMA);
    // Data directories from before dispatch times were recorded.
    const columns = (this.db.prepare('PRAGMA table_info(study_activity)').all() as Row[]).map((c) => c.name);
    if (!columns.includes('dispatched_at')) this.db.exec('ALTER TABLE study_activity ADD COLUMN dispatched_at TEXT');
  }

  async recordChanges(changes: Map<string, string>): Promise<Map<string, number>> {
    const read = this.db.prepare('SELECT revision, state, dispatched_at FROM study_activity WHERE study_uid = ?');
    const write = this.db.prepare(
      `INSERT INTO study_activity (study_uid, revision, state, last_change_at) VALUES (?, ?, 'collecting', ?)
       ON CONFLICT(study_uid) DO UPDATE SET revision = excluded.revision, state = 'collecting',
         last_change_at = max(last_change_at, excluded.last_change_at)`,
    );
    return this.db.transaction(() => {
      const revisions = new Map<string, number>();
      for (const [study, at] of changes) {
        const row = read.get(study) as Row | undefined;
        // An instance stored before the revision was dispatched is part of it (its analyses read the study
        // later): a late event for it changes nothing.
        if (row && row.state === 'dispatched' && row.dispatched_at && at <= (row.dispatched_at as string)) {
          revisions.set(study, Number(row.revision));
          continue;
        }
        // A change after dispatch opens a new revision; during collection it only restarts the quiet period.
        const revision = !row ? 1 : row.state === 'dispatched' ? Number(row.revision) + 1 : Number(row.revision);
        write.run(study, revision, at);
        revisions.set(study, revision);
      }
      return revisions;
    })();
  }

  async quietStudies(before: string, limit: number): Promise<StudyActivity[]> {
    const rows = this.db
      .prepare(`SELECT * FROM study_activity WHERE state = 'collecting' AND last_change_at <= ? ORDER BY last_change_at LIMIT ?`)
      .all(before, limit) as Row[];
    return rows.map((r) => ({
      studyInstanceUID: r.study_uid as string,
      revision: Number(r.revision),
      state: r.state as StudyActivity['state'],
      lastChangeAt: r.last_change_at as string,
    }));
  }

  async markDispatched(studyInstanceUID: string, revision: number, jobs: AnalysisJob[]): Promise<boolean> {
    return this.db.transaction(() => {
      const changed = this.db
        .prepare(`UPDATE study_activity SET state = 'dispatched', dispatched_at = ? WHERE study_uid = ? AND revision = ? AND state = 'collecting'`)
        .run(new Date().toISOString(), studyInstanceUID, revision).changes;
      if (!changed) return false;
      const insert = this.db.prepare('INSERT OR IGNORE INTO dispatched_jobs (key, study_uid, revision, job) VALUES (?, ?, ?, ?)');
      for (const job of jobs) insert.run(jobKey(job), studyInstanceUID, revision, JSON.stringify(job));
      return true;
    })();
  }

  async activity(studyInstanceUID: string): Promise<StudyActivity | undefined> {
    const r = this.db.prepare('SELECT * FROM study_activity WHERE study_uid = ?').get(studyInstanceUID) as Row | undefined;
    return r
      ? { studyInstanceUID, revision: Number(r.revision), state: r.state as StudyActivity['state'], lastChangeAt: r.last_change_at as string }
      : undefined;
  }

  async forgetStudy(studyInstanceUID: string): Promise<void> {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM worklist WHERE study_uid = ?').run(studyInstanceUID);
      this.db.prepare('DELETE FROM dispatched_jobs WHERE study_uid = ? AND key NOT IN (SELECT key FROM results)').run(studyInstanceUID);
      this.db.prepare(`UPDATE study_activity SET state = 'dispatched' WHERE study_uid = ?`).run(studyInstanceUID);
    })();
  }

  async unfinishedJobs(limit: number): Promise<AnalysisJob[]> {
    const rows = this.db
      .prepare('SELECT d.job FROM dispatched_jobs d LEFT JOIN results r ON r.key = d.key WHERE r.key IS NULL LIMIT ?')
      .all(limit) as Row[];
    return rows.map((r) => JSON.parse(r.job as string) as AnalysisJob);
  }

  async pendingJobs(studyInstanceUID: string, revision: number): Promise<AnalysisJob[]> {
    const rows = this.db
      .prepare(
        `SELECT d.job FROM dispatched_jobs d LEFT JOIN results r ON r.key = d.key
         WHERE d.study_uid = ? AND d.revision = ? AND r.key IS NULL`,
      )
      .all(studyInstanceUID, revision) as Row[];
    return rows.map((r) => JSON.parse(r.job as string) as AnalysisJob);
  }

  async getResult(key: string): Promise<AnalysisResult | undefined> {
    return parse<AnalysisResult>(this.db.prepare('SELECT result FROM results WHERE key = ?').get(key) as Row | undefined, 'result');
  }

  async putResult(result: AnalysisResult): Promise<boolean> {
    const info = this.db
      .prepare('INSERT OR IGNORE INTO results (key, study_uid, revision, analyser_id, created_at, result) VALUES (?, ?, ?, ?, ?, ?)')
      .run(result.key, result.studyInstanceUID, result.revision, result.analyserId, result.createdAt, JSON.stringify(result));
    return info.changes === 1;
  }

  async resultsOf(studyInstanceUID: string, revision?: number): Promise<AnalysisResult[]> {
    const rows = (
      revision === undefined
        ? this.db.prepare('SELECT result FROM results WHERE study_uid = ? ORDER BY revision, created_at').all(studyInstanceUID)
        : this.db.prepare('SELECT result FROM results WHERE study_uid = ? AND revision = ? ORDER BY created_at').all(studyInstanceUID, revision)
    ) as Row[];
    return rows.map((r) => JSON.parse(r.result as string) as AnalysisResult);
  }

  async recentResults(analyserId: string, limit: number): Promise<AnalysisResult[]> {
    const rows = this.db
      .prepare('SELECT result FROM results WHERE analyser_id = ? ORDER BY created_at DESC LIMIT ?')
      .all(analyserId, limit) as Row[];
    return rows.map((r) => JSON.parse(r.result as string) as AnalysisResult);
  }

  async upsertWorklist(item: WorklistItem): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO worklist (study_uid, priority_rank, state, waiting_since, item) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(study_uid) DO UPDATE SET priority_rank = excluded.priority_rank, state = excluded.state, item = excluded.item`,
      )
      .run(item.studyInstanceUID, PRIORITY_RANK[item.priority], item.state, item.updatedAt, JSON.stringify(item));
  }

  async removeFromWorklist(studyInstanceUID: string): Promise<void> {
    this.db.prepare('DELETE FROM worklist WHERE study_uid = ?').run(studyInstanceUID);
  }

  async worklist(options: { state?: WorklistItem['state']; limit: number; offset: number }): Promise<WorklistItem[]> {
    // Most urgent first; within a priority, the longest waiting first.
    const rows = (
      options.state
        ? this.db
            .prepare('SELECT item, waiting_since FROM worklist WHERE state = ? ORDER BY priority_rank, waiting_since LIMIT ? OFFSET ?')
            .all(options.state, options.limit, options.offset)
        : this.db.prepare('SELECT item, waiting_since FROM worklist ORDER BY priority_rank, waiting_since LIMIT ? OFFSET ?').all(options.limit, options.offset)
    ) as Row[];
    return rows.map((r) => ({ ...(JSON.parse(r.item as string) as WorklistItem), waitingSince: r.waiting_since as string }));
  }

  async putFeedback(feedback: Feedback): Promise<void> {
    this.db.prepare('INSERT INTO feedback (result_key, feedback) VALUES (?, ?)').run(feedback.resultKey, JSON.stringify(feedback));
  }

  async feedbackFor(resultKey: string): Promise<Feedback[]> {
    const rows = this.db.prepare('SELECT feedback FROM feedback WHERE result_key = ? ORDER BY id').all(resultKey) as Row[];
    return rows.map((r) => JSON.parse(r.feedback as string) as Feedback);
  }

  async putAnalyser(record: AnalyserRecord, change: Omit<ChangeLogEntry, 'analyserId' | 'at'>): Promise<void> {
    const entry: ChangeLogEntry = { analyserId: record.id, at: new Date().toISOString(), ...change };
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO analysers (id, record) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET record = excluded.record').run(record.id, JSON.stringify(record));
      this.db.prepare('INSERT INTO analyser_changes (analyser_id, entry) VALUES (?, ?)').run(record.id, JSON.stringify(entry));
    })();
  }

  async analysers(): Promise<AnalyserRecord[]> {
    return (this.db.prepare('SELECT record FROM analysers ORDER BY id').all() as Row[]).map((r) => JSON.parse(r.record as string) as AnalyserRecord);
  }

  async changeLog(analyserId: string): Promise<ChangeLogEntry[]> {
    const rows = this.db.prepare('SELECT entry FROM analyser_changes WHERE analyser_id = ? ORDER BY id').all(analyserId) as Row[];
    return rows.map((r) => JSON.parse(r.entry as string) as ChangeLogEntry);
  }

  async putModel(record: ModelRecord): Promise<void> {
    this.db
      .prepare('INSERT OR IGNORE INTO models (sha256, name, version, record) VALUES (?, ?, ?, ?)')
      .run(record.sha256, record.name, record.version, JSON.stringify(record));
  }

  async models(): Promise<ModelRecord[]> {
    return (this.db.prepare('SELECT record FROM models ORDER BY name, version').all() as Row[]).map((r) => JSON.parse(r.record as string) as ModelRecord);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
