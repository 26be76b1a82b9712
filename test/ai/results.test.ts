// The DICOM objects the AI pipeline writes: SEG and TID 1500 SR from typed values, checked by dciodvfy
// and read back by pydicom; and the shipped ONNX model, rebuilt and run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readInstance } from '../../lambdas/dicom/instance.js';
import { DatasetError } from '../../lambdas/dicom/writer.js';
import { buildImageNoiseModel } from '../../lambdas/ai/models/build-image-noise-model.js';
import { IMAGE_NOISE_MODEL } from '../../lambdas/ai/models/model-info.js';
import { Codes, Units } from '../../lambdas/ai/results/codes.js';
import type { ResultIdentity } from '../../lambdas/ai/results/common.js';
import { COMPREHENSIVE_SR, writeMeasurementReport, type MeasurementReport } from '../../lambdas/ai/results/measurement-report.js';
import { SEGMENTATION_STORAGE, writeSegmentation, type BinarySegmentation } from '../../lambdas/ai/results/segmentation.js';
import { ModelStore } from '../../lambdas/ai/runtime/model-store.js';
import { ModelRuntime } from '../../lambdas/ai/runtime/onnx-runtime.js';
import { FsBlobStore } from '../../lambdas/storage/local/fs-blob-store.js';
import { SqliteAiState } from '../../lambdas/storage/local/sqlite-ai-state.js';
import { dciodvfyErrors } from '../helpers/dciodvfy.js';
import { syntheticCt } from '../helpers/synthetic-ct.js';
import { uid } from '../helpers/synthetic.js';

const ct = syntheticCt({ patientID: 'R1', studyDate: '20240102', studyDescription: 'CT CHEST', extra: { SpecificCharacterSet: 'ISO_IR 192', PatientName: 'Yamada^Tarou=山田^太郎' } });
const source = readInstance(ct.files[0]);
const slices = ct.files.map((f) => readInstance(f));
const CT_IMAGE = '1.2.840.10008.5.1.4.1.1.2';

const identity = (n: number): ResultIdentity => ({
  study: source.metadata,
  studyInstanceUID: ct.studyInstanceUID,
  seriesInstanceUID: uid(),
  sopInstanceUID: uid(),
  seriesNumber: n,
  seriesDescription: 'test result',
  contentDateTime: new Date('2026-11-29T10:00:00Z'),
  algorithm: { name: 'Test Algorithm', version: '2.1.0', vendor: 'Serverless PACS' },
});

function segmentation(): BinarySegmentation {
  const mask = new Uint8Array(64 * 64);
  for (let i = 0; i < 40; i++) mask[2000 + i] = 1;
  return {
    identity: identity(9001),
    contentLabel: 'DENSE',
    contentDescription: 'test segmentation',
    geometry: { frameOfReferenceUID: uid(), imageOrientationPatient: [1, 0, 0, 0, 1, 0], pixelSpacing: [1, 1], sliceThickness: 2, rows: 64, columns: 64 },
    slices: slices.map((s, z) => ({ sopClassUID: CT_IMAGE, sopInstanceUID: s.sopInstanceUID, seriesInstanceUID: s.seriesInstanceUID, imagePositionPatient: [-32, -32, z * 2] })),
    segments: [{ label: 'Dense', category: Codes.AnatomicalStructure, type: Codes.Bone, algorithmName: 'Threshold', frames: [{ sliceIndex: 5, mask }, { sliceIndex: 3, mask }] }],
  };
}

function report(segSop: string, segSeries: string): MeasurementReport {
  const sources = slices.map((s) => ({ sopClassUID: CT_IMAGE, sopInstanceUID: s.sopInstanceUID, seriesInstanceUID: s.seriesInstanceUID }));
  return {
    identity: identity(9002),
    procedure: Codes.ComputedTomography,
    sourceImages: sources,
    groups: [
      {
        kind: 'volumetric',
        trackingIdentifier: 'dense 1',
        finding: Codes.Bone,
        segment: { segmentation: { sopClassUID: SEGMENTATION_STORAGE, sopInstanceUID: segSop, seriesInstanceUID: segSeries }, segmentNumber: 1, sourceSeriesInstanceUID: ct.seriesInstanceUID },
        measurements: [
          { name: Codes.Volume, value: 1.2345678901234, unit: Units.Milliliter },
          { name: Codes.AttenuationCoefficient, value: 998.5, unit: Units.HounsfieldUnit, derivation: Codes.Mean },
        ],
      },
      { kind: 'image', trackingIdentifier: 'noise', finding: Codes.AttenuationCoefficient, sources: sources.slice(0, 1), measurements: [{ name: Codes.AttenuationCoefficient, value: 10.2, unit: Units.HounsfieldUnit, derivation: Codes.StandardDeviation }] },
    ],
    evaluations: [{ name: Codes.Finding, value: 'No comparable prior study in the archive' }],
  };
}

