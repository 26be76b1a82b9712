// One contract for every ArchiveIndex: the SQLite index of local mode and the DynamoDB index of the
// AWS deployment (against DynamoDB Local) must store, count, find and delete alike.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupKeyword } from '../../lambdas/dicom/dictionary.js';
import { readInstance } from '../../lambdas/dicom/instance.js';
import { blobKeyFor } from '../../lambdas/dicomweb/store/store-instance.js';
import { DynamoDbIndex } from '../../lambdas/storage/aws/dynamodb-index.js';
import { FsBlobStore } from '../../lambdas/storage/local/fs-blob-store.js';
import { SqliteIndex } from '../../lambdas/storage/local/sqlite-index.js';
import { allMatches, type ArchiveIndex, type IndexQuery, type InstanceRecord, type QueryMatch } from '../../lambdas/storage/ports.js';
import { startDynamoDbLocal, type DynamoDbLocal } from '../helpers/dynamodb-local.js';
import { createIndexTable } from '../helpers/index-table.js';
import { syntheticInstance, uid } from '../helpers/synthetic.js';

function recordOf(bytes: Uint8Array): InstanceRecord {
  const i = readInstance(bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return {
    studyInstanceUID: i.studyInstanceUID,
    seriesInstanceUID: i.seriesInstanceUID,
    sopInstanceUID: i.sopInstanceUID,
    sopClassUID: i.sopClassUID,
    transferSyntaxUID: i.transferSyntaxUID,
    blobKey: blobKeyFor(sha256),
    size: i.size,
    sha256,
    numberOfFrames: i.numberOfFrames,
    frames: i.frames,
    needsFullParse: i.needsFullParse,
    studyAttributes: i.studyAttributes,
    seriesAttributes: i.seriesAttributes,
    instanceAttributes: i.instanceAttributes,
    metadata: i.metadata,
    storedAt: new Date().toISOString(),
  };
}

const tag = (keyword: string) => lookupKeyword(keyword)!;
const filter = (keyword: string, value: string) => ({ tag: tag(keyword).tag, vr: tag(keyword).vr === 'SQ' ? 'SQ' : tag(keyword).vr, value });
const q = (level: IndexQuery['level'], filters: IndexQuery['filters'], extra: Partial<IndexQuery> = {}): IndexQuery => ({ level, filters, fuzzy: false, limit: 1000, offset: 0, ...extra });
const value = (m: QueryMatch, keyword: string) => m.attributes[tag(keyword).tag.toString(16).toUpperCase().padStart(8, '0')]?.Value;
const uids = (matches: QueryMatch[], key: 'studyInstanceUID' | 'seriesInstanceUID' | 'sopInstanceUID') => matches.map((m) => m[key]!).sort();

interface World {
  studies: { a: string; b: string; c: string };
  series: { a1: string; a2: string; b1: string; c1: string };
  records: InstanceRecord[];
}

function world(): World {
  const studies = { a: uid(), b: uid(), c: uid() };
  const series = { a1: uid(), a2: uid(), b1: uid(), c1: uid() };
  const make = (study: string, s: string, attrs: Record<string, unknown>, n: number, extra: Record<string, unknown> = {}) =>
    recordOf(syntheticInstance({ StudyInstanceUID: study, SeriesInstanceUID: s, InstanceNumber: n, ...attrs, ...extra }));
  const a = { PatientName: 'Doe^Jane', PatientID: 'PID-A', AccessionNumber: 'ACC-A', StudyDate: '20240115' };
  const b = { PatientName: 'Smith^John', PatientID: 'PID-B', AccessionNumber: 'ACC-B', StudyDate: '20230620' };
  const c = { PatientName: 'doe^john', PatientID: 'PID-C', AccessionNumber: 'ACC-C', StudyDate: '20250301' };
  const records = [
    make(studies.a, series.a1, { ...a, Modality: 'CT', SeriesNumber: 1 }, 2),
    make(studies.a, series.a1, { ...a, Modality: 'CT', SeriesNumber: 1 }, 1),
    make(studies.a, series.a2, { ...a, Modality: 'MR', SeriesNumber: 2 }, 1, { SOPClassUID: '1.2.840.10008.5.1.4.1.1.4' }),
    make(studies.b, series.b1, { ...b, Modality: 'CT', SeriesNumber: 1 }, 1),
    make(studies.c, series.c1, { ...c, Modality: 'US', SeriesNumber: 1 }, 1, { SOPClassUID: '1.2.840.10008.5.1.4.1.1.6.1' }),
  ];
  return { studies, series, records };
}

interface Implementation {
  name: string;
  create(): Promise<ArchiveIndex>;
}

const work = mkdtempSync(join(tmpdir(), 'index-contract-'));
let dynamo: DynamoDbLocal;
let n = 0;
const implementations: Implementation[] = [
  { name: 'SqliteIndex', create: async () => new SqliteIndex(join(work, `index-${++n}.sqlite`)) },
  { name: 'DynamoDbIndex', create: async () => new DynamoDbIndex(dynamo.client, await createIndexTable(dynamo.client), new FsBlobStore(join(work, `overflow-${++n}`))) },
];

beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
}, 60_000);
afterAll(async () => {
  await dynamo?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe.each(implementations)('ArchiveIndex contract: $name', (impl) => {
  let index: ArchiveIndex;
  let w: World;
  beforeAll(async () => {
    index = await impl.create();
    w = world();
    for (const r of w.records) expect(await index.commitInstance(r, 'reject')).toEqual({ outcome: 'stored' });
  });
  afterAll(async () => index?.close());

  it('decides duplicates: identical, conflicting, replaced, and a series claimed by another study', async () => {
    const r = w.records[3];
    expect(await index.commitInstance(r, 'reject')).toEqual({ outcome: 'identical' });
    const changed = { ...r, sha256: 'f'.repeat(64), blobKey: blobKeyFor('f'.repeat(64)) };
    expect((await index.commitInstance(changed, 'reject')).outcome).toBe('conflict');
    expect(await index.commitInstance(changed, 'replace')).toEqual({ outcome: 'replaced', previousBlobKey: r.blobKey });
    expect(await index.referencesBlob(r.blobKey)).toBe(false);
    expect(await index.referencesBlob(changed.blobKey)).toBe(true);
    expect(await index.commitInstance(r, 'replace')).toEqual({ outcome: 'replaced', previousBlobKey: changed.blobKey });
    const intruder = recordOf(syntheticInstance({ StudyInstanceUID: w.studies.c, SeriesInstanceUID: w.series.a1 }));
    const refused = await index.commitInstance(intruder, 'reject');
    expect(refused.outcome).toBe('conflict');
  });

  it('lists instances in series and instance-number order, with their metadata', async () => {
    const listed = await index.listInstances({ studyInstanceUID: w.studies.a });
    expect(listed.map((i) => i.sopInstanceUID)).toEqual([w.records[1].sopInstanceUID, w.records[0].sopInstanceUID, w.records[2].sopInstanceUID]);
    const one = await index.listInstances({ studyInstanceUID: w.studies.a, seriesInstanceUID: w.series.a1, sopInstanceUID: w.records[0].sopInstanceUID });
    expect(one).toHaveLength(1);
    expect(one[0]).toMatchObject({ blobKey: w.records[0].blobKey, sha256: w.records[0].sha256 });
    const meta = await index.metadataJson({ studyInstanceUID: w.studies.a, seriesInstanceUID: w.series.a2 });
    expect(meta).toHaveLength(1);
    expect(JSON.parse(meta[0].json)).toEqual(w.records[2].metadata);
    // Read in pages: the same rows in the same order, however small the pages.
    const whole = await index.metadataJson({ studyInstanceUID: w.studies.a });
    for (const size of [1, 2, 100]) {
      const pages: Array<Awaited<ReturnType<typeof index.metadataJson>>> = [];
      for await (const page of index.metadataJsonPages({ studyInstanceUID: w.studies.a }, size)) pages.push(page);
      expect(pages.every((p) => p.length <= size && p.length > 0)).toBe(true);
      expect(pages.flat()).toEqual(whole);
    }
    expect(whole).toHaveLength(3);
    expect(await index.listInstances({ studyInstanceUID: uid() })).toEqual([]);
  });

  it('keeps the derived study attributes', async () => {
    const [study] = await allMatches(index.query(q('study', [filter('StudyInstanceUID', w.studies.a)])));
    expect(value(study, 'NumberOfStudyRelatedSeries')).toEqual([2]);
    expect(value(study, 'NumberOfStudyRelatedInstances')).toEqual([3]);
    expect(value(study, 'ModalitiesInStudy')).toEqual(['CT', 'MR']);
    expect(value(study, 'SOPClassesInStudy')).toEqual(['1.2.840.10008.5.1.4.1.1.2', '1.2.840.10008.5.1.4.1.1.4']);
    const series = await allMatches(index.query(q('series', [], { studyInstanceUID: w.studies.a })));
    expect(series.map((s) => value(s, 'NumberOfSeriesRelatedInstances'))).toEqual([[2], [1]]);
  });

  it('finds studies by every indexed path and by filtering', async () => {
    const { a, b, c } = w.studies;
    const studies = async (...filters: IndexQuery['filters']) => uids(await allMatches(index.query(q('study', filters))), 'studyInstanceUID');
    expect(await studies(filter('PatientID', 'PID-A'))).toEqual([a]);
    expect(await studies(filter('AccessionNumber', 'ACC-B'))).toEqual([b]);
    expect(await studies(filter('StudyDate', '20240101-20251231'))).toEqual([a, c].sort());
    expect(await studies(filter('StudyDate', '20240101-'))).toEqual([a, c].sort());
    expect(await studies(filter('PatientID', 'PID-A'), filter('StudyDate', '20200101-20231231'))).toEqual([]);
    expect(await studies(filter('PatientName', 'DOE*'))).toEqual([a, c].sort());
    expect(await studies(filter('PatientName', '*john'))).toEqual([b, c].sort());
    expect(await studies(filter('ModalitiesInStudy', 'CT'))).toEqual([a, b].sort());
    expect(await studies(filter('StudyInstanceUID', `${a}\\${c}`))).toEqual([a, c].sort());
    expect(await studies(filter('PatientID', 'PID-*'))).toEqual([a, b, c].sort());
    expect(await studies()).toEqual([a, b, c].sort());
    const paged = await allMatches(index.query(q('study', [], { limit: 2, offset: 1 })));
    expect(paged).toHaveLength(2);
  });

  it('finds series and instances within a study and across studies', async () => {
    expect(uids(await allMatches(index.query(q('series', [filter('Modality', 'CT')]))), 'seriesInstanceUID')).toEqual([w.series.a1, w.series.b1].sort());
    expect(uids(await allMatches(index.query(q('series', [filter('Modality', 'MR')], { studyInstanceUID: w.studies.a }))), 'seriesInstanceUID')).toEqual([w.series.a2]);
    expect(uids(await allMatches(index.query(q('series', [filter('SeriesInstanceUID', w.series.c1)]))), 'seriesInstanceUID')).toEqual([w.series.c1]);
    const sop = w.records[4].sopInstanceUID;
    expect(uids(await allMatches(index.query(q('instance', [filter('SOPInstanceUID', sop)]))), 'sopInstanceUID')).toEqual([sop]);
    const inSeries = await allMatches(index.query(q('instance', [], { studyInstanceUID: w.studies.a, seriesInstanceUID: w.series.a1 })));
    expect(inSeries.map((m) => m.sopInstanceUID)).toEqual([w.records[1].sopInstanceUID, w.records[0].sopInstanceUID]);
    expect(value(inSeries[0], 'PatientID')).toEqual(['PID-A']); // instance matches carry the levels above
  });

  it('counts exactly when many instances of one study are stored at once', async () => {
    const study = uid();
    const seriesUids = [uid(), uid(), uid()];
    const records = Array.from({ length: 24 }, (_, i) =>
      recordOf(syntheticInstance({ StudyInstanceUID: study, SeriesInstanceUID: seriesUids[i % 3], PatientID: 'PID-X', Modality: i % 3 === 2 ? 'MR' : 'CT', InstanceNumber: i })),
    );
    const outcomes = await Promise.all(records.map((r) => index.commitInstance(r, 'reject')));
    expect(outcomes.every((o) => o.outcome === 'stored')).toBe(true);
    const [match] = await allMatches(index.query(q('study', [filter('StudyInstanceUID', study)])));
    expect(value(match, 'NumberOfStudyRelatedInstances')).toEqual([24]);
    expect(value(match, 'NumberOfStudyRelatedSeries')).toEqual([3]);
    expect(value(match, 'ModalitiesInStudy')).toEqual(['CT', 'MR']);
  });

  it('deletes instances, series and studies with their counts and references', async () => {
    const { a } = w.studies;
    const first = w.records[0];
    expect(await index.deleteInstances({ studyInstanceUID: a, seriesInstanceUID: w.series.a1, sopInstanceUID: first.sopInstanceUID })).toEqual([first.blobKey]);
    expect(await index.referencesBlob(first.blobKey)).toBe(false);
    let [study] = await allMatches(index.query(q('study', [filter('StudyInstanceUID', a)])));
    expect(value(study, 'NumberOfStudyRelatedInstances')).toEqual([2]);
    expect(await index.deleteInstances({ studyInstanceUID: a, seriesInstanceUID: w.series.a2 })).toEqual([w.records[2].blobKey]);
    [study] = await allMatches(index.query(q('study', [filter('StudyInstanceUID', a)])));
    expect(value(study, 'NumberOfStudyRelatedSeries')).toEqual([1]);
    expect(value(study, 'ModalitiesInStudy')).toEqual(['CT']);
    expect(value(study, 'SOPClassesInStudy')).toEqual(['1.2.840.10008.5.1.4.1.1.2']);
    expect((await index.deleteInstances({ studyInstanceUID: a })).sort()).toEqual([w.records[1].blobKey]);
    expect(await allMatches(index.query(q('study', [filter('StudyInstanceUID', a)])))).toEqual([]);
    expect(await index.deleteInstances({ studyInstanceUID: a })).toEqual([]);
    // Stored again right after its deletion, an instance is really stored again.
    expect(await index.commitInstance(w.records[1], 'reject')).toEqual({ outcome: 'stored' });
    expect((await index.listInstances({ studyInstanceUID: a })).map((i) => i.sopInstanceUID)).toEqual([w.records[1].sopInstanceUID]);
    // The series UID is free again once its series is gone.
    const reuse = recordOf(syntheticInstance({ StudyInstanceUID: w.studies.b, SeriesInstanceUID: w.series.a2 }));
    expect(await index.commitInstance(reuse, 'reject')).toEqual({ outcome: 'stored' });
  });
});

describe('DynamoDbIndex specifics', () => {
  it('keeps metadata too large for an item in the object store, and removes it with the instance', async () => {
    const blobs = new FsBlobStore(join(work, 'overflow-large'));
    const index = new DynamoDbIndex(dynamo.client, await createIndexTable(dynamo.client), blobs);
    const r = recordOf(syntheticInstance({ StudyInstanceUID: uid(), SeriesInstanceUID: uid() }));
    // 700 kB of incompressible text: well above the 400 kB item limit after gzip.
    const noise = createHash('sha256');
    let text = '';
    for (let i = 0; text.length < 700_000; i++) text += noise.copy().update(String(i)).digest('base64');
    r.metadata = { ...r.metadata, '00204000': { vr: 'LT', Value: [text] } };
    expect(await index.commitInstance(r, 'reject')).toEqual({ outcome: 'stored' });
    const [meta] = await index.metadataJson({ studyInstanceUID: r.studyInstanceUID });
    expect(JSON.parse(meta.json)).toEqual(r.metadata);
    const keys: string[] = [];
    for await (const { key } of blobs.list('metadata/')) keys.push(key);
    expect(keys).toHaveLength(1);
    await index.deleteInstances({ studyInstanceUID: r.studyInstanceUID });
    const after: string[] = [];
    for await (const { key } of blobs.list('metadata/')) after.push(key);
    expect(after).toEqual([]);
  });
});
