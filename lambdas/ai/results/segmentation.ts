// A binary DICOM Segmentation (PS3.3 A.51) as a typed object: segments over the slices of one source
// series, each frame one segment on one slice, referencing the slice it was derived from.
import { DatasetBuilder, DatasetError, writePart10 } from '../../dicom/writer.js';
import { uidFromName } from '../../dicom/uid.js';
import { Codes, type Code } from './codes.js';
import { checkUid, referencedSeries, resultBase, type ResultIdentity, type SourceInstance } from './common.js';
import { codeItem, decimalString } from './content-item.js';

export const SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';

export interface SourceSlice extends SourceInstance {
  imagePositionPatient: [number, number, number];
}

export interface SliceGeometry {
  frameOfReferenceUID: string;
  imageOrientationPatient: [number, number, number, number, number, number];
  /** Row spacing, column spacing (mm). */
  pixelSpacing: [number, number];
  sliceThickness: number;
  rows: number;
  columns: number;
}

export interface Segment {
  label: string;
  category: Code;
  type: Code;
  algorithmName: string;
  /** Masks (rows × columns bytes, non-zero = inside) for the slices that contain the segment. */
  frames: Array<{ sliceIndex: number; mask: Uint8Array }>;
}

export interface BinarySegmentation {
  identity: ResultIdentity;
  contentLabel: string;
  contentDescription: string;
  geometry: SliceGeometry;
  /** The source series' slices; frames refer to them by index. */
  slices: SourceSlice[];
  /** Numbered 1, 2, … in this order. */
  segments: Segment[];
}

function validate(seg: BinarySegmentation): void {
  const { geometry: g, slices, segments } = seg;
  checkUid(g.frameOfReferenceUID, 'Frame of Reference UID');
  if (!(g.rows > 0 && g.columns > 0)) throw new DatasetError('a segmentation needs rows and columns');
  if (!(g.pixelSpacing[0] > 0 && g.pixelSpacing[1] > 0)) throw new DatasetError('pixel spacing must be positive');
  if (!slices.length) throw new DatasetError('a segmentation needs source slices');
  if (!segments.length) throw new DatasetError('a segmentation needs at least one segment');
  segments.forEach((s, i) => {
    if (!s.label.trim()) throw new DatasetError(`segment ${i + 1} has no label`);
    if (!s.frames.length) throw new DatasetError(`segment ${i + 1} (${s.label}) is empty`);
    for (const f of s.frames) {
      if (!slices[f.sliceIndex]) throw new DatasetError(`segment ${i + 1} refers to slice ${f.sliceIndex}, which does not exist`);
      if (f.mask.length !== g.rows * g.columns) throw new DatasetError(`segment ${i + 1}: a mask has ${f.mask.length} pixels, expected ${g.rows * g.columns}`);
    }
  });
}

/** Frames packed one bit per pixel, least significant bit first, frames back to back (PS3.5 8.1.1). */
function packFrames(masks: Uint8Array[], pixelsPerFrame: number): Uint8Array {
  const totalBits = masks.length * pixelsPerFrame;
  const out = new Uint8Array(Math.ceil(totalBits / 8 / 2) * 2);
  let bit = 0;
  for (const mask of masks) {
    for (let i = 0; i < pixelsPerFrame; i++, bit++) if (mask[i]) out[bit >> 3] |= 1 << (bit & 7);
  }
  return out;
}

