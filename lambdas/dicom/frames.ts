// Where each frame of an image lives in the stored file (PS3.5 Section 8 and Annex A.4).
// Locations are computed once at ingest, so a frame request reads only the bytes it needs.
import type { DicomDataSet, DicomElement, ParsedDicom } from './parser.js';
import { Tag } from './tags.js';
import { swapWords } from './json-model.js';
import { transferSyntaxInfo } from './transfer-syntax.js';

/** A byte range of the stored file; a frame is one range (native) or several fragments (encapsulated). */
export interface ByteRange {
  offset: number;
  length: number;
}

export interface FrameLayout {
  encapsulated: boolean;
  /** Per frame, the ranges to concatenate. For bit-packed native data see bitOffset. */
  frames: ByteRange[][];
  /** Native 1-bit data whose frames do not start on byte boundaries: frame i starts at bit i * bitsPerFrame. */
  bitsPerFrame?: number;
  /** Native data in a big endian file: swap bytes in words of this size when serving (frames are served little endian). */
  swapWordSize?: number;
}

export interface PixelDescription {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  numberOfFrames: number;
  photometricInterpretation: string;
}

export class FrameLayoutError extends Error {}

function uint(ds: DicomDataSet, tag: number): number | undefined {
  const el = ds.elements.get(tag);
  if (!el || el.length < 2) return undefined;
  const view = new DataView(ds.bytes.buffer, ds.bytes.byteOffset + el.offset, el.length);
  return el.length >= 4 && el.vr === 'UL' ? view.getUint32(0, ds.littleEndian) : view.getUint16(0, ds.littleEndian);
}

function text(ds: DicomDataSet, tag: number): string | undefined {
  const el = ds.elements.get(tag);
  if (!el) return undefined;
  return Buffer.from(ds.bytes.buffer, ds.bytes.byteOffset + el.offset, el.length).toString('latin1').replace(/\0/g, '').trim();
}

export function pixelDataElement(ds: DicomDataSet): DicomElement | undefined {
  return ds.elements.get(Tag.PixelData) ?? ds.elements.get(Tag.FloatPixelData) ?? ds.elements.get(Tag.DoubleFloatPixelData);
}

export function describePixels(ds: DicomDataSet): PixelDescription | undefined {
  const pixels = pixelDataElement(ds);
  if (!pixels) return undefined;
  const framesText = text(ds, Tag.NumberOfFrames);
  const numberOfFrames = framesText ? parseInt(framesText, 10) : 1;
  return {
    rows: uint(ds, Tag.Rows) ?? 0,
    columns: uint(ds, Tag.Columns) ?? 0,
    samplesPerPixel: uint(ds, Tag.SamplesPerPixel) ?? 1,
    bitsAllocated: pixels.tag === Tag.FloatPixelData ? 32 : pixels.tag === Tag.DoubleFloatPixelData ? 64 : (uint(ds, Tag.BitsAllocated) ?? 0),
    numberOfFrames: Number.isFinite(numberOfFrames) && numberOfFrames > 0 ? numberOfFrames : 1,
    photometricInterpretation: text(ds, Tag.PhotometricInterpretation) ?? '',
  };
}

/** Bytes of the data set's file at an offset: the parsed bytes, or (for a file read in pieces) wherever they are kept. */
export type Peek = (offset: number, length: number) => Uint8Array;

/**
 * Returns undefined for objects without pixel data; throws FrameLayoutError when the data contradicts its
 * description. `peek` reads an offset table or a fragment's first bytes where the parsed bytes do not hold them.
 */
export function locateFrames(parsed: ParsedDicom, peek?: Peek): FrameLayout | undefined {
  const ds = parsed.dataset;
  const pixels = pixelDataElement(ds);
  const description = describePixels(ds);
  if (!pixels || !description) return undefined;
  if (pixels.fragments) return locateEncapsulated(ds, pixels, description, parsed.transferSyntaxUID, peek ?? ((o, n) => ds.bytes.subarray(o, o + n)));
  return locateNative(ds, pixels, description);
}

function locateNative(ds: DicomDataSet, pixels: DicomElement, d: PixelDescription): FrameLayout {
  const pixelsPerFrame = d.rows * d.columns;
  // YBR_FULL_422 native data carries two luminance and one pair of chroma samples per two pixels.
  const samples = d.photometricInterpretation === 'YBR_FULL_422' ? 2 : d.samplesPerPixel;
  const bitsPerFrame = pixelsPerFrame * samples * d.bitsAllocated;
  if (bitsPerFrame <= 0) throw new FrameLayoutError('pixel data without valid Rows, Columns, Samples per Pixel or Bits Allocated');
  const available = pixels.length * 8;
  if (bitsPerFrame * d.numberOfFrames > available) {
    throw new FrameLayoutError(
      `Pixel Data holds ${pixels.length} bytes but ${d.numberOfFrames} frame(s) of ${d.rows}x${d.columns}x${samples} at ${d.bitsAllocated} bits need ${Math.ceil((bitsPerFrame * d.numberOfFrames) / 8)}`,
    );
  }
  const swapWordSize = ds.littleEndian ? undefined : d.bitsAllocated > 8 ? d.bitsAllocated / 8 : pixels.encodedVr === 'OW' ? 2 : undefined;
  if (bitsPerFrame % 8 !== 0) {
    // Bit-packed frames (1-bit segmentations) share bytes; keep the whole value and cut at retrieval.
    const ranges = [{ offset: pixels.offset, length: pixels.length }];
    return { encapsulated: false, frames: Array.from({ length: d.numberOfFrames }, () => ranges), bitsPerFrame, swapWordSize };
  }
  const frameBytes = bitsPerFrame / 8;
  const frames = Array.from({ length: d.numberOfFrames }, (_, i) => [{ offset: pixels.offset + i * frameBytes, length: frameBytes }]);
  return { encapsulated: false, frames, swapWordSize };
}

