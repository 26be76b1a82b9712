// The AI pipeline end to end in local mode: studies stored over STOW-RS become ready after the quiet
// period, every matching analyser runs on its own queue, results come back into the study as SR and
// SEG (dciodvfy-clean, found by QIDO, retrieved by WADO), triage orders the worklist, failures are
// retried and dead-lettered, redeliveries change nothing, and the registry, feedback and metrics APIs
// answer with the data they hold.
import type { AuditRecord } from '../../lambdas/storage/ports.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Analyser } from '../../lambdas/ai/analysers/analyser.js';
import { BUILT_IN_ANALYSER_IDS, builtInAnalysers } from '../../lambdas/ai/analysers/built-in.js';
import { MODEL_ANALYSER_IDS, PIXEL_ANALYSER_IDS } from '../../lambdas/ai/analysers/built-in-ids.js';
import type { InstanceView } from '../../lambdas/ai/analysers/analyser.js';
import { loadStudyInput } from '../../lambdas/ai/pipeline/study-input.js';
import type { AnalysisResult, WorklistItem } from '../../lambdas/ai/ports.js';
import { jobKey } from '../../lambdas/ai/ports.js';
import { readInstance } from '../../lambdas/dicom/instance.js';
import { getMultipart, startTestArchive, stow, testAiConfig, type TestArchive } from '../helpers/archive.js';
import { dciodvfyErrors } from '../helpers/dciodvfy.js';
import { syntheticCt } from '../helpers/synthetic-ct.js';
import { syntheticInstance, uid } from '../helpers/synthetic.js';

const aiConfig = testAiConfig();

let failingCalls = 0;
const failing: Analyser = {
  id: 'always-fails',
  name: 'Failing analyser (test)',
  version: '0.0.1',
  vendor: 'Test',
  intendedUse: 'Proves retries and the dead-letter queue',
  stage: 'primary',
  filter: { modalities: ['CT'], studyDescription: 'FAILTEST' },
  async analyse() {
    failingCalls++;
    throw new Error('model server unreachable');
  },
};

let archive: TestArchive;
const ai = (path: string, init?: RequestInit) => fetch(`${archive.aiUrl}${path}`, init);
const json = async <T>(path: string): Promise<T> => (await (await ai(path)).json()) as T;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const analysedItem = (study: string, revision = 1) =>
  until(`study ${study} revision ${revision} analysed`, async () =>
    (await json<WorklistItem[]>('/worklist')).find((i) => i.studyInstanceUID === study && i.revision === revision && i.state === 'analysed'),
  );
const resultsOf = (study: string) => json<Array<AnalysisResult & { id: string }>>(`/studies/${study}/results`);

/** The shipped analysers as the archive built them (with its model runtime). */
let shipped: Analyser[] = [];
const first = syntheticCt({ patientID: 'AI-1', studyDate: '20240105', studyDescription: 'CT HEAD WITHOUT CONTRAST FAILTEST', bodyPart: 'CHEST' });
const urgent = syntheticCt({ patientID: 'AI-1', studyDate: '20250310', studyDescription: 'CT CHEST', extra: { RequestedProcedurePriority: 'STAT' } });

beforeAll(async () => {
  archive = await startTestArchive({}, undefined, {
    ai: aiConfig,
    aiOptions: {
      analysers: (defaults) => {
        shipped = defaults;
        return [...defaults, failing];
      },
    },
  });
  expect((await stow(archive.url, first.files)).status).toBe(200);
  await analysedItem(first.studyInstanceUID);
}, 60_000);
afterAll(async () => archive?.dispose());

