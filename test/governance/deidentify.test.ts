// De-identified copies (PS3.15 Annex E) of every sample the archive would store: no original identifier
// anywhere in a copy's bytes, no dciodvfy error the original did not have, pydicom reads each and finds
// what was done recorded; replacements are consistent under one secret and unrelated under another; the
// options keep what they say; burned-in annotation and encapsulated documents are left out.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { datasetToJson, type DicomJson } from '../../lambdas/dicom/json-model.js';
import { readInstance } from '../../lambdas/dicom/instance.js';
import { parseDicom } from '../../lambdas/dicom/parser.js';
import { Tag, tagToHex } from '../../lambdas/dicom/tags.js';
import { deidentifyInstance, type DeidentifyResult } from '../../lambdas/governance/deidentify/deidentify.js';
import type { ProfileOption } from '../../lambdas/governance/deidentify/profile.js';
import { Pseudonyms } from '../../lambdas/governance/deidentify/pseudonyms.js';
import { dciodvfyErrors } from '../helpers/dciodvfy.js';
import { sampleBytes, samples } from '../helpers/samples.js';
import { syntheticInstance, uid } from '../helpers/synthetic.js';

const secret = Buffer.alloc(32, 7);
const pseudonyms = new Pseudonyms(secret);
const basic = { options: new Set<ProfileOption>() };
const work = mkdtempSync(join(tmpdir(), 'deid-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Samples the archive stores (an instance needs its UIDs; a few test files lack them). */
const storable = samples.filter((s) => {
  try {
    readInstance(sampleBytes(s.file));
    return true;
  } catch {
    return false;
  }
});

/** Identifying attributes whose original values must not survive anywhere in a copy. */
const IDENTIFYING = ['PatientID', 'PatientName', 'PatientBirthDate', 'StudyInstanceUID', 'SeriesInstanceUID', 'SOPInstanceUID', 'FrameOfReferenceUID', 'AccessionNumber', 'StudyID', 'InstitutionName', 'InstitutionAddress', 'ReferringPhysicianName', 'PerformingPhysicianName', 'OperatorsName', 'StationName', 'DeviceSerialNumber', 'StudyDate', 'SeriesDate', 'AcquisitionDate', 'ContentDate', 'StudyDescription'];
const TAGS: Record<string, string> = { PatientBirthDate: '00100030', FrameOfReferenceUID: '00200052', InstitutionName: '00080080', InstitutionAddress: '00080081', ReferringPhysicianName: '00080090', PerformingPhysicianName: '00081050', OperatorsName: '00081070', StationName: '00081010', DeviceSerialNumber: '00181000', SeriesDate: '00080021', AcquisitionDate: '00080022', ContentDate: '00080023', StudyDescription: '00081030' };
const tagOf = (name: string) => TAGS[name] ?? tagToHex(Tag[name as keyof typeof Tag]);

/** Every string a value holds (a person name's components one by one). */
const strings = (attr: DicomJson[string] | undefined): string[] =>
  (attr?.Value ?? []).flatMap((v) => (typeof v === 'string' ? [v] : v && typeof v === 'object' && 'Alphabetic' in v ? Object.values(v).flatMap((p) => String(p).split('^')) : [])).map((s) => s.trim());

/** The copy's bytes with its pixel data blanked: identifiers are searched for in everything else. */
function bytesOutsidePixels(copy: Uint8Array): Buffer {
  const out = Buffer.from(copy);
  const parsed = parseDicom(copy);
  const pixels = parsed.dataset.elements.get(Tag.PixelData);
  if (pixels) out.fill(0, pixels.offset, pixels.offset + pixels.length);
  return out;
}

const copies = new Map<string, Extract<DeidentifyResult, { status: 'copied' }>>();
const excluded = new Map<string, string>();
for (const s of storable) {
  const r = deidentifyInstance(sampleBytes(s.file), pseudonyms, basic);
  if (r.status === 'copied') copies.set(s.file, r);
  else excluded.set(s.file, r.reason);
}

describe('de-identified copies of the samples (Basic Application Level Confidentiality Profile)', () => {
  it('copies every storable sample but those with burned-in annotation or an encapsulated document', () => {
    expect(storable.length).toBeGreaterThan(140);
    expect(copies.size).toBeGreaterThan(140);
    expect([...excluded.values()].every((r) => /Burned In Annotation|encapsulated document/.test(r))).toBe(true);
    expect([...excluded.keys()]).toEqual(expect.arrayContaining(['orthanc-tests/sample-pdf.dcm']));
  });

  it('leaves no original identifier in the bytes of any copy', () => {
    const leaks: string[] = [];
    for (const [file, copy] of copies) {
      const original = datasetToJson(parseDicom(sampleBytes(file)).dataset);
      const haystack = bytesOutsidePixels(copy.bytes);
      for (const name of IDENTIFYING) {
        for (const value of strings(original[tagOf(name)])) {
          // Shorter values ("0010", "M") turn up by chance in any file; the dummy values are the copy's own.
          if (value.length < 6 || value === 'ANONYMIZED' || value === '19000101') continue;
          if (haystack.includes(Buffer.from(value, 'utf8')) || haystack.includes(Buffer.from(value, 'latin1'))) leaks.push(`${file}: ${name} "${value}"`);
        }
      }
    }
    expect(leaks).toEqual([]);
  });

  it('adds no dciodvfy error the original did not have', () => {
    const introduced: string[] = [];
    const checked = [...copies.keys()].filter((_, i) => i % 4 === 0); // every fourth sample: dciodvfy takes ~50 ms a file
    for (const file of checked) {
      // The same complaint about the same element, whatever the value it quotes (<…>: UIDs are replaced).
      const kind = (e: string) => e.replace(/<[^>]*>/g, '<>');
      const before = new Set(dciodvfyErrors(sampleBytes(file)).errors.map(kind));
      for (const e of dciodvfyErrors(copies.get(file)!.bytes).errors) if (!before.has(kind(e))) introduced.push(`${file}: ${e}`);
    }
    expect(checked.length).toBeGreaterThan(35);
    expect(introduced).toEqual([]);
  });

  it('is read by pydicom with what was done recorded, UIDs replaced and the patient pseudonymised', () => {
    const file = join(work, 'ct.dcm');
    const copy = copies.get('highdicom/ct_image.dcm')!;
    writeFileSync(file, copy.bytes);
    const script = `import pydicom, json; d = pydicom.dcmread('${file}'); print(json.dumps([str(d.PatientIdentityRemoved), [str(x) for x in (d.DeidentificationMethod if d['DeidentificationMethod'].VM > 1 else [d.DeidentificationMethod])], [i.CodeValue for i in d.DeidentificationMethodCodeSequence], str(d.PatientID), str(d.PatientName), d.StudyInstanceUID, d.SOPInstanceUID, d.file_meta.MediaStorageSOPInstanceUID, 'PatientBirthDate' in d and d.PatientBirthDate, str(d.LongitudinalTemporalInformationModified)]))`;
    const [removed, method, codes, id, name, study, sop, metaSop, birth, temporal] = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8' })) as unknown[];
    expect([removed, method, codes, temporal]).toEqual(['YES', ['Basic Application Confidentiality Profile'], ['113100'], 'REMOVED']);
    expect(id).toBe(copy.patientPseudonym);
    expect(name).toBe(copy.patientPseudonym);
    expect(id).toMatch(/^PSN[A-Z2-7]{13}$/);
    expect(study).toBe(copy.copy.studyInstanceUID);
    expect(study).toMatch(/^2\.25\.\d+$/);
    expect(sop).toBe(metaSop);
    expect(birth === false || birth === '').toBe(true);
  });
});

describe('replacements', () => {
  const two = (overrides: Record<string, string>) =>
    syntheticInstance({ StudyInstanceUID: '1.2.826.0.1.3680043.10.1.1', SeriesInstanceUID: uid(), SOPInstanceUID: uid(), PatientID: 'MRN-123456', PatientName: 'Doe^Jane', StudyDate: '20240131', PatientSex: 'F', PatientAge: '042Y', Rows: 2, Columns: 2, BitsAllocated: 16, BitsStored: 16, HighBit: 15, PixelRepresentation: 0, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2', ...overrides }, new Uint16Array(4));
  const copied = (r: DeidentifyResult) => {
    if (r.status !== 'copied') throw new Error(r.reason);
    return { ...r, json: datasetToJson(parseDicom(r.bytes).dataset) };
  };

  it('are the same for the same patient and study under one secret, and unrelated under another', () => {
    const a = copied(deidentifyInstance(two({}), pseudonyms, basic));
    const b = copied(deidentifyInstance(two({}), pseudonyms, basic));
    expect(a.copy.studyInstanceUID).toBe(b.copy.studyInstanceUID);
    expect(a.patientPseudonym).toBe(b.patientPseudonym);
    expect(a.copy.sopInstanceUID).not.toBe(b.copy.sopInstanceUID);
    const other = copied(deidentifyInstance(two({}), new Pseudonyms(Buffer.alloc(32, 8)), basic));
    expect(other.copy.studyInstanceUID).not.toBe(a.copy.studyInstanceUID);
    expect(other.patientPseudonym).not.toBe(a.patientPseudonym);
    // The same Patient ID from another issuer is another patient.
    expect(copied(deidentifyInstance(two({ IssuerOfPatientID: 'OTHER-HOSPITAL' }), pseudonyms, basic)).patientPseudonym).not.toBe(a.patientPseudonym);
  });

  it('keep patient characteristics and shift every date of a patient by the same days when asked', () => {
    const plain = copied(deidentifyInstance(two({}), pseudonyms, basic)).json;
    expect(plain['00100040']?.Value).toBeUndefined(); // Patient's Sex emptied by the basic profile
    expect(plain['00080020']?.Value).toBeUndefined(); // Study Date emptied
    const options = new Set<ProfileOption>(['retainPatientCharacteristics', 'retainLongitudinalModifiedDates']);
    const first = copied(deidentifyInstance(two({}), pseudonyms, { options })).json;
    const later = copied(deidentifyInstance(two({ StudyInstanceUID: '1.2.826.0.1.3680043.10.1.2', StudyDate: '20240210' }), pseudonyms, { options })).json;
    expect(first['00100040'].Value).toEqual(['F']);
    expect(first['00101010'].Value).toEqual(['042Y']);
    const d1 = String(first['00080020'].Value![0]);
    const d2 = String(later['00080020'].Value![0]);
    expect(d1).not.toBe('20240131');
    const days = (d: string) => Date.UTC(Number(d.slice(0, 4)), Number(d.slice(4, 6)) - 1, Number(d.slice(6, 8))) / 86_400_000;
    expect(days(d2) - days(d1)).toBe(10); // the interval between the studies is kept
    expect(first['00280303'].Value).toEqual(['MODIFIED']);
    expect((first['00120064'].Value as DicomJson[]).map((c) => c['00080100'].Value![0])).toEqual(['113100', '113108', '113107']);
  });

  it('leaves out an instance flagged Burned In Annotation unless asked, and refuses an option it cannot honour', () => {
    const burned = two({ BurnedInAnnotation: 'YES' });
    expect(deidentifyInstance(burned, pseudonyms, basic)).toMatchObject({ status: 'excluded', reason: expect.stringMatching(/Burned In Annotation is YES/) });
    expect(deidentifyInstance(burned, pseudonyms, { ...basic, includeBurnedIn: true }).status).toBe('copied');
    expect(() => deidentifyInstance(two({}), pseudonyms, { options: new Set<ProfileOption>(['retainSafePrivate']) })).toThrow(/Retain Safe Private Option is not supported/);
  });
});
