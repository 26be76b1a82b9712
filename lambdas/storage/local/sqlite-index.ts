// ArchiveIndex in an embedded SQLite database. Durability: the write-ahead log is flushed with a group
// fsync off the event loop before any commit is reported, so a reported store survives a crash.
// Columns hold what queries narrow on; the DICOM JSON of each level is kept whole so that every
// match is decided by the one matcher in dicom/matching.ts.
import type Database from 'better-sqlite3';
import { firstString, type DicomJson, type PersonNameJson } from '../../dicom/json-model.js';
import { compileFilter } from '../../dicom/matching.js';
import { Tag, tagToHex } from '../../dicom/tags.js';
import { openGroupSyncedDatabase } from './durable-database.js';
import { TurnBatch } from './turn-batch.js';
import type { GroupFsync } from './group-fsync.js';
import { QUERY_KEY_PAGE, QUERY_SHAPES, QUERY_CHUNK_ROWS, assemble, narrow, type Row } from './sqlite-query.js';
import type { ArchiveIndex, CommitResult, DuplicatePolicy, IndexQuery, InstanceRecord, MetadataRow, QueryLevel, QueryMatch, ReferenceScope, StoredInstance } from '../ports.js';
import { RecentlyUsed } from '../recently-used.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS studies (
  study_uid TEXT PRIMARY KEY,
  patient_id TEXT, patient_name TEXT, accession_number TEXT, study_date TEXT, study_id TEXT,
  attrs TEXT NOT NULL,
  modalities TEXT NOT NULL DEFAULT '', sop_classes TEXT NOT NULL DEFAULT '',
  num_series INTEGER NOT NULL DEFAULT 0, num_instances INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS studies_patient_id ON studies(patient_id);