describe('arrival to results', () => {
  it('runs every matching analyser once and records what each found', async () => {
    const results = await resultsOf(first.studyInstanceUID);
    const byId = Object.fromEntries(results.map((r) => [r.analyserId, r]));
    expect(Object.keys(byId).sort()).toEqual(['always-fails', 'image-noise', 'missing-priors', 'protocol-check', 'threshold-segmentation', 'triage']);
    expect(byId['missing-priors']).toMatchObject({ status: 'analysed', positive: true, summary: 'no comparable prior study in the archive' });
    expect(byId['protocol-check'].summary).toMatch(/body part: requested "CT HEAD WITHOUT CONTRAST FAILTEST" but Body Part Examined is CHEST/);
    const expectedMl = (first.sphereVoxels * first.voxelMm3) / 1000;
    expect(byId['threshold-segmentation'].outputs.volumeMl).toBeCloseTo(expectedMl, 6);
    expect(Math.abs(byId['threshold-segmentation'].outputs.meanHU - 1000)).toBeLessThan(3);
    expect(byId['image-noise'].outputs.maxSigmaHU).toBeGreaterThan(8);
    expect(byId['image-noise'].outputs.maxSigmaHU).toBeLessThan(12);
    expect(byId['image-noise'].modelSha256).toMatch(/^[0-9a-f]{64}$/);
    for (const r of results) expect(r.scannerModel === 'Phantom CT' || r.status === 'failed').toBe(true);
  });

  it('stores an SR per analysis and a SEG for the segmentation, found by QIDO and clean under dciodvfy', async () => {
    const series = (await (await fetch(`${archive.url}/studies/${first.studyInstanceUID}/series?includefield=SeriesDescription`)).json()) as Array<Record<string, { Value?: unknown[] }>>;
    const modalities = series.map((s) => s['00080060'].Value?.[0]).sort();
    expect(modalities).toEqual(['CT', 'SEG', 'SR', 'SR', 'SR', 'SR', 'SR']);
    const results = await resultsOf(first.studyInstanceUID);
    const objects = results.flatMap((r) => r.objects);
    expect(objects.filter((o) => o.kind === 'SEG')).toHaveLength(1);
    for (const o of objects) {
      const { status, parts } = await getMultipart(`${archive.url}/studies/${first.studyInstanceUID}/series/${o.seriesInstanceUID}/instances/${o.sopInstanceUID}`, 'multipart/related; type="application/dicom"');
      expect(status).toBe(200);
      const { errors } = dciodvfyErrors(parts[0].body);
      expect(errors, `${o.kind} of ${results.find((r) => r.objects.includes(o))?.analyserId}`).toEqual([]);
    }
    // The SEG covers exactly the slices the sphere touches and references them.
    const seg = objects.find((o) => o.kind === 'SEG')!;
    const { parts } = await getMultipart(`${archive.url}/studies/${first.studyInstanceUID}/series/${seg.seriesInstanceUID}/instances/${seg.sopInstanceUID}`, 'multipart/related; type="application/dicom"');
    const parsed = readInstance(parts[0].body);
    expect(parsed.numberOfFrames).toBeGreaterThan(0);
    expect(JSON.stringify(parsed.metadata)).toContain(first.seriesInstanceUID);
  });

  it('retries a failing analyser, dead-letters it with its reason, and still triages the study', async () => {
    expect(failingCalls).toBe(aiConfig.maxAttempts);
    const failed = (await resultsOf(first.studyInstanceUID)).find((r) => r.analyserId === 'always-fails')!;
    expect(failed.status).toBe('failed');
    expect(failed.summary).toMatch(/failed after 2 attempts: Error: model server unreachable/);
    const dead = await json<Array<{ analyserId: string; messages: Array<{ error: string; attempts: number }> }>>('/dead-letters');
    expect(dead).toEqual([{ analyserId: 'always-fails', messages: [expect.objectContaining({ attempts: 2, error: 'Error: model server unreachable' })] }]);
    const triage = (await resultsOf(first.studyInstanceUID)).find((r) => r.analyserId === 'triage')!;
    expect(triage.status).toBe('analysed');
  });

  it('treats a redelivered job as done: no new objects, the same result', async () => {
    const before = await resultsOf(first.studyInstanceUID);
    const seg = before.find((r) => r.analyserId === 'threshold-segmentation')!;
    const pipeline = archive.ai!.pipeline;
    const analyser = pipeline.analysers.find((a) => a.id === 'threshold-segmentation')!;
    const job = { studyInstanceUID: seg.studyInstanceUID, revision: seg.revision, analyserId: seg.analyserId, analyserVersion: seg.analyserVersion };
    await archive.ai!.queue.send(analyser.id, jobKey(job), job); // deduplicated
    expect(await archive.ai!.queue.receive(analyser.id, 10)).toEqual([]);
    await pipeline.process(analyser, job, 2, 'a redelivered receipt');
    const after = await resultsOf(first.studyInstanceUID);
    expect(after).toEqual(before);
    const instances = (await (await fetch(`${archive.url}/studies/${first.studyInstanceUID}/instances`)).json()) as unknown[];
    expect(instances).toHaveLength(first.files.length + 6);
  });
});