/** The segmentation as a Part 10 file. */
export function writeSegmentation(seg: BinarySegmentation): Uint8Array {
  validate(seg);
  const { geometry: g, slices, segments, identity } = seg;
  const dimensionOrganization = uidFromName(`dimensions:${identity.sopInstanceUID}`);
  // Slices are ranked along the slice normal so the dimension index follows anatomy, not arrival order.
  const [r1, r2, r3, c1, c2, c3] = g.imageOrientationPatient;
  const normal = [r2 * c3 - r3 * c2, r3 * c1 - r1 * c3, r1 * c2 - r2 * c1];
  const along = (s: SourceSlice) => s.imagePositionPatient[0] * normal[0] + s.imagePositionPatient[1] * normal[1] + s.imagePositionPatient[2] * normal[2];
  const order = slices.map((_, i) => i).sort((a, b) => along(slices[a]) - along(slices[b]));
  const rank = new Map(order.map((sliceIndex, r) => [sliceIndex, r + 1]));

  const frames = segments.flatMap((s, i) =>
    [...s.frames].sort((a, b) => rank.get(a.sliceIndex)! - rank.get(b.sliceIndex)!).map((f) => ({ segmentNumber: i + 1, ...f })),
  );
  const perFrame = frames.map((f) => {
    const slice = slices[f.sliceIndex];
    return new DatasetBuilder()
      .sequence('DerivationImageSequence', [
        new DatasetBuilder()
          .sequence('SourceImageSequence', [
            new DatasetBuilder()
              .set('ReferencedSOPClassUID', slice.sopClassUID)
              .set('ReferencedSOPInstanceUID', slice.sopInstanceUID)
              .sequence('PurposeOfReferenceCodeSequence', [codeItem(Codes.SourceImageForSegmentation)]),
          ])
          .sequence('DerivationCodeSequence', [codeItem(Codes.Segmentation)]),
      ])
      .sequence('FrameContentSequence', [new DatasetBuilder().set('DimensionIndexValues', f.segmentNumber, rank.get(f.sliceIndex)!)])
      .sequence('PlanePositionSequence', [new DatasetBuilder().set('ImagePositionPatient', ...slice.imagePositionPatient.map(decimalString))])
      .sequence('SegmentIdentificationSequence', [new DatasetBuilder().set('ReferencedSegmentNumber', f.segmentNumber)]);
  });
  const usedSlices = [...new Set(frames.map((f) => f.sliceIndex))].map((i) => slices[i]);

  const ds = resultBase(identity, SEGMENTATION_STORAGE, 'SEG')
    .set('FrameOfReferenceUID', g.frameOfReferenceUID)
    .set('PositionReferenceIndicator', undefined)
    .set('DeviceSerialNumber', identity.algorithm.version)
    .set('ImageType', 'DERIVED', 'PRIMARY')
    .set('InstanceNumber', 1)
    .set('ContentLabel', seg.contentLabel)
    .set('ContentDescription', seg.contentDescription)
    .set('ContentCreatorName', undefined)
    .set('SamplesPerPixel', 1)
    .set('PhotometricInterpretation', 'MONOCHROME2')
    .set('Rows', g.rows)
    .set('Columns', g.columns)
    .set('BitsAllocated', 1)
    .set('BitsStored', 1)
    .set('HighBit', 0)
    .set('PixelRepresentation', 0)
    .set('LossyImageCompression', '00')
    .set('SegmentationType', 'BINARY')
    .sequence(
      'SegmentSequence',
      segments.map((s, i) =>
        new DatasetBuilder()
          .set('SegmentNumber', i + 1)
          .set('SegmentLabel', s.label)
          .sequence('SegmentedPropertyCategoryCodeSequence', [codeItem(s.category)])
          .sequence('SegmentedPropertyTypeCodeSequence', [codeItem(s.type)])
          .set('SegmentAlgorithmType', 'AUTOMATIC')
          .set('SegmentAlgorithmName', s.algorithmName),
      ),
    )
    .sequence('SharedFunctionalGroupsSequence', [
      new DatasetBuilder()
        .sequence('PlaneOrientationSequence', [new DatasetBuilder().set('ImageOrientationPatient', ...g.imageOrientationPatient.map(decimalString))])
        .sequence('PixelMeasuresSequence', [
          new DatasetBuilder().set('PixelSpacing', ...g.pixelSpacing.map(decimalString)).set('SliceThickness', decimalString(g.sliceThickness)),
        ]),
    ])
    .sequence('PerFrameFunctionalGroupsSequence', perFrame)
    .set('NumberOfFrames', frames.length)
    .sequence('DimensionOrganizationSequence', [new DatasetBuilder().set('DimensionOrganizationUID', dimensionOrganization)])
    .set('DimensionOrganizationType', '3D')
    .sequence('DimensionIndexSequence', [
      new DatasetBuilder()
        .set('DimensionOrganizationUID', dimensionOrganization)
        .setTags('DimensionIndexPointer', 'ReferencedSegmentNumber')
        .setTags('FunctionalGroupPointer', 'SegmentIdentificationSequence')
        .set('DimensionDescriptionLabel', 'Segment Number'),
      new DatasetBuilder()
        .set('DimensionOrganizationUID', dimensionOrganization)
        .setTags('DimensionIndexPointer', 'ImagePositionPatient')
        .setTags('FunctionalGroupPointer', 'PlanePositionSequence')
        .set('DimensionDescriptionLabel', 'Image Position Patient'),
    ])
    .sequence('ReferencedSeriesSequence', referencedSeries(usedSlices, 'ReferencedInstanceSequence'))
    .binary('PixelData', 'OB', packFrames(frames.map((f) => f.mask), g.rows * g.columns));
  return writePart10(ds.build());
}