CREATE INDEX IF NOT EXISTS studies_patient_name ON studies(patient_name);
CREATE INDEX IF NOT EXISTS studies_accession ON studies(accession_number);
CREATE INDEX IF NOT EXISTS studies_date ON studies(study_date);
CREATE TABLE IF NOT EXISTS series (
  series_uid TEXT PRIMARY KEY,
  study_uid TEXT NOT NULL,
  modality TEXT, series_number INTEGER,
  attrs TEXT NOT NULL,
  num_instances INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS series_study ON series(study_uid);
CREATE INDEX IF NOT EXISTS series_modality ON series(modality);
CREATE TABLE IF NOT EXISTS instances (
  sop_uid TEXT PRIMARY KEY,
  series_uid TEXT NOT NULL, study_uid TEXT NOT NULL,
  sop_class_uid TEXT NOT NULL, instance_number INTEGER,
  blob_key TEXT NOT NULL, sha256 TEXT NOT NULL,
  record TEXT NOT NULL,
  attrs TEXT NOT NULL,
  metadata TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_series ON instances(series_uid, instance_number);
CREATE INDEX IF NOT EXISTS instances_study ON instances(study_uid);
CREATE INDEX IF NOT EXISTS instances_blob ON instances(blob_key);
-- Access paths for searches a plain column cannot serve: any name group's prefix, a modality in the study;
-- both walk in study order, so a page of matches costs a page of rows.
CREATE TABLE IF NOT EXISTS study_names (name TEXT NOT NULL, study_rowid INTEGER NOT NULL, PRIMARY KEY (name, study_rowid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS study_names_study ON study_names(study_rowid);
CREATE TABLE IF NOT EXISTS study_modalities (modality TEXT NOT NULL, study_rowid INTEGER NOT NULL, PRIMARY KEY (modality, study_rowid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS study_modalities_study ON study_modalities(study_rowid);
`;

/** First value as text (a person name's alphabetic group), or null for the database. */
const first = (json: DicomJson, tag: number): string | null => firstString(json, tag) ?? null;

/** Every component group of the patient's names, upper-cased, each after an "=": "=DOE^JOHN=...". */
function personNameKey(json: DicomJson): string | null {
  const groups = nameGroups(json);
  return groups.length ? groups.map((g) => `=${g}`).join('') : null;
}

/** The component groups of the patient's names, upper-cased: what a name search matches the start of. */
function nameGroups(json: DicomJson): string[] {
  const values = (json[tagToHex(Tag.PatientName)]?.Value ?? []) as Array<PersonNameJson | null>;
  const groups = values.flatMap((v) => (v ? [v.Alphabetic, v.Ideographic, v.Phonetic] : [])).filter((g): g is string => !!g);
  return [...new Set(groups.map((g) => g.toUpperCase()))];
}

/** Adds a value to a sorted, backslash-separated set. */
function addToSet(values: string, value: string | null): string {
  if (!value) return values;
  const set = new Set(values ? values.split('\\') : []);
  set.add(value);
  return [...set].sort().join('\\');
}

const withoutHeavy = (r: InstanceRecord): StoredInstance => {
  const { metadata: _m, instanceAttributes: _i, studyAttributes: _s, seriesAttributes: _se, ...rest } = r;
  return rest;
};

/** Records longer than this (frame layouts of thousands of frames) are parsed once and kept. */
const LARGE_RECORD_BYTES = 64 * 1024;

export class SqliteIndex implements ArchiveIndex {
  private readonly db: Database.Database;

  private readonly walSync: GroupFsync;

  constructor(file: string) {
    // SQLite itself does not fsync at commit; walSync does, before we answer.
    ({ db: this.db, walSync: this.walSync } = openGroupSyncedDatabase(file, SCHEMA));
    this.fillAccessPaths();
  }

  /**
   * An index written before the name and modality tables gets them once, from its studies and series
   * (schema version 1 in SQLite's user_version says they are there).
   */
  private fillAccessPaths(): void {
    if ((this.db.pragma('user_version', { simple: true }) as number) >= 1) return;
    this.db.transaction(() => {
      const page = this.db.prepare('SELECT rowid, attrs FROM studies WHERE rowid > ? ORDER BY rowid LIMIT 1000');
      for (let rows = page.all(-Infinity) as Row[]; rows.length; rows = page.all(rows[rows.length - 1].rowid) as Row[]) {
        for (const row of rows) this.indexNames(row.rowid as number, JSON.parse(row.attrs as string) as DicomJson);
      }
      this.db.exec('INSERT OR IGNORE INTO study_modalities (modality, study_rowid) SELECT DISTINCT se.modality, st.rowid FROM series se JOIN studies st ON st.study_uid = se.study_uid WHERE se.modality IS NOT NULL');
      this.db.pragma('user_version = 1');
    })();
  }

  /** Every instance of a study repeats its names: they are rewritten only when they changed. */
  private indexNames(studyRowid: number, studyAttributes: DicomJson): void {
    const names = nameGroups(studyAttributes).sort();
    const indexed = this.stmt('SELECT name FROM study_names WHERE study_rowid = ? ORDER BY name').pluck().all(studyRowid) as string[];
    if (indexed.length === names.length && indexed.every((n, i) => n === names[i])) return;
    this.stmt('DELETE FROM study_names WHERE study_rowid = ?').run(studyRowid);
    for (const name of names) this.stmt('INSERT INTO study_names (name, study_rowid) VALUES (?, ?)').run(name, studyRowid);
  }

  /** Parsed records of many frames, by row and content (a replaced instance is another key). */
  private readonly largeRecords = new RecentlyUsed<StoredInstance>(8);
  private readonly commits = new TurnBatch<{ record: InstanceRecord; policy: DuplicatePolicy; done: (r: CommitResult) => void; fail: (e: unknown) => void }>((batch) => this.flush(batch));

  /**
   * Group commit: the commits that arrive within one turn of the event loop share one transaction,
   * and so one fsync of the write-ahead log. Each still gets its own outcome.
   */
  commitInstance(record: InstanceRecord, policy: DuplicatePolicy): Promise<CommitResult> {
    return new Promise((done, fail) => this.commits.add({ record, policy, done, fail }));
  }

  private flush(batch: Array<{ record: InstanceRecord; policy: DuplicatePolicy; done: (r: CommitResult) => void; fail: (e: unknown) => void }>): void {
    const outcomes: Array<{ ok: true; result: CommitResult } | { ok: false; error: unknown }> = [];
    try {
      const results = this.db.transaction(() => batch.map((p) => this.commitOne(p.record, p.policy))).immediate();
      results.forEach((result) => outcomes.push({ ok: true, result }));
    } catch {
      // One commit failed and rolled the batch back: commit each alone, so only the faulty one fails.
      outcomes.length = 0;
      for (const p of batch) {
        try {
          outcomes.push({ ok: true, result: this.db.transaction(() => this.commitOne(p.record, p.policy)).immediate() });
        } catch (error) {
          outcomes.push({ ok: false, error });
        }
      }
    }
    this.walSync.sync().then(
      () => batch.forEach((p, i) => { const o = outcomes[i]; if (o.ok) p.done(o.result); else p.fail(o.error); }),
      (error: unknown) => batch.forEach((p) => p.fail(error)),
    );
  }

  private commitOne(record: InstanceRecord, policy: DuplicatePolicy): CommitResult {
    const existing = this.stmt('SELECT sha256, blob_key, series_uid, study_uid FROM instances WHERE sop_uid = ?').get(record.sopInstanceUID) as Row | undefined;
    if (existing) {
      if (existing.sha256 === record.sha256) return { outcome: 'identical' };
      if (policy === 'reject') return { outcome: 'conflict', reason: 'an instance with this SOP Instance UID and different content is already stored' };
    }
    const seriesOwner = this.stmt('SELECT study_uid FROM series WHERE series_uid = ?').get(record.seriesInstanceUID) as Row | undefined;
    if (seriesOwner && seriesOwner.study_uid !== record.studyInstanceUID) {
      return { outcome: 'conflict', reason: `Series ${record.seriesInstanceUID} already belongs to study ${seriesOwner.study_uid}` };
    }
    if (existing) {
      this.stmt('DELETE FROM instances WHERE sop_uid = ?').run(record.sopInstanceUID);
      this.refreshCounts(existing.study_uid as string, [existing.series_uid as string]);
    }
    const study = record.studyAttributes;
    this.stmt(
      `INSERT INTO studies (study_uid, patient_id, patient_name, accession_number, study_date, study_id, attrs)
       VALUES (@uid, @pid, @pname, @acc, @date, @sid, @attrs)
       ON CONFLICT(study_uid) DO UPDATE SET patient_id = @pid, patient_name = @pname, accession_number = @acc,
         study_date = @date, study_id = @sid, attrs = @attrs`,
    ).run({
      uid: record.studyInstanceUID,
      pid: first(study, Tag.PatientID),
      pname: personNameKey(study),
      acc: first(study, Tag.AccessionNumber),
      date: first(study, Tag.StudyDate),
      sid: first(study, Tag.StudyID),
      attrs: JSON.stringify(study),
    });
    const seriesNumber = Number(first(record.seriesAttributes, Tag.SeriesNumber));
    const modality = first(record.seriesAttributes, Tag.Modality);
    const newSeries = !this.stmt('SELECT 1 FROM series WHERE series_uid = ?').get(record.seriesInstanceUID);
    this.stmt(
      `INSERT INTO series (series_uid, study_uid, modality, series_number, attrs) VALUES (@uid, @study, @modality, @num, @attrs)
       ON CONFLICT(series_uid) DO UPDATE SET modality = @modality, series_number = @num, attrs = @attrs`,
    ).run({
      uid: record.seriesInstanceUID,
      study: record.studyInstanceUID,
      modality,
      num: Number.isFinite(seriesNumber) ? seriesNumber : null,
      attrs: JSON.stringify(record.seriesAttributes),
    });
    const instanceNumber = Number(first(record.instanceAttributes, Tag.InstanceNumber));
    this.stmt(
      `INSERT INTO instances (sop_uid, series_uid, study_uid, sop_class_uid, instance_number, blob_key, sha256, record, attrs, metadata)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      record.sopInstanceUID,
      record.seriesInstanceUID,
      record.studyInstanceUID,
      record.sopClassUID,
      Number.isFinite(instanceNumber) ? instanceNumber : null,
      record.blobKey,
      record.sha256,
      JSON.stringify(withoutHeavy(record)),
      JSON.stringify(record.instanceAttributes),
      JSON.stringify(record.metadata),
    );
    // Derived attributes are kept up to date incrementally; only removals recompute them.
    this.stmt('UPDATE series SET num_instances = num_instances + 1 WHERE series_uid = ?').run(record.seriesInstanceUID);
    const counts = this.stmt('SELECT rowid, modalities, sop_classes FROM studies WHERE study_uid = ?').get(record.studyInstanceUID) as Row;
    this.indexNames(counts.rowid as number, study);
    if (modality) this.stmt('INSERT OR IGNORE INTO study_modalities (modality, study_rowid) VALUES (?, ?)').run(modality, counts.rowid);
    this.stmt('UPDATE studies SET num_instances = num_instances + 1, num_series = num_series + ?, modalities = ?, sop_classes = ? WHERE study_uid = ?').run(
      newSeries ? 1 : 0,
      addToSet(counts.modalities as string, modality),
      addToSet(counts.sop_classes as string, record.sopClassUID),
      record.studyInstanceUID,
    );
    return existing ? { outcome: 'replaced', previousBlobKey: existing.blob_key as string } : { outcome: 'stored' };
  }

  private readonly statements = new Map<string, Database.Statement>();
  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /** Recomputes the derived attributes of a study and some of its series; drops levels left empty. */
  private refreshCounts(studyUid: string, seriesUids: string[]): void {
    for (const seriesUid of seriesUids) {
      const n = (this.db.prepare('SELECT COUNT(*) AS n FROM instances WHERE series_uid = ?').get(seriesUid) as Row).n as number;
      if (n === 0) this.db.prepare('DELETE FROM series WHERE series_uid = ?').run(seriesUid);
      else this.db.prepare('UPDATE series SET num_instances = ? WHERE series_uid = ?').run(n, seriesUid);
    }
    const counts = this.db
      .prepare('SELECT COUNT(*) AS n, COUNT(DISTINCT series_uid) AS s FROM instances WHERE study_uid = ?')
      .get(studyUid) as Row;
    const studyRowid = (this.db.prepare('SELECT rowid FROM studies WHERE study_uid = ?').get(studyUid) as Row | undefined)?.rowid ?? null;
    this.db.prepare('DELETE FROM study_modalities WHERE study_rowid = ?').run(studyRowid);
    if ((counts.n as number) === 0) {
      this.db.prepare('DELETE FROM study_names WHERE study_rowid = ?').run(studyRowid);
      this.db.prepare('DELETE FROM studies WHERE study_uid = ?').run(studyUid);
      return;
    }
    const modalities = (this.db.prepare('SELECT DISTINCT modality FROM series WHERE study_uid = ? AND modality IS NOT NULL ORDER BY modality').all(studyUid) as Row[]).map((r) => r.modality);
    for (const modality of modalities) this.db.prepare('INSERT INTO study_modalities (modality, study_rowid) VALUES (?, ?)').run(modality, studyRowid);
    const classes = (this.db.prepare('SELECT DISTINCT sop_class_uid FROM instances WHERE study_uid = ? ORDER BY sop_class_uid').all(studyUid) as Row[]).map((r) => r.sop_class_uid);
    this.db
      .prepare('UPDATE studies SET num_series = ?, num_instances = ?, modalities = ?, sop_classes = ? WHERE study_uid = ?')
      .run(counts.s, counts.n, modalities.join('\\'), classes.join('\\'), studyUid);
  }

  async listInstances(scope: ReferenceScope): Promise<StoredInstance[]> {
    const { where, params } = scopeWhere(scope, 'i');
    // Records of many frames (a whole-slide image's 40,000 tiles) take tens of milliseconds to parse: they are
    // read once and kept while their row is unchanged, so that each tile request does not parse them again.
    const rows = this.db
      .prepare(
        `SELECT i.rowid, i.sha256, CASE WHEN octet_length(i.record) > ${LARGE_RECORD_BYTES} THEN NULL ELSE i.record END AS record
         FROM instances i LEFT JOIN series s ON s.series_uid = i.series_uid
         WHERE ${where} ORDER BY s.series_number, i.series_uid, i.instance_number, i.sop_uid`,
      )
      .all(...params) as Row[];
    return Promise.all(
      rows.map((r) =>
        r.record !== null
          ? (JSON.parse(r.record as string) as StoredInstance)
          : this.largeRecords.get(`${r.rowid as number}:${r.sha256 as string}`, () => JSON.parse((this.stmt('SELECT record FROM instances WHERE rowid = ?').get(r.rowid) as Row).record as string) as StoredInstance),
      ),
    );
  }

  async *metadataJsonPages(scope: ReferenceScope, pageSize: number): AsyncGenerator<MetadataRow[]> {
    // The order is taken once from the keys alone (sorting whole rows would carry their metadata along);
    // each page's metadata is then read by key.
    const { where, params } = scopeWhere(scope, 'i');
    const keys = (this.db
      .prepare(`SELECT i.sop_uid FROM instances i LEFT JOIN series s ON s.series_uid = i.series_uid WHERE ${where} ORDER BY s.series_number, i.series_uid, i.instance_number, i.sop_uid`)
      .pluck()
      .all(...params) as string[]);
    for (let at = 0; at < keys.length; at += pageSize) {
      const page = keys.slice(at, at + pageSize);
      const rows = this.db.prepare(`SELECT sop_uid, series_uid, metadata FROM instances WHERE sop_uid IN (${page.map(() => '?').join(',')})`).all(...page) as Row[];
      const bySop = new Map(rows.map((r) => [r.sop_uid as string, { sopInstanceUID: r.sop_uid as string, seriesInstanceUID: r.series_uid as string, json: r.metadata as string }]));
      // An instance deleted between the two reads is left out.
      yield page.flatMap((sop) => bySop.get(sop) ?? []);
    }
  }

  async metadataJson(scope: ReferenceScope): Promise<MetadataRow[]> {
    const { where, params } = scopeWhere(scope, 'i');
    return (this.db
      .prepare(
        `SELECT i.sop_uid, i.series_uid, i.metadata FROM instances i LEFT JOIN series s ON s.series_uid = i.series_uid
         WHERE ${where} ORDER BY s.series_number, i.series_uid, i.instance_number, i.sop_uid`,
      )
      .all(...params) as Row[]).map((r) => ({ sopInstanceUID: r.sop_uid as string, seriesInstanceUID: r.series_uid as string, json: r.metadata as string }));
  }

  async *query(q: IndexQuery): AsyncGenerator<QueryMatch> {
    const matchers = q.filters.map((f) => compileFilter(f, tagToHex(f.tag), q.fuzzy));
    const conditions: string[] = [];
    const params: unknown[] = [];
    for (const f of q.filters) narrow(f, q.level, q.fuzzy, conditions, params);
    if (q.studyInstanceUID) {
      conditions.push('st.study_uid = ?');
      params.push(q.studyInstanceUID);
    }
    if (q.seriesInstanceUID) {
      conditions.push('se.series_uid = ?');
      params.push(q.seriesInstanceUID);
    }
    const shape = QUERY_SHAPES[q.level];
    // The keys first (small), then the attributes a few rows at a time between yields: no statement stays
    // open while the consumer awaits, and only a handful of rows' attributes are in memory at once.
    // One statement per level and chunk size, prepared once (the class's statement cache).
    const read = (chunk: number[]) => this.stmt(`SELECT ${shape.key} AS row_key, ${shape.columns} ${shape.from} WHERE ${shape.key} IN (${chunk.map(() => '?').join(',')})`).all(...chunk) as Row[];
    let skipped = 0;
    let yielded = 0;
    for (const keys of this.keyPages(q.level, conditions, params)) {
      for (let start = 0; start < keys.length; start += QUERY_CHUNK_ROWS) {
        const chunk = keys.slice(start, start + QUERY_CHUNK_ROWS);
        const rows = new Map(read(chunk).map((r) => [r.row_key as number, r]));
        for (const key of chunk) {
          const row = rows.get(key);
          if (!row) continue; // deleted since the keys were read
          const attributes = assemble(row);
          if (!matchers.every((m) => m(attributes))) continue;
          if (skipped < q.offset) {
            skipped++;
            continue;
          }
          yield {
            attributes,
            studyInstanceUID: row.study_uid as string,
            seriesInstanceUID: row.series_uid as string | undefined,
            sopInstanceUID: row.sop_uid as string | undefined,
          };
          if (++yielded >= q.limit) return;
        }
      }
    }
  }

  /**
   * The matching rows' keys in answer order. Studies and series (ordered by their own key) come a page at
   * a time after the last key seen, so a query whose first matches fill its limit reads no more than that
   * of a million rows; instances (ordered by series, then number) come all at once.
   */
  private *keyPages(level: QueryLevel, conditions: string[], params: unknown[]): Generator<number[]> {
    const shape = QUERY_SHAPES[level];
    const where = (extra: string[]) => (extra.length ? `WHERE ${extra.join(' AND ')}` : '');
    if (level === 'instance') {
      yield this.db.prepare(`SELECT ${shape.key} ${shape.from} ${where(conditions)} ORDER BY ${shape.order}`).pluck().all(...params) as number[];
      return;
    }
    const page = this.db.prepare(`SELECT ${shape.key} ${shape.from} ${where([...conditions, `${shape.key} > ?`])} ORDER BY ${shape.order} LIMIT ${QUERY_KEY_PAGE}`).pluck();
    for (let after = -Infinity; ; ) {
      const keys = page.all(...params, after) as number[];
      if (keys.length) yield keys;
      if (keys.length < QUERY_KEY_PAGE) return;
      after = keys[keys.length - 1];
    }
  }

  async deleteInstances(scope: ReferenceScope): Promise<string[]> {
    const removed = this.db.transaction(() => {
      const { where, params } = scopeWhere(scope, 'i');
      const rows = this.db.prepare(`SELECT i.sop_uid, i.series_uid, i.blob_key FROM instances i WHERE ${where}`).all(...params) as Row[];
      if (rows.length === 0) return [];
      this.db.prepare(`DELETE FROM instances AS i WHERE ${where}`).run(...params);
      this.refreshCounts(scope.studyInstanceUID, [...new Set(rows.map((r) => r.series_uid as string))]);
      return rows.map((r) => r.blob_key as string);
    }).immediate();
    if (removed.length) await this.walSync.sync();
    return removed;
  }

  async referencesBlob(key: string): Promise<boolean> {
    return this.db.prepare('SELECT 1 FROM instances WHERE blob_key = ? LIMIT 1').get(key) !== undefined;
  }

  async close(): Promise<void> {
    await this.walSync.close();
    this.db.close();
  }
}

function scopeWhere(scope: ReferenceScope, alias: string): { where: string; params: string[] } {
  const parts = [`${alias}.study_uid = ?`];
  const params = [scope.studyInstanceUID];
  if (scope.seriesInstanceUID) {
    parts.push(`${alias}.series_uid = ?`);
    params.push(scope.seriesInstanceUID);
  }
  if (scope.sopInstanceUID) {
    parts.push(`${alias}.sop_uid = ?`);
    params.push(scope.sopInstanceUID);
  }
  return { where: parts.join(' AND '), params };
}
