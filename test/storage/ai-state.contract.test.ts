// One contract for every AiStateStore: the SQLite store of local mode and the DynamoDB store of the AWS
// deployment (against DynamoDB Local) keep readiness, dispatch, results, the worklist, feedback, the
// registry and the model records alike.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobKey, type AiStateStore, type AnalysisJob, type AnalysisResult, type WorklistItem } from '../../lambdas/ai/ports.js';
import { DynamoDbAiState } from '../../lambdas/storage/aws/dynamodb-ai-state.js';
import { SqliteAiState } from '../../lambdas/storage/local/sqlite-ai-state.js';
import { createAiStateTable } from '../helpers/ai-state-table.js';
import { startDynamoDbLocal, type DynamoDbLocal } from '../helpers/dynamodb-local.js';

const work = mkdtempSync(join(tmpdir(), 'ai-state-'));
let dynamo: DynamoDbLocal;
beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
}, 60_000);
afterAll(async () => {
  await dynamo?.stop();
  rmSync(work, { recursive: true, force: true });
});

const implementations: Array<{ name: string; create(): Promise<AiStateStore> }> = [
  { name: 'SqliteAiState', create: async () => new SqliteAiState(join(work, `state-${Date.now()}.sqlite`)) },
  { name: 'DynamoDbAiState', create: async () => new DynamoDbAiState(dynamo.client, await createAiStateTable(dynamo.client)) },
];

const job = (study: string, revision: number, analyserId: string): AnalysisJob => ({ studyInstanceUID: study, revision, analyserId, analyserVersion: '1.0.0' });
const result = (j: AnalysisJob, createdAt: string, fields: Partial<AnalysisResult> = {}): AnalysisResult => ({
  ...j,
  key: jobKey(j),
  status: 'analysed',
  summary: 'ok',
  positive: false,
  outputs: {},
  objects: [],
  scannerModel: 'M',
  site: 'S',
  attempts: 1,
  latencyMs: 10,
  createdAt,
  ...fields,
});
const entry = (study: string, priority: WorklistItem['priority'], state: WorklistItem['state'], updatedAt: string): WorklistItem => ({
  studyInstanceUID: study, revision: 1, state, priority, reason: priority, patientName: 'P', patientID: 'ID', studyDescription: 'D', modalities: 'CT', flags: [], updatedAt,
});

