// Re-encodes a parsed instance as a Part 10 file: in Explicit VR Little Endian (PS3.5 A.2), the transfer
// syntax DICOMweb serves by default (PS3.18 8.7.8.2, Table 8.7.3-2), in a compressed syntax built on it,
// in Implicit VR Little Endian (A.1) or Deflated Explicit VR Little Endian (A.5). Whatever the stored
// encoding, the data set is rewritten element by element; pixel data, once decompressed or compressed,
// comes in through `changes`.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants as zlib, createDeflateRaw } from 'node:zlib';
import { lookupTag } from './dictionary.js';
import { WORD_SIZE } from './json-model.js';
import type { DicomDataSet, DicomElement, ParsedDicom } from './parser.js';
import { Tag } from './tags.js';
import { TransferSyntax } from './transfer-syntax.js';
import { unsignedShort } from './open-vr.js';
import { LONG_LENGTH_VRS, UNDEFINED_LENGTH } from './vr.js';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from './implementation.js';

/** A value to write instead of the stored one (`null` leaves the element out). */
export type ElementValue = BytesValue | ValueInParts | EncapsulatedFrames;
export interface BytesValue {
  vr: string;
  bytes: Uint8Array;
}
/** A value written as its parts one after the other (native frames), never joined into one buffer. */
export interface ValueInParts {
  vr: string;
  parts: readonly Uint8Array[];
}
/** Compressed Pixel Data: one fragment per frame. */
export interface EncapsulatedFrames {
  vr: 'OB';
  frames: Uint8Array[];
}
export type ElementChanges = ReadonlyMap<number, ElementValue | null>;

/** Byte order matters for these VRs beyond the binary ones json-model knows: their values are numbers. */
const NUMBER_SIZE: Record<string, number> = { ...WORD_SIZE, US: 2, SS: 2, AT: 2, UL: 4, SL: 4, FL: 4, FD: 8, SV: 8, UV: 8 };
const textEncoder = new TextEncoder();

/** A text value padded to even length as PS3.5 6.2 requires (UIDs with NUL, everything else with a space). */
export function textValue(vr: string, text: string): BytesValue {
  return { vr, bytes: padToEven(textEncoder.encode(text), vr === 'UI' ? 0 : 0x20) };
}

/** Values have even length (PS3.5 7.1.1): one pad byte more when needed. */
export function padToEven(bytes: Uint8Array, pad: number): Uint8Array {
  if (bytes.length % 2 === 0) return bytes;
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  out[bytes.length] = pad;
  return out;
}

export function unsignedShortValue(value: number): BytesValue {
  const bytes = new Uint8Array(2);
  new DataView(bytes.buffer).setUint16(0, value, true);
  return { vr: 'US', bytes };
}

export class ByteSink {
  readonly chunks: Uint8Array[] = [];
  size = 0;

  push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.size += bytes.length;
  }

  header(tag: number, vr: string | undefined, length: number): void {
    const long = vr === undefined || LONG_LENGTH_VRS.has(vr);
    const bytes = new Uint8Array(vr === undefined ? 8 : long ? 12 : 8);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, tag >>> 16, true);
    view.setUint16(2, tag & 0xffff, true);
    if (vr === undefined) {
      view.setUint32(4, length, true); // items and delimiters carry no VR
    } else if (long) {
      bytes[4] = vr.charCodeAt(0);
      bytes[5] = vr.charCodeAt(1);
      view.setUint32(8, length, true);
    } else {
      bytes[4] = vr.charCodeAt(0);
      bytes[5] = vr.charCodeAt(1);
      view.setUint16(6, length, true);
    }
    this.push(bytes);
  }

  concat(): Uint8Array {
    return joined(this.chunks, this.size);
  }

  /**
   * The bytes as few buffers: runs of small chunks (element headers, short values) joined, large values
   * (pixel data, a frame) kept as they are, so that tens of megabytes are never copied to be sent.
   */
  coalesced(small = 64 * 1024): Uint8Array[] {
    const out: Uint8Array[] = [];
    let run: Uint8Array[] = [];
    let runSize = 0;
    const flush = () => {
      if (run.length === 1) out.push(run[0]);
      else if (run.length > 1) out.push(joined(run, runSize));
      run = [];
      runSize = 0;
    };
    for (const c of this.chunks) {
      if (c.length >= small) {
        flush();
        out.push(c);
        continue;
      }
      run.push(c);
      runSize += c.length;
      if (runSize >= small) flush();
    }
    flush();
    return out;
  }
}

