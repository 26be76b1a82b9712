// De-identified export through the API of `npm start`'s server: a cohort chosen by a QIDO-RS query and by
// Study Instance UIDs is copied, de-identified, into the export folder with a manifest that names only
// copies; the archive keeps which copy came from which original; a later export of the same patient
// links to the first; burned-in annotation is left out and said; bad requests are refused with the field;
// every export is in the audit trail with its destination.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord, ExportJob, ExportManifestEntry } from '../../lambdas/storage/ports.js';
import { startTestArchive, stow, type TestArchive } from '../helpers/archive.js';
import { dciodvfyErrors } from '../helpers/dciodvfy.js';
import { sampleBytes } from '../helpers/samples.js';
import { syntheticInstance, uid } from '../helpers/synthetic.js';

let archive: TestArchive;
let root: string;
const patient = `EXP-${process.pid}-A`;
const studies = [uid(), uid()];
const burnedIn = uid();
const CT = { file: 'highdicom/ct_image.dcm', study: '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322', patient: '1CT1' };

const instance = (study: string, overrides: Record<string, unknown> = {}) =>
  syntheticInstance({ StudyInstanceUID: study, SeriesInstanceUID: `${study}.1`, SOPInstanceUID: uid(), PatientID: patient, PatientName: 'Export^Alice^Marie', PatientBirthDate: '19610412', StudyDate: '20240105', AccessionNumber: 'ACC-778899', InstitutionName: 'Saint Example Hospital', Rows: 2, Columns: 2, BitsAllocated: 16, BitsStored: 16, HighBit: 15, PixelRepresentation: 0, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2', ...overrides }, new Uint16Array(4));

beforeAll(async () => {
  // Instances above 1 MiB are too large to de-identify in memory here (MAX_DECOMPRESSED_BYTES).
  archive = await startTestArchive({ maxDecompressedBytes: 1024 * 1024 });
  root = archive.url.replace(/\/dicomweb$/, '');
  expect((await stow(archive.url, [instance(studies[0]), instance(studies[0]), instance(studies[1], { StudyDate: '20240115' }), instance(studies[1], { SOPInstanceUID: burnedIn, BurnedInAnnotation: 'YES' }), sampleBytes(CT.file)])).status).toBe(200);
});
afterAll(async () => archive?.dispose());

async function exportOf(body: unknown): Promise<ExportJob> {
  const started = await fetch(`${root}/exports`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  expect(started.status, await started.clone().text()).toBe(202);
  const job = (await started.json()) as ExportJob;
  expect(started.headers.get('location')).toBe(`/exports/${job.id}`);
  for (let i = 0; i < 200; i++) {
    const now = (await (await fetch(`${root}/exports/${job.id}`)).json()) as ExportJob;
    if (now.state !== 'running') return now;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the export did not finish');
}

const filesUnder = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? filesUnder(join(dir, f)) : [join(dir, f)]));

describe('de-identified export', () => {
  let first: ExportJob;

  it('copies a cohort chosen by query and by study, leaving out burned-in annotation, and says how far it got', async () => {
    first = await exportOf({ query: { PatientID: patient }, studies: [CT.study], options: ['retainLongitudinalModifiedDates'] });
    expect(first).toMatchObject({ state: 'done', progress: { studies: 3, instances: 5, copied: 4, excluded: 1, failed: 0 }, request: { options: ['retainLongitudinalModifiedDates'], includeBurnedIn: false } });
    const files = filesUnder(first.destination);
    expect(files.filter((f) => f.endsWith('.dcm'))).toHaveLength(4);
    const manifest = JSON.parse(readFileSync(join(first.destination, 'manifest.json'), 'utf8')) as { instances: Array<{ file: string; studyInstanceUID: string; patient: string }>; excluded: number };
    expect(manifest.instances).toHaveLength(4);
    expect(manifest.excluded).toBe(1);
    expect(new Set(manifest.instances.map((i) => i.patient)).size).toBe(2); // the test patient and the CT's
  });

  it('leaves no original identifier in any exported file or in the manifest, and the CT passes dciodvfy as its original does', () => {
    const originals = [patient, 'Export', 'Alice', 'Marie', '19610412', '20240105', '20240115', 'ACC-778899', 'Saint Example Hospital', ...studies, burnedIn, CT.study, CT.patient, 'CompressedSamples'];
    for (const file of filesUnder(first.destination)) {
      const bytes = readFileSync(file);
      for (const value of originals) expect(bytes.includes(Buffer.from(value)), `${value} in ${file}`).toBe(false);
    }
    const ct = filesUnder(first.destination).find((f) => f.endsWith('.dcm') && readFileSync(f).length > 10_000)!;
    const kind = (e: string) => e.replace(/<[^>]*>/g, '<>');
    const before = new Set(dciodvfyErrors(sampleBytes(CT.file)).errors.map(kind));
    expect(dciodvfyErrors(readFileSync(ct)).errors.filter((e) => !before.has(kind(e)))).toEqual([]);
  });

  it('keeps which copy came from which original, and why one was left out', async () => {
    const res = await fetch(`${root}/exports/${first.id}/manifest`);
    expect(res.status).toBe(200);
    const entries = (await res.json()) as ExportManifestEntry[];
    expect(entries).toHaveLength(5);
    expect(entries.find((e) => e.original.sopInstanceUID === burnedIn)).toMatchObject({ status: 'excluded', reason: expect.stringMatching(/Burned In Annotation is YES/) });
    const copied = entries.filter((e) => e.status === 'copied');
    expect(new Set(copied.filter((e) => studies.includes(e.original.studyInstanceUID)).map((e) => e.copy!.studyInstanceUID)).size).toBe(2);
    for (const e of copied) expect(statSync(join(first.destination, '..', e.copy!.file)).isFile()).toBe(true);
  });

  it('links a later export of the same patient to the first: same pseudonym, same study UIDs, dates shifted alike', async () => {
    const again = await exportOf({ studies: [studies[1]], options: ['retainLongitudinalModifiedDates'], includeBurnedIn: true });
    expect(again.progress).toMatchObject({ studies: 1, instances: 2, copied: 2, excluded: 0 });
    const firstManifest = JSON.parse(readFileSync(join(first.destination, 'manifest.json'), 'utf8')) as { instances: Array<{ studyInstanceUID: string; patient: string }> };
    const againManifest = JSON.parse(readFileSync(join(again.destination, 'manifest.json'), 'utf8')) as { instances: Array<{ studyInstanceUID: string; patient: string }> };
    const copyStudy = againManifest.instances[0].studyInstanceUID;
    expect(firstManifest.instances.some((i) => i.studyInstanceUID === copyStudy && i.patient === againManifest.instances[0].patient)).toBe(true);
  });

  it('finishes an export whose query matches nothing, empty', async () => {
    const none = await exportOf({ query: { PatientID: 'NOBODY-AT-ALL' } });
    expect(none).toMatchObject({ state: 'done', progress: { studies: 0, instances: 0, copied: 0 } });
    expect(JSON.parse(readFileSync(join(none.destination, 'manifest.json'), 'utf8'))).toMatchObject({ instances: [] });
  });

  it('fails an instance too large to de-identify in memory, with the reason, and goes on', async () => {
    const large = uid();
    const big = syntheticInstance({ StudyInstanceUID: large, SeriesInstanceUID: `${large}.1`, PatientID: patient, Rows: 800, Columns: 800, BitsAllocated: 16, BitsStored: 16, HighBit: 15, PixelRepresentation: 0, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2' }, new Uint16Array(800 * 800));
    expect((await stow(archive.url, [big, instance(large)])).status).toBe(200);
    const job = await exportOf({ studies: [large] });
    expect(job).toMatchObject({ state: 'done', progress: { instances: 2, copied: 1, failed: 1 } });
    const entries = (await (await fetch(`${root}/exports/${job.id}/manifest`)).json()) as ExportManifestEntry[];
    expect(entries.find((e) => e.status === 'failed')?.reason).toMatch(/more than the 1048576 \(MAX_DECOMPRESSED_BYTES\) de-identified in memory/);
  });

  it('refuses a request it cannot carry out, naming what is wrong', async () => {
    const post = (body: string) => fetch(`${root}/exports`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    for (const [body, reason] of [
      ['{', /must be JSON/],
      ['{}', /name the cohort/],
      ['{"studies": ["1.2.3"], "options": ["retainEverything"]}', /field "options.0"/],
      ['{"studies": ["1.2.3"], "options": ["retainSafePrivate"]}', /Retain Safe Private Option is not supported/],
      ['{"studies": ["1.2.x"]}', /Study Instance UID in "studies"/],
      ['{"query": {"NoSuchAttribute": "x"}}', /NoSuchAttribute/],
      ['{"studies": ["1.2.3"], "destination": "/etc"}', /Unrecognized key/],
    ] as const) {
      const res = await post(body);
      expect(res.status, body).toBe(400);
      expect(((await res.json()) as { error: string }).error, body).toMatch(reason);
    }
    expect((await fetch(`${root}/exports/no-such-export`)).status).toBe(404);
  });

  it('records every export in the audit trail, before its first copy and with its outcome, with the destination', async () => {
    const trail = (await (await fetch(`${root}/audit/events?patient=${patient}`)).json()) as { records: AuditRecord[] };
    const exports = trail.records.filter((r) => r.EventIdentification.EventID.code === '110106' && r.ActiveParticipant.some((p) => p.UserID === first.destination));
    expect(exports.map((r) => r.EventIdentification.EventOutcomeDescription)).toEqual(['4 copied, 1 left out, 0 failed', 'export of 3 studies begins']);
    expect(exports[0].ParticipantObjectIdentification.filter((o) => o.ParticipantObjectTypeCodeRole === 3).map((o) => o.ParticipantObjectID).sort()).toEqual([...studies, CT.study].sort());
  });
});
