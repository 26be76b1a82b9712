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

export function pixelModuleOf(metadata: DicomJson): PixelModule {
  const n = (keyword: string) => firstNumber(metadata, tagOf(keyword));
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

/** Reads the palette colour tables from the stored file's InlineBinary (or bulk data the caller resolved). */
export function paletteOf(metadata: DicomJson, readBinary: (keyword: string) => Uint8Array | undefined): PaletteLut | undefined {
  const descriptor = metadata[tagToHex(tagOf('RedPaletteColorLookupTableDescriptor'))]?.Value as number[] | undefined;
  if (!descriptor) return undefined;
  const [entries0, firstValue, bits] = descriptor;
  const entries = entries0 === 0 ? 65536 : entries0;
  const table = (color: string): Uint16Array => {
    const bytes = readBinary(`${color}PaletteColorLookupTableData`);
    if (!bytes) return new Uint16Array(entries);
    if (bits === 8 && bytes.length === entries) return Uint16Array.from(bytes);
    return new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + Math.floor(bytes.byteLength / 2) * 2));
  };
  return { red: table('Red'), green: table('Green'), blue: table('Blue'), firstValue, bits };
}
