// The Image Pixel and related modules (PS3.3 C.7.6.3, C.11) read from an instance's DICOM JSON.
import { firstNumber, firstString, type DicomJson } from '../dicom/json-model.js';
import { lookupKeyword, tagToHex } from '../dicom/dictionary.js';

const tagOf = (keyword: string): number => lookupKeyword(keyword)!.tag;

export interface PaletteLut {
  /** Entries, first mapped input value, and bits per entry, for each of red, green, blue. */
  red: Uint16Array;
  green: Uint16Array;
  blue: Uint16Array;
  firstValue: number;
  bits: number;
}

export interface PixelModule {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  pixelRepresentation: number;
  photometricInterpretation: string;
  planarConfiguration: number;
  numberOfFrames: number;
  rescaleSlope: number;
  rescaleIntercept: number;
  windowCenter?: number;
  windowWidth?: number;
  voiLutFunction: string;
  /** Float and Double Float Pixel Data carry real values, not integers. */
  floatPixels: boolean;
}

type Item = DicomJson | undefined;
const item = (ds: Item, keyword: string, index = 0): Item => (ds?.[tagToHex(tagOf(keyword))]?.Value?.[index] ?? undefined) as Item;

/**
 * Enhanced multi-frame objects keep rescale and window in functional groups (PS3.3 C.7.6.16): the
 * frame's own group first, then the shared one, then the top level.
 */
function functionalGroupValue(metadata: DicomJson, frameIndex: number, macro: string, keyword: string): number | undefined {
  for (const group of [item(metadata, 'PerFrameFunctionalGroupsSequence', frameIndex), item(metadata, 'SharedFunctionalGroupsSequence')]) {
    const v = item(group, macro);
    const n = v ? firstNumber(v, tagOf(keyword)) : undefined;
    if (n !== undefined) return n;
  }
  return undefined;
}

export function pixelModuleOf(metadata: DicomJson, frameIndex = 0): PixelModule {
  const top = (keyword: string) => firstNumber(metadata, tagOf(keyword));
  const fromGroups: Record<string, [string, string]> = {
    RescaleSlope: ['PixelValueTransformationSequence', 'RescaleSlope'],
    RescaleIntercept: ['PixelValueTransformationSequence', 'RescaleIntercept'],
    WindowCenter: ['FrameVOILUTSequence', 'WindowCenter'],
    WindowWidth: ['FrameVOILUTSequence', 'WindowWidth'],
  };
  const n = (keyword: string) =>
    fromGroups[keyword] ? (functionalGroupValue(metadata, frameIndex, ...fromGroups[keyword]) ?? top(keyword)) : top(keyword);
  const bitsAllocated = n('BitsAllocated') ?? (metadata[tagToHex(0x7fe00008)] ? 32 : metadata[tagToHex(0x7fe00009)] ? 64 : 8);
  return {
    rows: n('Rows') ?? 0,
    columns: n('Columns') ?? 0,
    samplesPerPixel: n('SamplesPerPixel') ?? 1,
    bitsAllocated,
    bitsStored: n('BitsStored') ?? bitsAllocated,
    pixelRepresentation: n('PixelRepresentation') ?? 0,
    photometricInterpretation: (firstString(metadata, tagOf('PhotometricInterpretation')) ?? 'MONOCHROME2').trim().toUpperCase(),
    planarConfiguration: n('PlanarConfiguration') ?? 0,
    numberOfFrames: n('NumberOfFrames') ?? 1,
    rescaleSlope: n('RescaleSlope') ?? 1,
    rescaleIntercept: n('RescaleIntercept') ?? 0,
    windowCenter: n('WindowCenter'),
    windowWidth: n('WindowWidth'),
    voiLutFunction: (firstString(metadata, tagOf('VOILUTFunction')) ?? 'LINEAR').trim().toUpperCase(),
    floatPixels: !!(metadata[tagToHex(0x7fe00008)] || metadata[tagToHex(0x7fe00009)]),
  };
}
