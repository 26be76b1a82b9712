// Segments the largest connected high-attenuation structure of a CT volume (bone and calcification by
// default: ≥ 300 HU), and measures its volume and mean attenuation. Written as a SEG with a TID 1411
// measurement group that references it.
import { Codes, Units } from '../results/codes.js';
import { NotAnalysableError, type Analyser, type AnalysisOutcome, type StudyInput } from './analyser.js';
import { sourceOf } from './attributes.js';
import { volumesOf, type Volume } from './volume.js';

export interface ThresholdSegmentationOptions {
  lowerHU: number;
  upperHU: number;
  /** Volumes with more voxels than this are refused instead of exhausting memory. */
  maxVoxels: number;
}

export const DEFAULT_THRESHOLD_OPTIONS: ThresholdSegmentationOptions = { lowerHU: 300, upperHU: 3000, maxVoxels: 512 * 512 * 1200 };

/** Voxels visited between yields to the event loop, so that a large volume never stalls the archive's requests. */
const VOXELS_BETWEEN_YIELDS = 1 << 20;

/** Labels 6-connected components of a binary volume; returns the voxel indices of the largest. */
export async function largestComponent(mask: Uint8Array, columns: number, rows: number, slices: number): Promise<Uint32Array> {
  const labels = new Int32Array(mask.length);
  const queue = new Uint32Array(mask.length);
  const plane = columns * rows;
  let best = { label: 0, size: 0, start: 0 };
  let label = 0;
  let work = 0;
  for (let seed = 0; seed < mask.length; seed++) {
    if (++work >= VOXELS_BETWEEN_YIELDS) {
      work = 0;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (!mask[seed] || labels[seed]) continue;
    label++;
    let head = 0;
    let tail = 0;
    queue[tail++] = seed;
    labels[seed] = label;
    while (head < tail) {
      if (++work >= VOXELS_BETWEEN_YIELDS) {
        work = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
      const v = queue[head++];
      const x = v % columns;
      const y = Math.floor(v / columns) % rows;
      const z = Math.floor(v / plane);
      const visit = (n: number) => {
        if (mask[n] && !labels[n]) {
          labels[n] = label;
          queue[tail++] = n;
        }
      };
      if (x > 0) visit(v - 1);
      if (x < columns - 1) visit(v + 1);
      if (y > 0) visit(v - columns);
      if (y < rows - 1) visit(v + columns);
      if (z > 0) visit(v - plane);
      if (z < slices - 1) visit(v + plane);
    }
    if (tail > best.size) best = { label, size: tail, start: seed };
  }
  const out = new Uint32Array(best.size);
  let k = 0;
  for (let i = best.start; i < labels.length && k < best.size; i++) if (labels[i] === best.label) out[k++] = i;
  return out;
}

export function createThresholdSegmentation(options: ThresholdSegmentationOptions = DEFAULT_THRESHOLD_OPTIONS): Analyser {
  const parameters = `threshold ${options.lowerHU} to ${options.upperHU} HU; largest 6-connected component`;
  return {
    id: 'threshold-segmentation',
    name: 'High-density structure segmentation',
    version: '1.0.0',
    vendor: 'Serverless PACS',
    intendedUse: `Research: segments the largest connected CT structure between ${options.lowerHU} and ${options.upperHU} HU and reports its volume and mean attenuation. Not for diagnosis.`,
    stage: 'primary',
    filter: { modalities: ['CT'] },
    async analyse(study: StudyInput): Promise<AnalysisOutcome> {
      const { volumes, problems } = volumesOf(study.instances, 'CT');
      const volume = volumes[0];
      if (!volume) throw new NotAnalysableError(problems[0] ?? 'the study has no CT series');
      return segment(study, volume, options, parameters);
    },
  };
}

async function segment(study: StudyInput, volume: Volume, options: ThresholdSegmentationOptions, parameters: string): Promise<AnalysisOutcome> {
  const { rows, columns, pixelSpacing } = volume.geometry;
  const plane = rows * columns;
  const total = plane * volume.slices.length;
  if (total > options.maxVoxels) throw new NotAnalysableError(`series ${volume.seriesInstanceUID} has ${total} voxels, more than the ${options.maxVoxels} this analyser handles`);
  const mask = new Uint8Array(total);
  const values = new Float32Array(total);
  for (const [z, slice] of volume.slices.entries()) {
    const frame = await study.frame(slice.instance, 0);
    if (frame.rows !== rows || frame.columns !== columns) throw new NotAnalysableError(`slice ${slice.sopInstanceUID} decodes to ${frame.columns}×${frame.rows}, not ${columns}×${rows}`);
    values.set(frame.values, z * plane);
    for (let i = 0; i < plane; i++) {
      const v = frame.values[i];
      mask[z * plane + i] = v >= options.lowerHU && v <= options.upperHU ? 1 : 0;
    }
  }
  const component = await largestComponent(mask, columns, rows, volume.slices.length);
  const sources = volume.slices.map((s) => sourceOf(s.instance));
  if (component.length === 0) {
    return {
      status: 'analysed',
      summary: `no structure between ${options.lowerHU} and ${options.upperHU} HU`,
      positive: false,
      outputs: { volumeMl: 0 },
      sourceImages: sources,
      evaluations: [{ name: Codes.Finding, value: `No voxel of series ${volume.seriesInstanceUID} lies between ${options.lowerHU} and ${options.upperHU} HU.` }],
      groups: [],
    };
  }
  let sum = 0;
  const byslice = new Map<number, Uint8Array>();
  for (const v of component) {
    sum += values[v];
    const z = Math.floor(v / plane);
    let m = byslice.get(z);
    if (!m) byslice.set(z, (m = new Uint8Array(plane)));
    m[v - z * plane] = 1;
  }
  const voxelMm3 = pixelSpacing[0] * pixelSpacing[1] * volume.sliceSpacing;
  const volumeMl = (component.length * voxelMm3) / 1000;
  const meanHU = sum / component.length;
  return {
    status: 'analysed',
    summary: `largest structure ${options.lowerHU}–${options.upperHU} HU: ${volumeMl.toFixed(1)} mL, mean ${meanHU.toFixed(0)} HU`,
    positive: true,
    outputs: { volumeMl, meanHU, voxels: component.length },
    sourceImages: sources,
    evaluations: [],
    groups: [
      {
        trackingIdentifier: 'largest high-density structure',
        finding: Codes.Bone,
        segmentNumber: 1,
        measurements: [
          { name: Codes.Volume, value: volumeMl, unit: Units.Milliliter, parameters },
          { name: Codes.AttenuationCoefficient, value: meanHU, unit: Units.HounsfieldUnit, derivation: Codes.Mean, parameters },
        ],
      },
    ],
    segmentation: {
      sourceSeriesInstanceUID: volume.seriesInstanceUID,
      contentLabel: 'DENSE',
      contentDescription: `Largest connected structure between ${options.lowerHU} and ${options.upperHU} HU`,
      geometry: volume.geometry,
      slices: volume.slices.map(({ instance: _i, ...s }) => s),
      segments: [
        {
          label: 'High-density structure',
          category: Codes.AnatomicalStructure,
          type: Codes.Bone,
          algorithmName: 'Threshold and largest connected component',
          frames: [...byslice].map(([sliceIndex, m]) => ({ sliceIndex, mask: m })),
        },
      ],
    },
  };
}
