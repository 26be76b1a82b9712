// The DIMSE edge against dcmtk's tools: C-ECHO, C-STORE of every sample as it is encoded (the outcome
// STOW-RS gives the same file, the data set kept byte for byte), C-FIND at each level agreeing with QIDO-RS.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tagToHex } from '../../lambdas/dicom/dictionary.js';
import type { DicomJson } from '../../lambdas/dicom/json-model.js';
import { parseDicom } from '../../lambdas/dicom/parser.js';
import { Tag } from '../../lambdas/dicom/tags.js';
import { TransferSyntax } from '../../lambdas/dicom/transfer-syntax.js';
import { getMultipart, startTestArchive, stow, type TestArchive } from '../helpers/archive.js';
import { dcmtk, dimseSettings, findscu, startStorescp } from '../helpers/dcmtk.js';
import { sampleBytes, samples } from '../helpers/samples.js';

/** storescu's option that proposes a file's own syntax (dcmtk 3.6.7 has none for HTJ2K, JPEG XL and the retired JPEG processes). */
const PROPOSE: Record<string, string> = {
  [TransferSyntax.ImplicitVRLittleEndian]: '-xi',
  [TransferSyntax.ExplicitVRLittleEndian]: '-xe',
  [TransferSyntax.ExplicitVRBigEndian]: '-xb',
  [TransferSyntax.DeflatedExplicitVRLittleEndian]: '-xd',
  '1.2.840.10008.1.2.4.50': '-xy',
  '1.2.840.10008.1.2.4.51': '-xx',
  '1.2.840.10008.1.2.4.70': '-xs',
  '1.2.840.10008.1.2.4.80': '-xt',
  '1.2.840.10008.1.2.4.81': '-xu',
  '1.2.840.10008.1.2.4.90': '-xv',
  '1.2.840.10008.1.2.4.91': '-xw',
  '1.2.840.10008.1.2.5': '-xr',
};

/** The failure statuses storescu names instead of printing them. */
const ERROR_NAMES: Record<string, string> = { CannotUnderstand: 'c000', DataSetDoesNotMatchSOPClass: 'a900', OutOfResources: 'a700' };

type Outcome = 'stored' | 'warning' | `failed ${string}`;

const str = (json: DicomJson, tag: number) => json[tagToHex(tag)]?.Value?.[0] as string | undefined;

let dimse: TestArchive;
let reference: TestArchive;
let port: number;
/** Each file sent, its outcome over DIMSE and through STOW-RS of what dcmtk's storescp received of it. */
const sent: Array<{ file: string; syntax: string; dimse: Outcome; stow: Outcome; received: Buffer }> = [];

function stowOutcome(result: Awaited<ReturnType<typeof stow>>): Outcome {
  if (result.status === 200) return 'stored';
  if (result.status === 202) return 'warning';
  const failed = result.body[tagToHex(Tag.FailedSOPSequence)]?.Value?.[0] as DicomJson | undefined;
  return `failed ${Number(failed?.[tagToHex(Tag.FailureReason)]?.Value?.[0] ?? 0).toString(16)}`;
}