const work = mkdtempSync(join(tmpdir(), 'ai-results-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function pydicom(script: string, file: string): string {
  return execFileSync('/usr/bin/python3', ['-c', script, file], { encoding: 'utf8' }).trim();
}

describe('DICOM SEG and SR written by the pipeline', () => {
  const seg = segmentation();
  const segBytes = writeSegmentation(seg);
  const srBytes = writeMeasurementReport(report(seg.identity.sopInstanceUID, seg.identity.seriesInstanceUID));

  it('the segmentation passes dciodvfy and pydicom reads its frames and patient', () => {
    expect(dciodvfyErrors(segBytes).errors).toEqual([]);
    const file = join(work, 'seg.dcm');
    writeFileSync(file, segBytes);
    const out = pydicom(
      'import sys, pydicom; d = pydicom.dcmread(sys.argv[1]); a = d.pixel_array; print(d.NumberOfFrames, int(a.sum()), str(d.PatientName), d.PerFrameFunctionalGroupsSequence[0].FrameContentSequence[0].DimensionIndexValues)',
      file,
    );
    // Frames are ordered along the slice normal: slice 3 before slice 5.
    expect(out).toBe('2 80 Yamada^Tarou=山田^太郎 [1, 4]');
  });

  it('the measurement report passes dciodvfy and keeps its values', () => {
    const { errors } = dciodvfyErrors(srBytes);
    expect(errors).toEqual([]);
    const parsed = readInstance(srBytes);
    expect(parsed.sopClassUID).toBe(COMPREHENSIVE_SR);
    const text = JSON.stringify(parsed.metadata);
    expect(text).toContain('"Value":[1.23456789]'); // a DS holds at most 16 characters
    expect(text).toContain('山田^太郎');
    expect(text).toContain('Test Algorithm');
    expect(text).toContain('2.1.0');
    expect(text).toContain(seg.identity.sopInstanceUID);
    expect(text).toContain('No comparable prior study in the archive');
  });

  it('refuses inconsistent content with a reason', () => {
    const empty = segmentation();
    empty.segments[0].frames = [];
    expect(() => writeSegmentation(empty)).toThrow(/is empty/);
    const wrongSize = segmentation();
    wrongSize.segments[0].frames[0].mask = new Uint8Array(10);
    expect(() => writeSegmentation(wrongSize)).toThrow(/expected 4096/);
    const badSlice = segmentation();
    badSlice.segments[0].frames[0].sliceIndex = 99;
    expect(() => writeSegmentation(badSlice)).toThrow(DatasetError);
    const nan = report('1.2.3', '1.2.4');
    nan.groups[0].measurements[0].value = Number.NaN;
    expect(() => writeMeasurementReport(nan)).toThrow(/not a finite number/);
    const noSources = report('1.2.3', '1.2.4');
    noSources.sourceImages = [];
    expect(() => writeMeasurementReport(noSources)).toThrow(/at least one source image/);
  });
});

describe('the shipped ONNX model', () => {
  it('is exactly what its build script produces', () => {
    expect(Buffer.from(buildImageNoiseModel()).equals(readFileSync(IMAGE_NOISE_MODEL.file))).toBe(true);
  });

  it('runs from the model store and estimates a known noise level; a tampered file is refused', async () => {
    const dir = mkdtempSync(join(work, 'models-'));
    const blobs = new FsBlobStore(join(dir, 'blobs'));
    const state = new SqliteAiState(join(dir, 'ai.sqlite'));
    const store = new ModelStore(blobs, state);
    const record = await store.register(IMAGE_NOISE_MODEL.name, IMAGE_NOISE_MODEL.version, readFileSync(IMAGE_NOISE_MODEL.file), IMAGE_NOISE_MODEL.provenance);
    await expect(store.register(IMAGE_NOISE_MODEL.name, IMAGE_NOISE_MODEL.version, new Uint8Array([1, 2, 3]), 'other')).rejects.toThrow(/different bytes/);
    const model = await new ModelRuntime(store).model(IMAGE_NOISE_MODEL.name, IMAGE_NOISE_MODEL.version);
    expect(model.sha256).toBe(record.sha256);
    let seed = 3;
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) + 1) / 0x80000000;
    for (const sigma of [5, 20, 40]) {
      const size = 256;
      const image = new Float32Array(size * size);
      for (let i = 0; i < image.length; i++) image[i] = 100 + sigma * Math.sqrt(-2 * Math.log(random())) * Math.cos(2 * Math.PI * random());
      // A sharp edge in the middle must not count as noise.
      for (let i = 0; i < image.length; i++) if (i % size > size / 2) image[i] += 1000;
      const out = await model.run({ image: { data: image, dims: [1, 1, size, size] }, exclude: { data: BigInt64Array.of(BigInt(Math.floor(0.2 * 254 * 254))), dims: [1] } });
      expect(out.sigma[0] / sigma).toBeGreaterThan(0.8);
      expect(out.sigma[0] / sigma).toBeLessThan(1.2);
    }
    // Tamper with the stored file: the store refuses to hand it out.
    writeFileSync(join(dir, 'blobs', record.blobKey), Buffer.from('not the model'));
    await expect(store.load(IMAGE_NOISE_MODEL.name, IMAGE_NOISE_MODEL.version)).rejects.toThrow(/integrity/);
    await state.close();
    await blobs.close();
  });
});