function joined(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Whether the samples of a data set (its own, an icon image's, else its parent's) are wider than a byte. */
type WideSamples = boolean;

function writtenVr(el: DicomElement, ds: DicomDataSet, wideSamples: WideSamples): string {
  if (ds.explicitVr && el.encodedVr !== 'UN') return el.encodedVr;
  // Implicit VR (or UN, CP-246): the VR the parser settled (open-vr.ts), except that "OB or OW", always OW
  // in implicit VR (PS3.5 A.1), may be OB again in explicit VR for samples of a byte.
  if (!ds.explicitVr && lookupTag(el.tag)?.vr === 'ox') return wideSamples ? 'OW' : 'OB';
  return el.vr;
}

function valueBytes(el: DicomElement, ds: DicomDataSet, vr: string): Uint8Array {
  const bytes = ds.bytes.subarray(el.offset, el.offset + el.length);
  const size = NUMBER_SIZE[vr];
  if (ds.littleEndian || !size) return bytes;
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i + size <= bytes.length; i += size) for (let k = 0; k < size; k++) out[i + k] = bytes[i + size - 1 - k];
  return out;
}

/** Implicit VR (PS3.5 7.1.3): every header is the tag and a 32-bit length, VRs come from the dictionary. */
type Encoding = 'explicit' | 'implicit';

function writeDataSet(sink: ByteSink, ds: DicomDataSet, wideSamples: WideSamples, changes?: ElementChanges, encoding: Encoding = 'explicit'): void {
  const implicit = encoding === 'implicit';
  const header = (tag: number, vr: string, length: number) => sink.header(tag, implicit ? undefined : vr, length);
  const tags = new Set(ds.elements.keys());
  for (const tag of changes?.keys() ?? []) tags.add(tag);
  for (const tag of [...tags].sort((a, b) => (a >>> 0) - (b >>> 0))) {
    // Group lengths are retired outside the meta group and would no longer be right.
    if ((tag & 0xffff) === 0x0000) continue;
    const change = changes?.get(tag);
    if (change === null) continue;
    if (change && 'frames' in change) {
      if (implicit) throw new ReencodeError('encapsulated Pixel Data cannot be written in Implicit VR Little Endian');
      writeFragments(sink, tag, change.frames);
      continue;
    }
    if (change && 'parts' in change) {
      const length = change.parts.reduce((n, p) => n + p.length, 0);
      header(tag, change.vr, length + (length % 2));
      for (const part of change.parts) sink.push(part);
      if (length % 2) sink.push(new Uint8Array(1));
      continue;
    }
    if (change) {
      header(tag, change.vr, change.bytes.length);
      sink.push(change.bytes);
      continue;
    }
    const el = ds.elements.get(tag)!;
    if (el.items) {
      header(tag, 'SQ', UNDEFINED_LENGTH);
      for (const item of el.items) {
        sink.header(Tag.Item, undefined, UNDEFINED_LENGTH);
        writeDataSet(sink, item, wideSamplesOf(item, wideSamples), undefined, encoding);
        sink.header(Tag.ItemDelimitationItem, undefined, 0);
      }
      sink.header(Tag.SequenceDelimitationItem, undefined, 0);
      continue;
    }
    if (el.fragments) {
      // Encapsulated data stays encapsulated only if the caller did not replace it; it is already little endian.
      if (implicit) throw new ReencodeError(`encapsulated data in (${(tag >>> 16).toString(16).padStart(4, '0')},${(tag & 0xffff).toString(16).padStart(4, '0')}) cannot be written in Implicit VR Little Endian`);
      sink.header(tag, 'OB', UNDEFINED_LENGTH);
      sink.push(ds.bytes.subarray(el.offset, el.offset + el.length));
      continue;
    }
    let vr = writtenVr(el, ds, wideSamples);
    // A value too long for a 16-bit length (possible in implicit VR) can only be written as UN.
    if (!implicit && !LONG_LENGTH_VRS.has(vr) && el.length > 0xffff) vr = 'UN';
    const value = valueBytes(el, ds, vr);
    header(tag, vr, value.length);
    sink.push(value);
  }
}

/** Encapsulated Pixel Data (PS3.5 A.4): a Basic Offset Table, then each frame as one fragment. */
export function writeFragments(sink: ByteSink, tag: number, frames: Uint8Array[]): void {
  sink.header(tag, 'OB', UNDEFINED_LENGTH);
  const table = new Uint8Array(4 * frames.length);
  const view = new DataView(table.buffer);
  let offset = 0;
  const fragments = frames.map((frame, i) => {
    view.setUint32(i * 4, offset, true);
    const bytes = padToEven(frame, 0);
    offset += 8 + bytes.length;
    return bytes;
  });
  sink.header(Tag.Item, undefined, table.length);
  sink.push(table);
  for (const bytes of fragments) {
    sink.header(Tag.Item, undefined, bytes.length);
    sink.push(bytes);
  }
  sink.header(Tag.SequenceDelimitationItem, undefined, 0);
}

function datasetText(ds: DicomDataSet, tag: number): string | undefined {
  const el = ds.elements.get(tag);
  if (!el) return undefined;
  return new TextDecoder().decode(ds.bytes.subarray(el.offset, el.offset + el.length)).replace(/[\0 ]+$/, '');
}

/** A data set's own Bits Allocated (an icon image in a sequence has one), else its parent's. */
function wideSamplesOf(ds: DicomDataSet, parent: WideSamples): WideSamples {
  const bitsAllocated = unsignedShort(ds, Tag.BitsAllocated);
  return bitsAllocated === undefined ? parent : bitsAllocated > 8;
}

