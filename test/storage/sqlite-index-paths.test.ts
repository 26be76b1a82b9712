// The local index's access paths for large indexes: answers paged by key (more studies than one page of
// keys), name-prefix and modality searches through their own tables — kept right through deletions, and
// built once for an index written before they existed.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Tag } from '../../lambdas/dicom/tags.js';
import { SqliteIndex } from '../../lambdas/storage/local/sqlite-index.js';
import { QUERY_KEY_PAGE } from '../../lambdas/storage/local/sqlite-query.js';
import type { IndexQuery, QueryMatch } from '../../lambdas/storage/ports.js';
import { instanceRecord, modalityOf, patientNameOf, studyUidOf } from '../helpers/hospital-records.js';

const STUDIES = QUERY_KEY_PAGE * 2 + 100;
const sopOf = (s: number, k: number) => `2.25.6${String(s).padStart(6, '0')}${k}`;

describe('the SQLite index at more than a page of keys', () => {
  let dir: string;
  let file: string;
  let index: SqliteIndex;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'index-paths-'));
    file = join(dir, 'index.sqlite');
    index = new SqliteIndex(file);
    // One study a patient name group, two series each of a modality of its own.
    await Promise.all(Array.from({ length: STUDIES }, (_, s) => [0, 1].map((k) => index.commitInstance(instanceRecord(s, k, 0, sopOf(s, k)), 'reject'))).flat());
  });
  afterEach(async () => {
    await index.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const all = async (query: Partial<IndexQuery>): Promise<QueryMatch[]> => {
    const out: QueryMatch[] = [];
    for await (const m of index.query({ level: 'study', filters: [], fuzzy: false, limit: 100_000, offset: 0, ...query })) out.push(m);
    return out;
  };
  const byName = (prefix: string) => all({ filters: [{ tag: Tag.PatientName, vr: 'PN', value: `${prefix}*` }] });
  const byModality = (modality: string) => all({ filters: [{ tag: Tag.ModalitiesInStudy, vr: 'CS', value: modality }] });
  const expectedByModality = (modality: string) => Array.from({ length: STUDIES }, (_, s) => s).filter((s) => [0, 1].some((k) => modalityOf(s, k) === modality)).map(studyUidOf);

  it('answers every study once, in order, across pages of keys and with offsets inside later pages', async () => {
    const everything = await all({});
    expect(everything.map((m) => m.studyInstanceUID)).toEqual(Array.from({ length: STUDIES }, (_, s) => studyUidOf(s)));
    const paged = [...(await all({ limit: 700 })), ...(await all({ limit: 700, offset: 700 }))];
    expect(paged.map((m) => m.studyInstanceUID)).toEqual(everything.map((m) => m.studyInstanceUID));
  });

  it('finds by name prefix (any case) and by modality, as the matcher alone would', async () => {
    const name = patientNameOf(7); // e.g. "ANDERSON2^JOHN": three studies a patient
    const prefix = name.slice(0, name.indexOf('^')).toLowerCase();
    const found = (await byName(prefix)).map((m) => m.studyInstanceUID);
    const expected = Array.from({ length: STUDIES }, (_, s) => s).filter((s) => patientNameOf(s).startsWith(prefix.toUpperCase())).map(studyUidOf);
    expect(found).toEqual(expected);
    expect(found.length).toBeGreaterThan(0);
    expect((await byModality('MR')).map((m) => m.studyInstanceUID)).toEqual(expectedByModality('MR'));
  });

  it('forgets a deleted series\' modality and a deleted study\'s names', async () => {
    // The tables only narrow (the matcher decides), so what they hold is read directly.
    const reader = new Database(file, { readonly: true });
    const rowid = (reader.prepare('SELECT rowid FROM studies WHERE study_uid = ?').pluck().get(studyUidOf(9)) as number);
    const modalities = () => reader.prepare('SELECT modality FROM study_modalities WHERE study_rowid = ? ORDER BY modality').pluck().all(rowid);
    const names = () => reader.prepare('SELECT name FROM study_names WHERE study_rowid = ?').pluck().all(rowid);
    try {
      expect(modalities()).toEqual([modalityOf(9, 0), modalityOf(9, 1)].sort());
      expect(names()).toEqual([patientNameOf(9)]);
      await index.deleteInstances({ studyInstanceUID: studyUidOf(9), seriesInstanceUID: instanceRecord(9, 1, 0, sopOf(9, 1)).seriesInstanceUID });
      expect(modalities()).toEqual([modalityOf(9, 0)]);
      expect((await byModality(modalityOf(9, 0))).map((m) => m.studyInstanceUID)).toContain(studyUidOf(9));
      await index.deleteInstances({ studyInstanceUID: studyUidOf(9) });
      expect([modalities(), names()]).toEqual([[], []]);
    } finally {
      reader.close();
    }
  });

  it('builds the name and modality tables once for an index written before them', async () => {
    await index.close();
    const db = new Database(file);
    db.exec('DELETE FROM study_names; DELETE FROM study_modalities; PRAGMA user_version = 0;');
    db.close();
    index = new SqliteIndex(file);
    expect((await byModality('CT')).map((m) => m.studyInstanceUID)).toEqual(expectedByModality('CT'));
    expect((await byName(patientNameOf(3).slice(0, 5))).length).toBeGreaterThan(0);
  });

  it('keeps a record of thousands of frames parsed, and reads it again once the instance is stored anew', async () => {
    const base = instanceRecord(0, 9, 0, sopOf(0, 9));
    const frames = Array.from({ length: 5000 }, (_, i) => [{ offset: 1000 + i * 70_000, length: 69_000 }]);
    const record = { ...base, numberOfFrames: 5000, frames: { encapsulated: true, frames } };
    expect(await index.commitInstance(record, 'reject')).toEqual({ outcome: 'stored' });
    const scope = { studyInstanceUID: record.studyInstanceUID, seriesInstanceUID: record.seriesInstanceUID, sopInstanceUID: record.sopInstanceUID };
    const [first] = await index.listInstances(scope);
    const [again] = await index.listInstances(scope);
    expect(first.frames!.frames).toEqual(frames);
    expect(again).toBe(first); // the same parsed record
    await index.deleteInstances(scope);
    expect(await index.listInstances(scope)).toEqual([]);
    const moved = frames.map(([r]) => [{ offset: r.offset + 2, length: r.length }]);
    await index.commitInstance({ ...record, sha256: 'f'.repeat(64), frames: { encapsulated: true, frames: moved } }, 'reject');
    const [stored] = await index.listInstances(scope);
    expect(stored).not.toBe(first);
    expect(stored.frames!.frames).toEqual(moved);
  });
});