/** storescu -v prints each response: "Received Store Response (Success)", "(Warning …)", or a failure status. */
function storescuOutcome(output: string): Outcome {
  if (/Received Store Response \(Success\)/.test(output)) return 'stored';
  if (/Received Store Response \(Warning/.test(output)) return 'warning';
  const status = /Received Store Response \((?:Unknown Status: 0x([0-9a-f]+)|Error: (\w+))/i.exec(output);
  return `failed ${status?.[1] ?? ERROR_NAMES[status?.[2] ?? ''] ?? status?.[2] ?? 'none'}`;
}

beforeAll(async () => {
  const settings = await dimseSettings();
  port = settings.port;
  dimse = await startTestArchive({}, undefined, { dimse: settings });
  reference = await startTestArchive();
  const receivedDir = mkdtempSync(join(tmpdir(), 'storescp-'));
  // dcmtk's storescp writing what it receives bit for bit (+B): the reference for what arrived.
  const scp = await startStorescp(receivedDir, ['+B']);
  try {
    for (const sample of samples) {
      let syntax = '(no meta)';
      try {
        syntax = parseDicom(sampleBytes(sample.file)).transferSyntaxUID;
      } catch {
        // unreadable files are offered as they are: storescu decides whether it can send them
      }
      const option = syntax === '(no meta)' ? '-x=' : PROPOSE[syntax];
      if (!option) continue;
      const args = ['-v', '-R', option, '-aec', 'CLOUDPACS', '127.0.0.1'];
      const run = await dcmtk('storescu', [...args, String(port), sample.path]);
      if (!/Received Store Response/.test(run.output)) continue; // storescu itself would not send it
      for (const f of readdirSync(receivedDir)) rmSync(join(receivedDir, f));
      const copied = await dcmtk('storescu', [...args.slice(0, -3), '-aec', 'REFERENCE', '127.0.0.1', String(scp.port), sample.path]);
      const [copy] = readdirSync(receivedDir);
      if (!copy) throw new Error(`storescp received no copy of ${sample.file}: ${copied.output}`);
      const received = readFileSync(join(receivedDir, copy));
      sent.push({ file: sample.file, syntax, dimse: storescuOutcome(run.output), stow: stowOutcome(await stow(reference.url, [received])), received });
    }
  } finally {
    scp.stop();
    rmSync(receivedDir, { recursive: true, force: true });
  }
}, 300_000);

afterAll(async () => {
  await dimse?.dispose();
  await reference?.dispose();
});

describe('C-ECHO', () => {
  it('answers echoscu', async () => {
    const run = await dcmtk('echoscu', ['-v', '-aec', 'CLOUDPACS', '127.0.0.1', String(port)]);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/Received Echo Response \(Success\)/);
  });

  it('rejects an association that calls another AE title', async () => {
    const run = await dcmtk('echoscu', ['-aec', 'NOTTHEPACS', '127.0.0.1', String(port)]);
    expect(run.code).not.toBe(0);
    expect(run.output).toMatch(/Called AE Title Not Recognized/i);
  });
});

describe('C-STORE of every sample as it is encoded', () => {
  it('sends most samples in their own transfer syntax', () => {
    expect(sent.length).toBeGreaterThan(140);
    expect(new Set(sent.map((s) => s.syntax)).size).toBeGreaterThanOrEqual(12);
  });

  it('gives each file the outcome STOW-RS gives it (stored, warning, or the same failure reason)', () => {
    const differing = sent.filter((s) => s.dimse !== s.stow).map(({ file, dimse, stow }) => ({ file, dimse, stow }));
    expect(differing).toEqual([]);
    expect(sent.filter((s) => s.dimse === 'stored').length).toBeGreaterThan(100);
  });

  it('keeps the data set byte for byte: WADO-RS returns what dcmtk sent', async () => {
    const checked = sent.filter((s) => s.dimse === 'stored');
    for (const s of checked) {
      const original = parseDicom(s.received);
      const sop = str(datasetJson(original), Tag.SOPInstanceUID)!;
      const study = str(datasetJson(original), Tag.StudyInstanceUID)!;
      const series = str(datasetJson(original), Tag.SeriesInstanceUID)!;
      const res = await getMultipart(`${dimse.url}/studies/${study}/series/${series}/instances/${sop}`, 'multipart/related; type="application/dicom"; transfer-syntax=*');
      expect(res.status, s.file).toBe(200);
      const stored = parseDicom(res.parts[0].body);
      expect(stored.transferSyntaxUID, s.file).toBe(original.transferSyntaxUID);
      // A deflated data set is compared inflated: storescp writes it re-deflated.
      const dataSetBytes = (parsed: ReturnType<typeof parseDicom>, file: Uint8Array) => (parsed.datasetOffset === undefined ? parsed.dataset.bytes : file.subarray(parsed.datasetOffset));
      expect(Buffer.compare(dataSetBytes(stored, res.parts[0].body), dataSetBytes(original, s.received)), s.file).toBe(0);
    }
    expect(checked.length).toBeGreaterThan(90);
  });
});

function datasetJson(parsed: ReturnType<typeof parseDicom>): DicomJson {
  return Object.fromEntries(
    [Tag.SOPInstanceUID, Tag.StudyInstanceUID, Tag.SeriesInstanceUID].map((tag) => {
      const el = parsed.dataset.elements.get(tag)!;
      const text = Buffer.from(parsed.dataset.bytes.subarray(el.offset, el.offset + el.length)).toString('latin1').replace(/[\0 ]+$/, '');
      return [tagToHex(tag), { vr: 'UI', Value: [text] }];
    }),
  );
}

async function qido(path: string): Promise<DicomJson[]> {
  const res = await fetch(`${dimse.url}${path}`, { headers: { Accept: 'application/dicom+json' } });
  expect(res.status).toBe(200);
  return (await res.json()) as DicomJson[];
}

const uids = (answers: DicomJson[], tag: number) => answers.map((a) => str(a, tag)).sort();

describe('C-FIND agrees with QIDO-RS', () => {
  it('STUDY level, every study', async () => {
    const { run, answers } = await findscu(port, ['-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID', '-k', 'PatientName', '-k', 'ModalitiesInStudy', '-k', 'NumberOfStudyRelatedInstances']);
    expect(run.code, run.output).toBe(0);
    const studies = await qido('/studies?limit=10000');
    expect(uids(answers, Tag.StudyInstanceUID)).toEqual(uids(studies, Tag.StudyInstanceUID));
    const one = studies[0];
    const answer = answers.find((a) => str(a, Tag.StudyInstanceUID) === str(one, Tag.StudyInstanceUID))!;
    expect(answer[tagToHex(Tag.NumberOfStudyRelatedInstances)]?.Value?.map(Number)).toEqual(one[tagToHex(Tag.NumberOfStudyRelatedInstances)]?.Value?.map(Number));
  });

  it('STUDY level with a wildcard name and a date range', async () => {
    const { answers } = await findscu(port, ['-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID', '-k', 'PatientName=*a*', '-k', 'StudyDate=19900101-20101231']);
    const studies = await qido('/studies?PatientName=*a*&StudyDate=19900101-20101231&limit=10000');
    expect(studies.length).toBeGreaterThan(0);
    expect(uids(answers, Tag.StudyInstanceUID)).toEqual(uids(studies, Tag.StudyInstanceUID));
  });

  it('SERIES and IMAGE levels within a study', async () => {
    const [study] = await qido('/studies?ModalitiesInStudy=CT&limit=1');
    const studyUid = str(study, Tag.StudyInstanceUID)!;
    const series = await findscu(port, ['-S', '-k', 'QueryRetrieveLevel=SERIES', '-k', `StudyInstanceUID=${studyUid}`, '-k', 'SeriesInstanceUID', '-k', 'Modality']);
    expect(uids(series.answers, Tag.SeriesInstanceUID)).toEqual(uids(await qido(`/studies/${studyUid}/series`), Tag.SeriesInstanceUID));
    const seriesUid = str(series.answers[0], Tag.SeriesInstanceUID)!;
    const images = await findscu(port, ['-S', '-k', 'QueryRetrieveLevel=IMAGE', '-k', `StudyInstanceUID=${studyUid}`, '-k', `SeriesInstanceUID=${seriesUid}`, '-k', 'SOPInstanceUID', '-k', 'InstanceNumber']);
    expect(uids(images.answers, Tag.SOPInstanceUID)).toEqual(uids(await qido(`/studies/${studyUid}/series/${seriesUid}/instances`), Tag.SOPInstanceUID));
  });

  it('PATIENT level (Patient Root): one answer per patient, with the number of their studies', async () => {
    const { run, answers } = await findscu(port, ['-P', '-k', 'QueryRetrieveLevel=PATIENT', '-k', 'PatientID', '-k', 'PatientName', '-k', 'NumberOfPatientRelatedStudies']);
    expect(run.code, run.output).toBe(0);
    const studies = await qido('/studies?limit=10000');
    const patientIds = new Set(studies.map((s) => JSON.stringify(s[tagToHex(Tag.PatientID)]?.Value ?? [])));
    expect(answers.length).toBeGreaterThan(1);
    expect(answers.length).toBeLessThanOrEqual(patientIds.size);
    const total = answers.reduce((n, a) => n + Number(a[tagToHex(0x00201200)]?.Value?.[0] ?? 0), 0);
    expect(total).toBe(studies.length);
  });

  it('matches a Cyrillic name sent in ISO_IR 144 and answers it in ISO_IR 144', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'query-'));
    try {
      const query = join(dir, 'query.dcm');
      // pydicom encodes the name in ISO 8859-5, as a Russian workstation would.
      execFileSync('/usr/bin/python3', [
        '-c',
        `import sys; from pydicom.dataset import Dataset; ds = Dataset(); ds.SpecificCharacterSet = 'ISO_IR 144'; ds.QueryRetrieveLevel = 'STUDY'; ds.PatientName = 'Люкceмбypг*'; ds.StudyInstanceUID = ''; ds.is_little_endian = True; ds.is_implicit_VR = False; ds.save_as(sys.argv[1], write_like_original=True)`,
        query,
      ]);
      const { run, answers } = await findscu(port, ['-S'], [query]);
      expect(run.code, run.output).toBe(0);
      const studies = await qido(`/studies?PatientName=${encodeURIComponent('Люкceмбypг*')}`);
      expect(studies.length).toBe(1);
      expect(uids(answers, Tag.StudyInstanceUID)).toEqual(uids(studies, Tag.StudyInstanceUID));
      expect((answers[0][tagToHex(Tag.PatientName)]?.Value?.[0] as { Alphabetic: string }).Alphabetic).toMatch(/^Люкceмбypг/);
      // Every character of the answer is in ISO 8859-5 (Cyrillic and ASCII): answered in the set it was asked in.
      expect(answers[0]['00080005']?.Value).toEqual(['ISO_IR 144']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers a Latin-1 request in Latin-1 when every character fits, and says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latin1-'));
    try {
      // An instance whose name needs Latin-1, stored through STOW-RS, then a query sent in ISO_IR 100.
      execFileSync('/usr/bin/python3', [
        '-c',
        `import sys
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import generate_uid, ExplicitVRLittleEndian
meta = FileMetaDataset(); meta.MediaStorageSOPClassUID = '1.2.840.10008.5.1.4.1.1.7'; meta.MediaStorageSOPInstanceUID = generate_uid(); meta.TransferSyntaxUID = ExplicitVRLittleEndian
ds = Dataset(); ds.file_meta = meta; ds.SpecificCharacterSet = 'ISO_IR 100'; ds.SOPClassUID = meta.MediaStorageSOPClassUID; ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
ds.StudyInstanceUID = generate_uid(); ds.SeriesInstanceUID = generate_uid(); ds.PatientName = 'Müller^Jürgen'; ds.PatientID = 'LATIN1'; ds.Modality = 'OT'
ds.is_little_endian = True; ds.is_implicit_VR = False; ds.save_as(sys.argv[1], write_like_original=False)
q = Dataset(); q.SpecificCharacterSet = 'ISO_IR 100'; q.QueryRetrieveLevel = 'STUDY'; q.PatientName = 'Müller*'; q.StudyInstanceUID = ''
q.is_little_endian = True; q.is_implicit_VR = False; q.save_as(sys.argv[2], write_like_original=True)`,
        join(dir, 'instance.dcm'),
        join(dir, 'query.dcm'),
      ]);
      expect((await stow(dimse.url, [readFileSync(join(dir, 'instance.dcm'))])).status).toBe(200);
      const { run, answers } = await findscu(port, ['-S'], [join(dir, 'query.dcm')]);
      expect(run.code, run.output).toBe(0);
      expect(answers).toHaveLength(1);
      expect(answers[0]['00080005']?.Value).toEqual(['ISO_IR 100']);
      expect((answers[0][tagToHex(Tag.PatientName)]?.Value?.[0] as { Alphabetic: string }).Alphabetic).toBe('Müller^Jürgen');
      // Asked in ISO_IR 144 (Cyrillic), which has no "ü": the answer comes in UTF-8, and says so.
      const cyrillic = await findscu(port, ['-S', '-k', 'SpecificCharacterSet=ISO_IR 144', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'PatientID=LATIN1', '-k', 'PatientName']);
      expect(cyrillic.answers.map((a) => a['00080005']?.Value)).toEqual([['ISO_IR 192']]);
      expect((cyrillic.answers[0][tagToHex(Tag.PatientName)]?.Value?.[0] as { Alphabetic: string }).Alphabetic).toBe('Müller^Jürgen');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops when the requester cancels (C-CANCEL)', async () => {
    const { run, answers } = await findscu(port, ['-S', '--cancel', '2', '-k', 'QueryRetrieveLevel=IMAGE', '-k', 'SOPInstanceUID']);
    expect(run.output).toMatch(/Cancel/i);
    expect(answers.length).toBeLessThan(sent.filter((s) => s.dimse === 'stored' || s.dimse === 'warning').length);
  });

  it('refuses an identifier without a valid level', async () => {
    const { run, answers } = await findscu(port, ['-S', '-k', 'QueryRetrieveLevel=VOLUME', '-k', 'StudyInstanceUID']);
    expect(answers).toEqual([]);
    expect(run.output).toMatch(/Final Find Response \(Error: DataSetDoesNotMatchSOPClass\)/); // A900, dcmtk's name for it
  });
});