export class ReencodeError extends Error {}

/**
 * The instance as a Part 10 file in Explicit VR Little Endian (the default), Implicit VR Little Endian,
 * Deflated Explicit VR Little Endian, or a compressed syntax when `changes` bring its encapsulated Pixel
 * Data. File Meta Information, always explicit, keeps what the original said about its source and names
 * this implementation as the writer (PS3.10 7.1). The file comes as consecutive buffers (ByteSink.coalesced):
 * pixel data given as parts is sent as it is, never copied into one buffer with the rest.
 */
export async function reencodeInstance(parsed: ParsedDicom, changes?: ElementChanges, transferSyntaxUID: string = TransferSyntax.ExplicitVRLittleEndian): Promise<Uint8Array[]> {
  const ds = parsed.dataset;
  const sopClass = (parsed.meta && datasetText(parsed.meta, Tag.MediaStorageSOPClassUID)) ?? datasetText(ds, Tag.SOPClassUID) ?? '';
  const sopInstance = (parsed.meta && datasetText(parsed.meta, Tag.MediaStorageSOPInstanceUID)) ?? datasetText(ds, Tag.SOPInstanceUID) ?? '';
  // What else the original's meta group says about its source is kept.
  const metaChanges = new Map<number, ElementValue | null>(metaElements(sopClass, sopInstance, transferSyntaxUID));
  const wideSamples = wideSamplesOf(ds, false);
  const metaSink = new ByteSink();
  const meta = parsed.meta ?? { bytes: new Uint8Array(), littleEndian: true, explicitVr: true, elements: new Map() };
  writeDataSet(metaSink, meta, wideSamples, metaChanges);
  const body = new ByteSink();
  writeDataSet(body, ds, wideSamples, changes, transferSyntaxUID === TransferSyntax.ImplicitVRLittleEndian ? 'implicit' : 'explicit');
  if (transferSyntaxUID !== TransferSyntax.DeflatedExplicitVRLittleEndian) return part10Chunks(metaSink, body);
  const deflated = new ByteSink();
  for (const chunk of await deflatedChunks(body.coalesced())) deflated.push(chunk);
  if (deflated.size % 2) deflated.push(new Uint8Array(1));
  return part10Chunks(metaSink, deflated);
}

/**
 * The data set after the meta group deflated without a zlib header (PS3.5 A.5), as a stream on libuv's
 * thread pool so that tens of megabytes neither hold the event loop nor get joined first; at the fastest
 * level, since the client waits for it (level 6 takes three times as long for a few per cent less).
 */
async function deflatedChunks(chunks: readonly Uint8Array[]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  await pipeline(Readable.from(chunks, { objectMode: false }), createDeflateRaw({ level: zlib.Z_BEST_SPEED, chunkSize: 256 * 1024 }), async (deflated: AsyncIterable<Buffer>) => {
    for await (const chunk of deflated) out.push(chunk);
  });
  return out;
}

/** Preamble, "DICM", the meta group with its length, then the data set: as one buffer. */
export function part10(meta: ByteSink, body: ByteSink): Uint8Array {
  return part10Sink(meta, body).concat();
}

/** part10 as consecutive buffers, large values not copied. */
function part10Chunks(meta: ByteSink, body: ByteSink): Uint8Array[] {
  return part10Sink(meta, body).coalesced();
}

function part10Sink(meta: ByteSink, body: ByteSink): ByteSink {
  const out = new ByteSink();
  out.push(new Uint8Array(128));
  out.push(textEncoder.encode('DICM'));
  const groupLength = new Uint8Array(4);
  new DataView(groupLength.buffer).setUint32(0, meta.size, true);
  out.header(Tag.FileMetaInformationGroupLength, 'UL', 4);
  out.push(groupLength);
  for (const c of meta.chunks) out.push(c);
  for (const c of body.chunks) out.push(c);
  return out;
}

/** The File Meta Information elements this implementation writes, naming itself as the writer (PS3.10 7.1). */
function metaElements(sopClassUID: string, sopInstanceUID: string, transferSyntaxUID: string): Array<[number, BytesValue]> {
  return [
    [0x00020001, { vr: 'OB', bytes: new Uint8Array([0, 1]) }],
    [Tag.MediaStorageSOPClassUID, textValue('UI', sopClassUID)],
    [Tag.MediaStorageSOPInstanceUID, textValue('UI', sopInstanceUID)],
    [Tag.TransferSyntaxUID, textValue('UI', transferSyntaxUID)],
    [0x00020012, textValue('UI', IMPLEMENTATION_CLASS_UID)],
    [0x00020013, textValue('SH', IMPLEMENTATION_VERSION_NAME)],
  ];
}

export function fileMeta(sopClassUID: string, sopInstanceUID: string, transferSyntaxUID: string): ByteSink {
  const sink = new ByteSink();
  for (const [tag, value] of metaElements(sopClassUID, sopInstanceUID, transferSyntaxUID)) {
    sink.header(tag, value.vr, value.bytes.length);
    sink.push(value.bytes);
  }
  return sink;
}