function readOffsets(bytes: Uint8Array, size: 4 | 8): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let o = 0; o + size <= bytes.byteLength; o += size) out.push(size === 4 ? view.getUint32(o, true) : Number(view.getBigUint64(o, true)));
  return out;
}

function startsFrame(f: ByteRange, peek: Peek): boolean {
  if (f.length < 4) return false;
  const b = peek(f.offset, 4);
  if (b[0] === 0xff && (b[1] === 0xd8 || b[1] === 0x4f)) return true; // JPEG, JPEG-LS SOI; JPEG 2000 SOC
  if (b[0] === 0xff && b[1] === 0x0a) return true; // JPEG XL codestream
  return b[0] === 0 && b[1] === 0 && b[2] === 0 && (b[3] === 0x0c || b[3] === 0x20); // JP2 / JXL container box
}

function locateEncapsulated(ds: DicomDataSet, pixels: DicomElement, d: PixelDescription, tsUid: string, peek: Peek): FrameLayout {
  const [bot, ...fragments] = pixels.fragments ?? [];
  if (!bot) throw new FrameLayoutError('encapsulated Pixel Data has no Basic Offset Table item');
  const n = d.numberOfFrames;
  if (fragments.length === 0) throw new FrameLayoutError('encapsulated Pixel Data has no fragments');
  const asFrames = (groups: ByteRange[][]): FrameLayout => {
    if (groups.length !== n || groups.some((g) => g.length === 0)) {
      throw new FrameLayoutError(`encapsulated Pixel Data gives ${groups.length} frame(s), Number of Frames says ${n}`);
    }
    return { encapsulated: true, frames: groups };
  };
  if (n === 1) return asFrames([fragments]);
  // Offsets in the BOT / EOT count from the first byte of the first fragment's item tag.
  const base = fragments[0].offset - 8;
  // Frame i holds the fragments from its offset up to the next frame's. Offsets rise in a valid table, and the
  // fragments are in file order: one pass then hands out tens of thousands of tiles.
  const groupByOffsets = (offsets: number[]): ByteRange[][] => {
    const within = (i: number, at: number) => at >= offsets[i] && (i + 1 >= offsets.length || at < offsets[i + 1]);
    if (offsets.some((o, i) => i > 0 && o < offsets[i - 1])) {
      return offsets.map((_, i) => fragments.filter((f) => within(i, f.offset - 8 - base)));
    }
    const groups: ByteRange[][] = offsets.map(() => []);
    let i = 0;
    for (const f of fragments) {
      const at = f.offset - 8 - base;
      while (i + 1 < offsets.length && offsets[i + 1] <= at) i++;
      if (within(i, at)) groups[i].push(f);
    }
    return groups;
  };
  const eot = ds.elements.get(Tag.ExtendedOffsetTable);
  if (eot && eot.length >= 8) {
    const eotLengths = ds.elements.get(Tag.ExtendedOffsetTableLengths);
    const offsets = readOffsets(ds.bytes.subarray(eot.offset, eot.offset + eot.length), 8);
    const lengths = eotLengths ? readOffsets(ds.bytes.subarray(eotLengths.offset, eotLengths.offset + eotLengths.length), 8) : [];
    if (lengths.length === offsets.length) {
      // One fragment per frame is required with an EOT; lengths give the frame's content exactly.
      return asFrames(offsets.map((o, i) => [{ offset: base + o + 8, length: lengths[i] }]));
    }
    return asFrames(groupByOffsets(offsets));
  }
  if (bot.length >= 4) return asFrames(groupByOffsets(readOffsets(peek(bot.offset, bot.length), 4)));
  if (fragments.length === n) return asFrames(fragments.map((f) => [f]));
  if (transferSyntaxInfo(tsUid).frameMediaType === 'image/dicom-rle') {
    throw new FrameLayoutError('RLE Pixel Data must have one fragment per frame');
  }
  // No offset table and more fragments than frames: a new frame starts where a codestream starts.
  const groups: ByteRange[][] = [];
  for (const f of fragments) {
    if (groups.length === 0 || startsFrame(f, peek)) groups.push([f]);
    else groups[groups.length - 1].push(f);
  }
  return asFrames(groups);
}

/** Cuts frame `index` (0-based) out of the bytes its ranges name, realigning bit-packed and big endian data. */
export function assembleFrame(layout: FrameLayout, index: number, read: (r: ByteRange) => Uint8Array): Uint8Array {
  const ranges = layout.frames[index];
  const parts = ranges.map(read);
  let frame = parts.length === 1 ? parts[0] : Buffer.concat(parts);
  if (layout.bitsPerFrame !== undefined) frame = extractBits(frame, index * layout.bitsPerFrame, layout.bitsPerFrame);
  if (layout.swapWordSize && layout.swapWordSize > 1) frame = swapWords(frame, layout.swapWordSize);
  return frame;
}

function extractBits(all: Uint8Array, startBit: number, bitCount: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(bitCount / 8));
  // Bit order within a byte is least significant first (PS3.5 8.1.1).
  for (let i = 0; i < bitCount; i++) {
    const src = startBit + i;
    if ((all[src >> 3] >> (src & 7)) & 1) out[i >> 3] |= 1 << (i & 7);
  }
  return out;
}