describe.each(implementations)('AiStateStore contract: $name', (impl) => {
  let state: AiStateStore;
  beforeAll(async () => {
    state = await impl.create();
  });
  afterAll(async () => state?.close());

  it('opens revisions, finds quiet studies and dispatches each revision once', async () => {
    expect(await state.recordChanges(new Map([['1.1', '2026-01-01T00:00:01Z'], ['1.2', '2026-01-01T00:00:05Z']]))).toEqual(new Map([['1.1', 1], ['1.2', 1]]));
    expect(await state.recordChanges(new Map([['1.1', '2026-01-01T00:00:02Z']]))).toEqual(new Map([['1.1', 1]])); // still collecting
    expect((await state.quietStudies('2026-01-01T00:00:03Z', 10)).map((a) => [a.studyInstanceUID, a.revision])).toEqual([['1.1', 1]]);
    const jobs = [job('1.1', 1, 'a'), job('1.1', 1, 'b')];
    expect(await state.markDispatched('1.1', 1, jobs)).toBe(true);
    expect(await state.markDispatched('1.1', 1, jobs)).toBe(false); // already dispatched
    expect(await state.quietStudies('2026-01-01T00:00:03Z', 10)).toEqual([]);
    expect((await state.pendingJobs('1.1', 1)).map((j) => j.analyserId).sort()).toEqual(['a', 'b']);
    expect((await state.unfinishedJobs(100)).map(jobKey).sort()).toEqual(jobs.map(jobKey).sort());
    expect(await state.activity('1.1')).toMatchObject({ revision: 1, state: 'dispatched' });
    // A late event for an instance stored before the dispatch changes nothing…
    expect(await state.recordChanges(new Map([['1.1', '2026-01-01T00:00:02Z']]))).toEqual(new Map([['1.1', 1]]));
    expect(await state.activity('1.1')).toMatchObject({ revision: 1, state: 'dispatched' });
    // …a change after the dispatch opens the next revision.
    const later = new Date(Date.now() + 1000).toISOString();
    expect(await state.recordChanges(new Map([['1.1', later]]))).toEqual(new Map([['1.1', 2]]));
    expect(await state.activity('1.1')).toMatchObject({ revision: 2, state: 'collecting' });
  });

  it('records each result once, lists them by study, revision and analyser', async () => {
    const [a, b] = [job('1.1', 1, 'a'), job('1.1', 1, 'b')];
    expect(await state.putResult(result(a, '2026-01-01T00:02:00Z'))).toBe(true);
    expect(await state.putResult(result(a, '2026-01-01T00:03:00Z', { summary: 'again' }))).toBe(false);
    expect((await state.getResult(jobKey(a)))?.summary).toBe('ok');
    expect((await state.pendingJobs('1.1', 1)).map((j) => j.analyserId)).toEqual(['b']);
    await state.putResult(result(b, '2026-01-01T00:02:30Z'));
    expect(await state.pendingJobs('1.1', 1)).toEqual([]);
    expect(await state.unfinishedJobs(100)).toEqual([]);
    await state.putResult(result(job('1.2', 1, 'a'), '2026-01-01T00:04:00Z'));
    expect((await state.resultsOf('1.1', 1)).map((r) => r.analyserId).sort()).toEqual(['a', 'b']);
    expect(await state.resultsOf('1.1', 2)).toEqual([]);
    expect((await state.recentResults('a', 10)).map((r) => r.studyInstanceUID)).toEqual(['1.2', '1.1']);
    expect((await state.recentResults('a', 1)).map((r) => r.studyInstanceUID)).toEqual(['1.2']);
  });

  it('orders the worklist by priority, then by how long a study has waited', async () => {
    await state.upsertWorklist(entry('2.1', 'routine', 'analysed', '2026-01-01T01:00:00Z'));
    await state.upsertWorklist(entry('2.2', 'urgent', 'analysing', '2026-01-01T01:05:00Z'));
    await state.upsertWorklist(entry('2.3', 'routine', 'analysed', '2026-01-01T01:02:00Z'));
    // An update keeps the original waiting time.
    await state.upsertWorklist(entry('2.1', 'routine', 'analysed', '2026-01-01T02:00:00Z'));
    expect((await state.worklist({ limit: 10, offset: 0 })).map((i) => i.studyInstanceUID)).toEqual(['2.2', '2.1', '2.3']);
    expect((await state.worklist({ state: 'analysed', limit: 10, offset: 0 })).map((i) => i.studyInstanceUID)).toEqual(['2.1', '2.3']);
    expect((await state.worklist({ limit: 1, offset: 1 })).map((i) => i.studyInstanceUID)).toEqual(['2.1']);
    await state.removeFromWorklist('2.3');
    expect((await state.worklist({ limit: 10, offset: 0 })).map((i) => i.studyInstanceUID)).toEqual(['2.2', '2.1']);
    await state.recordChanges(new Map([['2.2', '2026-01-01T01:05:00Z']]));
    await state.forgetStudy('2.2');
    expect((await state.worklist({ limit: 10, offset: 0 })).map((i) => i.studyInstanceUID)).toEqual(['2.1']);
    expect(await state.activity('2.2')).toMatchObject({ state: 'dispatched' });
  });

  it('keeps feedback, the registry with its change log, and model records', async () => {
    await state.putFeedback({ resultKey: 'k1', verdict: 'accept', reader: 'r', at: '2026-01-01T00:00:00Z' });
    await state.putFeedback({ resultKey: 'k1', verdict: 'reject', reader: 'r', at: '2026-01-01T00:01:00Z' });
    expect((await state.feedbackFor('k1')).map((f) => f.verdict)).toEqual(['accept', 'reject']);
    const record = { id: 'x', name: 'X', version: '1', vendor: 'V', intendedUse: 'U', validationStatus: 'research' as const, enabled: true };
    await state.putAnalyser(record, { who: 'system', change: 'registered' });
    await state.putAnalyser({ ...record, enabled: false }, { who: 'admin', change: 'disabled' });
    expect(await state.analysers()).toEqual([{ ...record, enabled: false }]);
    expect((await state.changeLog('x')).map((c) => c.change)).toEqual(['registered', 'disabled']);
    const model = { name: 'm', version: '1', sha256: 'ab', blobKey: 'models/ab.onnx', size: 3, provenance: 'p', registeredAt: '2026-01-01T00:00:00Z' };
    await state.putModel(model);
    await state.putModel({ ...model, provenance: 'changed' }); // same bytes: kept as first registered
    expect(await state.models()).toEqual([model]);
  });
});