describe('triage and the worklist', () => {
  it('puts a STAT study first, finds its prior and keeps the routine one below', async () => {
    expect((await stow(archive.url, urgent.files)).status).toBe(200);
    const item = await analysedItem(urgent.studyInstanceUID);
    expect(item.priority).toBe('urgent');
    expect(item.reason).toMatch(/requested procedure priority STAT/);
    const list = await json<WorklistItem[]>('/worklist');
    expect(list[0].studyInstanceUID).toBe(urgent.studyInstanceUID);
    expect(list.findIndex((i) => i.studyInstanceUID === first.studyInstanceUID)).toBeGreaterThan(0);
    const priors = (await resultsOf(urgent.studyInstanceUID)).find((r) => r.analyserId === 'missing-priors')!;
    expect(priors).toMatchObject({ positive: false, outputs: { priors: 1 } });
    expect(priors.summary).toMatch(/1 comparable prior\(s\), latest 20240105 \(standard\)/);
  });

  it('analyses a study again as a new revision when an instance arrives late', async () => {
    const late = syntheticInstance({
      StudyInstanceUID: first.studyInstanceUID,
      SeriesInstanceUID: uid(),
      PatientID: 'AI-1',
      Modality: 'OT',
      StudyDescription: 'CT HEAD WITHOUT CONTRAST FAILTEST',
    });
    expect((await stow(archive.url, [late])).status).toBe(200);
    await analysedItem(first.studyInstanceUID, 2);
    const results = await resultsOf(first.studyInstanceUID);
    expect(results.filter((r) => r.revision === 2).map((r) => r.analyserId).sort()).toEqual(
      ['always-fails', 'image-noise', 'missing-priors', 'protocol-check', 'threshold-segmentation', 'triage'],
    );
    const objects = new Set(results.flatMap((r) => r.objects.map((o) => o.sopInstanceUID)));
    expect(objects.size).toBe(12); // two revisions, six objects each, none shared
  });

  it('records "not analysed" with the reason for a study an analyser cannot handle', async () => {
    const study = uid();
    const noPixels = syntheticInstance({ StudyInstanceUID: study, SeriesInstanceUID: uid(), PatientID: 'AI-2', Modality: 'CT', StudyDescription: 'CT ABDOMEN' });
    expect((await stow(archive.url, [noPixels])).status).toBe(200);
    await analysedItem(study);
    const results = await resultsOf(study);
    expect(results.find((r) => r.analyserId === 'threshold-segmentation')).toMatchObject({ status: 'not-analysed', summary: expect.stringMatching(/no single-frame slices with Image Position/) });
    expect(results.find((r) => r.analyserId === 'image-noise')).toMatchObject({ status: 'not-analysed' });
    expect(results.find((r) => r.analyserId === 'triage')).toMatchObject({ status: 'analysed' });
  });
});

