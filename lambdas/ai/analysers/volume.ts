// Single-frame slices of one series arranged as a volume: same size, orientation and spacing, ordered
// along the slice normal. Analysers that measure in 3D start here.
import type { SliceGeometry, SourceSlice } from '../results/segmentation.js';
import type { InstanceView } from './analyser.js';
import { numbers, text } from './attributes.js';

export interface Volume {
  seriesInstanceUID: string;
  geometry: SliceGeometry;
  /** Ordered along the normal. */
  slices: Array<SourceSlice & { instance: InstanceView }>;
  /** Distance between slice centres (mm); the slice thickness when there is one slice. */
  sliceSpacing: number;
}

export type VolumeProblem = { problem: string };

function volumeOf(series: InstanceView[]): Volume | VolumeProblem {
  const uid = series[0].seriesInstanceUID;
  const withGeometry = series.filter((i) => i.numberOfFrames === 1 && numbers(i.metadata, 'ImagePositionPatient').length === 3);
  if (!withGeometry.length) return { problem: `series ${uid} has no single-frame slices with Image Position (Patient)` };
  const first = withGeometry[0].metadata;
  const orientation = numbers(first, 'ImageOrientationPatient');
  const spacing = numbers(first, 'PixelSpacing');
  const rows = numbers(first, 'Rows')[0];
  const columns = numbers(first, 'Columns')[0];
  const frameOfReferenceUID = text(first, 'FrameOfReferenceUID');
  if (orientation.length !== 6 || spacing.length !== 2 || !rows || !columns || !frameOfReferenceUID) {
    return { problem: `series ${uid} lacks orientation, pixel spacing, size or frame of reference` };
  }
  const same = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) < 1e-3);
  const consistent = withGeometry.filter(
    (i) =>
      same(numbers(i.metadata, 'ImageOrientationPatient'), orientation) &&
      same(numbers(i.metadata, 'PixelSpacing'), spacing) &&
      numbers(i.metadata, 'Rows')[0] === rows &&
      numbers(i.metadata, 'Columns')[0] === columns,
  );
  if (consistent.length !== withGeometry.length) return { problem: `series ${uid} mixes slice orientations or sizes (odd geometry)` };
  const [r1, r2, r3, c1, c2, c3] = orientation;
  const normal = [r2 * c3 - r3 * c2, r3 * c1 - r1 * c3, r1 * c2 - r2 * c1];
  const along = (p: number[]) => p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2];
  const slices = consistent
    .map((instance) => {
      const p = numbers(instance.metadata, 'ImagePositionPatient');
      return {
        instance,
        sopClassUID: instance.sopClassUID,
        sopInstanceUID: instance.sopInstanceUID,
        seriesInstanceUID: instance.seriesInstanceUID,
        imagePositionPatient: [p[0], p[1], p[2]] as [number, number, number],
      };
    })
    .sort((a, b) => along(a.imagePositionPatient) - along(b.imagePositionPatient));
  const gaps = slices.slice(1).map((s, i) => along(s.imagePositionPatient) - along(slices[i].imagePositionPatient));
  if (gaps.some((g) => g < 1e-3)) return { problem: `series ${uid} has two slices at the same position` };
  const sorted = [...gaps].sort((a, b) => a - b);
  const thickness = numbers(first, 'SliceThickness')[0];
  const sliceSpacing = sorted.length ? sorted[Math.floor(sorted.length / 2)] : (thickness ?? 0);
  if (!(sliceSpacing > 0)) return { problem: `series ${uid} is one slice without a slice thickness` };
  if (sorted.length && sorted[sorted.length - 1] > 1.5 * sliceSpacing + 0.01) return { problem: `series ${uid} has gaps between slices (odd geometry)` };
  return {
    seriesInstanceUID: uid,
    geometry: {
      frameOfReferenceUID,
      imageOrientationPatient: orientation as SliceGeometry['imageOrientationPatient'],
      pixelSpacing: [spacing[0], spacing[1]],
      sliceThickness: thickness ?? sliceSpacing,
      rows,
      columns,
    },
    slices,
    sliceSpacing,
  };
}

/** Volumes of the study's series of one modality, largest first, with the reasons other series were skipped. */
export function volumesOf(instances: InstanceView[], modality: string): { volumes: Volume[]; problems: string[] } {
  const bySeries = new Map<string, InstanceView[]>();
  for (const i of instances) {
    if (text(i.metadata, 'Modality')?.toUpperCase() !== modality) continue;
    const list = bySeries.get(i.seriesInstanceUID) ?? [];
    list.push(i);
    bySeries.set(i.seriesInstanceUID, list);
  }
  const volumes: Volume[] = [];
  const problems: string[] = [];
  for (const series of bySeries.values()) {
    const v = volumeOf(series);
    if ('problem' in v) problems.push(v.problem);
    else volumes.push(v);
  }
  volumes.sort((a, b) => b.slices.length - a.slices.length);
  return { volumes, problems };
}