describe('governance APIs', () => {
  it('lists the shipped analysers\' ids where the CDK app reads them, in the same order', () => {
    // The CDK app makes one queue and worker per id without loading the analysers.
    const runtime = {} as Parameters<typeof builtInAnalysers>[1];
    expect(builtInAnalysers(testAiConfig(), runtime).map((a) => a.id)).toEqual([...BUILT_IN_ANALYSER_IDS]);
  });

  it('decodes frames only in the analysers declared to (the CDK app gives only their workers the image codecs)', async () => {
    const base = await loadStudyInput(archive.storage, first.studyInstanceUID, 1, { producedByPipeline: new Set(), primaryResults: [], now: new Date() });
    const decoding = new Set<string>();
    expect(shipped.map((a) => a.id)).toEqual([...BUILT_IN_ANALYSER_IDS]);
    for (const analyser of shipped) {
      const input = { ...base, frame: (instance: InstanceView, index: number) => (decoding.add(analyser.id), base.frame(instance, index)) };
      await analyser.analyse(input).catch(() => undefined);
    }
    expect([...decoding].sort()).toEqual([...PIXEL_ANALYSER_IDS].sort());
  });

  it('runs a model only in the analysers declared to (the CDK app gives only their workers the model runtime)', async () => {
    const base = await loadStudyInput(archive.storage, first.studyInstanceUID, 1, { producedByPipeline: new Set(), primaryResults: [], now: new Date() });
    const running = new Set<string>();
    for (const id of BUILT_IN_ANALYSER_IDS) {
      // A runtime that notes who asks for a model and gives none: the analysis may fail, the call is what counts.
      const runtime = { model: () => (running.add(id), Promise.reject(new Error('no model here'))) } as unknown as Parameters<typeof builtInAnalysers>[1];
      const analyser = builtInAnalysers(testAiConfig(), runtime).find((a) => a.id === id)!;
      await analyser.analyse(base).catch(() => undefined);
    }
    expect([...running].sort()).toEqual([...MODEL_ANALYSER_IDS].sort());
  });

  it('takes reader feedback and names the field of a bad request', async () => {
    const result = (await resultsOf(first.studyInstanceUID)).find((r) => r.analyserId === 'threshold-segmentation')!;
    const post = (body: unknown, id = result.id) =>
      ai(`/results/${id}/feedback`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const ok = await post({ verdict: 'correct', reader: 'Dr Reader', correction: { volumeMl: 2.0 }, comment: 'edge slices missed' });
    expect(ok.status).toBe(201);
    expect((await json<{ feedback: unknown[] }>(`/results/${result.id}`)).feedback).toEqual([expect.objectContaining({ verdict: 'correct', reader: 'Dr Reader' })]);
    const badVerdict = await post({ verdict: 'maybe', reader: 'x' });
    expect(badVerdict.status).toBe(400);
    expect(((await badVerdict.json()) as { error: string }).error).toMatch(/field "verdict"/);
    const noCorrection = await post({ verdict: 'correct', reader: 'x' });
    expect(((await noCorrection.json()) as { error: string }).error).toMatch(/field "correction"/);
    expect((await post({ verdict: 'accept' })).status).toBe(400);
    expect((await post({ verdict: 'accept', reader: 'x' }, 'bm8tc3VjaA')).status).toBe(404);
    const notJson = await ai(`/results/${result.id}/feedback`, { method: 'POST', body: '{' });
    expect(notJson.status).toBe(400);
    // Each attempt is in the audit trail under the study: the accepted one (0), the refused ones (4).
    const trail = (await (await fetch(`${archive.url.replace(/\/dicomweb$/, '')}/audit/events?study=${first.studyInstanceUID}`)).json()) as { records: AuditRecord[] };
    const feedback = trail.records.filter((r) => r.ParticipantObjectIdentification.some((o) => o.ParticipantObjectDescription === 'feedback on an AI result'));
    expect(feedback.map((r) => `${r.EventIdentification.EventID.code} ${r.EventIdentification.EventActionCode} ${r.EventIdentification.EventOutcomeIndicator}`)).toEqual([
      '110103 U 4',
      '110103 U 4',
      '110103 U 4',
      '110103 U 4',
      '110103 U 0',
    ]);
  });

  it('keeps a registry with a change log; a disabled analyser gets no new work', async () => {
    const analysers = await json<Array<{ id: string; version: string; enabled: boolean; modelSha256?: string }>>('/analysers');
    expect(analysers.map((a) => a.id).sort()).toEqual(['always-fails', 'image-noise', 'missing-priors', 'protocol-check', 'threshold-segmentation', 'triage']);
    expect(analysers.find((a) => a.id === 'image-noise')!.modelSha256).toMatch(/^[0-9a-f]{64}$/);
    const patch = (body: unknown) => ai('/analysers/image-noise', { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const missingNote = await patch({ enabled: false, who: 'admin' });
    expect(missingNote.status).toBe(400);
    expect(((await missingNote.json()) as { error: string }).error).toMatch(/field "note"/);
    const disabled = await patch({ enabled: false, who: 'admin', note: 'scanner upgrade under review' });
    expect(disabled.status).toBe(200);
    const detail = await json<{ changeLog: Array<{ who: string; change: string }> }>('/analysers/image-noise');
    expect(detail.changeLog.map((c) => c.change)).toEqual(['registered version 1.0.0', 'disabled: scanner upgrade under review']);
    const another = syntheticCt({ patientID: 'AI-3', studyDate: '20250101', studyDescription: 'CT CHEST' });
    expect((await stow(archive.url, another.files)).status).toBe(200);
    await analysedItem(another.studyInstanceUID);
    expect((await resultsOf(another.studyInstanceUID)).map((r) => r.analyserId)).not.toContain('image-noise');
    await patch({ enabled: true, who: 'admin', note: 'review done' });
  });

  it('reports per-analyser metrics by scanner and site', async () => {
    const metrics = await json<Array<{ analyserId: string; count: number; failureRate: number; latencyMs: { p95: number }; byScannerModel: Record<string, { count: number }>; bySite: Record<string, unknown>; drift: { status: string } }>>('/metrics');
    const seg = metrics.find((m) => m.analyserId === 'threshold-segmentation')!;
    expect(seg.count).toBeGreaterThanOrEqual(4);
    expect(seg.byScannerModel['Phantom CT'].count).toBeGreaterThanOrEqual(3);
    expect(seg.bySite).toHaveProperty('Test Hospital');
    expect(seg.latencyMs.p95).toBeGreaterThan(0);
    expect(seg.drift.status).toBe('insufficient-data');
    expect(metrics.find((m) => m.analyserId === 'always-fails')!.failureRate).toBe(1);
  });

  it('answers 400 for a malformed worklist query', async () => {
    expect((await ai('/worklist?limit=-1')).status).toBe(400);
    expect((await ai('/worklist?state=done')).status).toBe(400);
  });

  it('lets a viewer on another origin read the worklist and send feedback (CORS)', async () => {
    const origin = 'https://viewer.example.org';
    const preflight = await ai('/results/x/feedback', { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    const worklist = await ai('/worklist', { headers: { Origin: origin } });
    expect(worklist.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('priors in cold storage', () => {
  it('flags a study whose latest prior has aged into the archive tier', async () => {
    // The clock runs 120 days ahead, so what is stored now counts as stored 120 days ago.
    const ahead = 120 * 86_400_000;
    const cold = await startTestArchive({}, undefined, { ai: aiConfig, aiOptions: { now: () => new Date(Date.now() + ahead) } });
    try {
      const prior = syntheticCt({ patientID: 'AI-COLD', studyDate: '20230101', studyDescription: 'CT CHEST', slices: 3 });
      const current = syntheticCt({ patientID: 'AI-COLD', studyDate: '20260101', studyDescription: 'CT CHEST', slices: 3 });
      expect((await stow(cold.url, prior.files)).status).toBe(200);
      expect((await stow(cold.url, current.files)).status).toBe(200);
      const results = await until('priors of the current study', async () => {
        const r = (await (await fetch(`${cold.aiUrl}/studies/${current.studyInstanceUID}/results`)).json()) as AnalysisResult[];
        return r.find((x) => x.analyserId === 'missing-priors');
      });
      expect(results).toMatchObject({ positive: true, summary: 'latest prior (20230101) is in the archive storage tier' });
    } finally {
      await cold.dispose();
    }
  });
});
