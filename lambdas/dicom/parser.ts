// A Part 10 / raw data set reader that keeps every element's byte position.
// The archive stores the original bytes untouched; this reader only locates values, so that
// metadata, frames and bulk data can be served straight from the stored file.
import { inflateRawSync } from 'node:zlib';
import { implicitVr, lookupTag, tagToHex } from './dictionary.js';
import { openVr, settleAmbiguousVrs, type OpenVrState } from './open-vr.js';
import { LONG_LENGTH_VRS, UNDEFINED_LENGTH, VALID_VRS, encodingOfDataSet } from './vr.js';
import { Tag } from './tags.js';
import { TransferSyntax, transferSyntaxInfo } from './transfer-syntax.js';

export interface Fragment {
  offset: number;
  length: number;
}

export interface DicomElement {
  tag: number;
  /** The VR used to interpret the value (the dictionary's VR when the file said UN for a known tag). */
  vr: string;
  /** The VR as written in the file (or implied by the dictionary in implicit VR). */
  encodedVr: string;
  /** Value position in the data set's buffer. For sequences and encapsulated data: the whole value field. */
  offset: number;
  length: number;
  undefinedLength: boolean;
  items?: DicomDataSet[];
  /** Encapsulated pixel data: the Basic Offset Table item first, then the fragments. */
  fragments?: Fragment[];
}

export interface DicomDataSet {
  bytes: Uint8Array;
  littleEndian: boolean;
  explicitVr: boolean;
  elements: Map<number, DicomElement>;
}

export interface ParsedDicom {
  /** File Meta Information (group 0002), absent for files written without it. */
  meta?: DicomDataSet;
  dataset: DicomDataSet;
  transferSyntaxUID: string;
  /** True if the meta group was missing or did not name the transfer syntax, so it was inferred. */
  transferSyntaxInferred: boolean;
  hasPreamble: boolean;
  /** Offset of the data set in the original bytes; undefined when the data set was inflated. */
  datasetOffset?: number;
  /** Set when the data set's VR encoding is not the one its transfer syntax names: what was found. */
  encodingMismatch?: string;
  /** Where reading stopped in the data set's bytes: their end, or the element at `untilTag`. */
  end: number;
}

export class DicomParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DicomParseError';
  }
}

export interface ParseOptions {
  /** Largest inflated size accepted for deflated transfer syntaxes (guards against zip bombs). */
  maxInflatedBytes?: number;
  /** Stop at this tag (top level only), e.g. Pixel Data, to read only the header. */
  untilTag?: number;
}

const MAX_DEPTH = 48;

class Reader {
  readonly view: DataView;
  readonly openVrs: OpenVrState = { ambiguous: 0 };
  constructor(
    readonly bytes: Uint8Array,
    public pos: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number, what: string): void {
    if (this.pos + n > this.bytes.length) {
      throw new DicomParseError(`truncated data: ${what} at byte ${this.pos} needs ${n} bytes, only ${this.bytes.length - this.pos} left`);
    }
  }
  u16(le: boolean): number {
    this.need(2, 'a 16-bit field');
    const v = this.view.getUint16(this.pos, le);
    this.pos += 2;
    return v;
  }
  u32(le: boolean): number {
    this.need(4, 'a 32-bit field');
    const v = this.view.getUint32(this.pos, le);
    this.pos += 4;
    return v;
  }
  tag(le: boolean): number {
    const group = this.u16(le);
    const element = this.u16(le);
    return ((group << 16) | element) >>> 0;
  }
  peekTag(le: boolean): number | undefined {
    if (this.pos + 4 > this.bytes.length) return undefined;
    const group = this.view.getUint16(this.pos, le);
    const element = this.view.getUint16(this.pos + 2, le);
    return ((group << 16) | element) >>> 0;
  }
  ascii2(): string {
    this.need(2, 'a VR');
    const s = String.fromCharCode(this.bytes[this.pos], this.bytes[this.pos + 1]);
    this.pos += 2;
    return s;
  }
}

function newDataSet(bytes: Uint8Array, littleEndian: boolean, explicitVr: boolean): DicomDataSet {
  return { bytes, littleEndian, explicitVr, elements: new Map() };
}

function describe(tag: number): string {
  const kw = lookupTag(tag)?.keyword;
  const hex = tagToHex(tag);
  return `(${hex.slice(0, 4)},${hex.slice(4)})${kw ? ' ' + kw : ''}`;
}

/** Reads elements into `ds` until `end`, an item delimiter, or `untilTag`. */
function readElements(r: Reader, ds: DicomDataSet, end: number, depth: number, stopAtItemDelimiter: boolean, untilTag?: number): void {
  if (depth > MAX_DEPTH) throw new DicomParseError(`sequences nested deeper than ${MAX_DEPTH} levels`);
  while (r.pos < end) {
    // Trailing padding after the data set (seen in real files) is not an element.
    if (depth === 0 && end - r.pos < 8 && r.bytes.subarray(r.pos, end).every((b) => b === 0)) {
      r.pos = end;
      return;
    }
    const start = r.pos;
    const tag = r.tag(ds.littleEndian);
    if (tag === Tag.ItemDelimitationItem) {
      r.u32(ds.littleEndian);
      if (stopAtItemDelimiter) return;
      continue; // a stray delimiter with nothing to close: tolerated, as other toolkits do
    }
    if (untilTag !== undefined && tag >= untilTag) {
      r.pos = start;
      return;
    }
    if (tag === Tag.Item || tag === Tag.SequenceDelimitationItem) {
      throw new DicomParseError(`unexpected item tag ${describe(tag)} at byte ${start} outside a sequence`);
    }
    const el = readElement(r, ds, tag, depth);
    ds.elements.set(tag, el);
  }
  if (r.pos > end) throw new DicomParseError(`an element runs past the end of its container at byte ${end}`);
}

function readElement(r: Reader, ds: DicomDataSet, tag: number, depth: number): DicomElement {
  const le = ds.littleEndian;
  let encodedVr: string;
  let length: number;
  if (ds.explicitVr) {
    encodedVr = r.ascii2();
    if (!VALID_VRS.has(encodedVr)) {
      // Some writers put a non-standard VR; PS3.5 7.1.2 lets us treat the value as UN if its length is 32-bit.
      if (!/^[A-Z]{2}$/.test(encodedVr)) throw new DicomParseError(`invalid VR bytes for ${describe(tag)} at byte ${r.pos - 6}`);
    }
    if (LONG_LENGTH_VRS.has(encodedVr)) {
      r.u16(le);
      length = r.u32(le);
    } else {
      length = r.u16(le);
    }
  } else {
    encodedVr = implicitVr(tag);
    length = r.u32(le);
  }
  // Implicit VR, or UN in explicit VR (CP-246): the VR comes from the dictionaries.
  const vr = !ds.explicitVr || encodedVr === 'UN' ? openVr(ds, tag, length, r.openVrs) : encodedVr;

  const offset = r.pos;
  if (length === UNDEFINED_LENGTH) {
    if (tag === Tag.PixelData || (tag & 0xffff0000) === 0x7fe00000) {
      // Encapsulated data has no length of its own; its extent is recorded as the element's length.
      const fragments = readFragments(r, le, tag);
      return { tag, vr: 'OB', encodedVr, offset, length: r.pos - offset, undefinedLength: true, fragments };
    }
    // An undefined length can only be a sequence. UN with undefined length is implicit VR little endian (PS3.5 6.2.2).
    const itemsLe = encodedVr === 'UN' ? true : le;
    const itemsExplicit = encodedVr === 'UN' ? false : ds.explicitVr;
    const items = readItems(r, ds.bytes, itemsLe, itemsExplicit, undefined, depth + 1, tag);
    return { tag, vr: 'SQ', encodedVr, offset, length: r.pos - offset, undefinedLength: true, items };
  }
  if (offset + length > r.bytes.length) {
    throw new DicomParseError(
      `truncated data: ${describe(tag)} declares ${length} bytes at byte ${offset}, but only ${r.bytes.length - offset} remain`,
    );
  }
  const end = offset + length;
  if (vr === 'SQ') {
    const itemsLe = encodedVr === 'UN' ? true : le;
    const itemsExplicit = encodedVr === 'UN' ? false : ds.explicitVr;
    if (length === 0 || startsWithItem(r.bytes, offset, itemsLe)) {
      try {
        const items = readItems(r, ds.bytes, itemsLe, itemsExplicit, end, depth + 1, tag);
        r.pos = end;
        return { tag, vr: 'SQ', encodedVr, offset, length, undefinedLength: false, items };
      } catch (e) {
        if (encodedVr === 'SQ') throw e;
      }
    }
    // The dictionary says SQ but the bytes are no sequence (seen in the wild): keep the bytes as UN.
    r.pos = end;
    return { tag, vr: 'UN', encodedVr, offset, length, undefinedLength: false };
  }
  if (!ds.explicitVr && vr === 'UN' && length >= 8 && startsWithItem(r.bytes, offset, le)) {
    // A private sequence in implicit VR: recognisable only by its first item tag.
    try {
      const items = readItems(r, ds.bytes, le, false, end, depth + 1, tag);
      r.pos = end;
      return { tag, vr: 'SQ', encodedVr, offset, length, undefinedLength: false, items };
    } catch {
      r.pos = end;
    }
  }
  r.pos = end;
  return { tag, vr, encodedVr, offset, length, undefinedLength: false };
}

function startsWithItem(bytes: Uint8Array, offset: number, le: boolean): boolean {
  if (offset + 4 > bytes.length) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, 4);
  return (((view.getUint16(0, le) << 16) | view.getUint16(2, le)) >>> 0) === Tag.Item;
}

function readItems(
  r: Reader,
  bytes: Uint8Array,
  le: boolean,
  explicitVr: boolean,
  end: number | undefined,
  depth: number,
  sequenceTag: number,
): DicomDataSet[] {
  if (depth > MAX_DEPTH) throw new DicomParseError(`sequences nested deeper than ${MAX_DEPTH} levels`);
  const items: DicomDataSet[] = [];
  for (;;) {
    if (end !== undefined && r.pos >= end) break;
    const itemStart = r.pos;
    const tag = r.tag(le);
    const length = r.u32(le);
    if (tag === Tag.SequenceDelimitationItem) {
      if (end === undefined) break;
      continue;
    }
    if (tag !== Tag.Item) {
      throw new DicomParseError(`expected an item in ${describe(sequenceTag)} at byte ${itemStart}, found ${describe(tag)}`);
    }
    const item = newDataSet(bytes, le, explicitVr);
    if (length === UNDEFINED_LENGTH) {
      readElements(r, item, end ?? bytes.length, depth, true);
    } else {
      const itemEnd = r.pos + length;
      if (itemEnd > bytes.length || (end !== undefined && itemEnd > end)) {
        throw new DicomParseError(`item of ${describe(sequenceTag)} at byte ${itemStart} runs past the end of its sequence`);
      }
      readElements(r, item, itemEnd, depth, true);
      r.pos = itemEnd;
    }
    items.push(item);
  }
  return items;
}

function readFragments(r: Reader, le: boolean, tag: number): Fragment[] {
  const fragments: Fragment[] = [];
  for (;;) {
    // Some writers end the file right after the last fragment, without a Sequence Delimitation Item.
    if (r.pos === r.bytes.length && fragments.length > 0) break;
    const at = r.pos;
    const itemTag = r.tag(le);
    const length = r.u32(le);
    if (itemTag === Tag.SequenceDelimitationItem) break;
    if (itemTag !== Tag.Item) throw new DicomParseError(`expected a fragment item in ${describe(tag)} at byte ${at}, found ${describe(itemTag)}`);
    if (length === UNDEFINED_LENGTH || r.pos + length > r.bytes.length) {
      throw new DicomParseError(`truncated data: fragment of ${describe(tag)} at byte ${at} declares ${length} bytes, only ${r.bytes.length - r.pos} remain`);
    }
    fragments.push({ offset: r.pos, length });
    r.pos += length;
  }
  return fragments;
}

/** The value of a text element as raw ASCII, trimmed (for UIDs and code strings; no character set applied). */
export function elementText(ds: DicomDataSet, tag: number): string | undefined {
  const el = ds.elements.get(tag);
  if (!el) return undefined;
  return Buffer.from(ds.bytes.buffer, ds.bytes.byteOffset + el.offset, el.length).toString('latin1').replace(/[\0 ]+$/, '').trim();
}

/** Infers the encoding of a data set that has no meta group, from its first element. */
function inferEncoding(bytes: Uint8Array, pos: number): { explicitVr: boolean; littleEndian: boolean } {
  if (pos + 8 > bytes.length) return { explicitVr: false, littleEndian: true };
  const view = new DataView(bytes.buffer, bytes.byteOffset + pos, 8);
  const groupLe = view.getUint16(0, true);
  const littleEndian = groupLe <= 0x00ff || groupLe === 0x7fe0 ? true : view.getUint16(0, false) > 0x00ff;
  const vr = String.fromCharCode(bytes[pos + 4], bytes[pos + 5]);
  return { explicitVr: VALID_VRS.has(vr), littleEndian };
}

// Groups a data set written without File Meta Information plausibly starts with.
const FIRST_GROUPS = new Set([0x0000, 0x0002, 0x0008, 0x0010, 0x0018, 0x0020, 0x0028]);

function startsWithDataElement(bytes: Uint8Array, offset: number, littleEndian: boolean): boolean {
  if (bytes.length - offset < 8) return false;
  return FIRST_GROUPS.has(new DataView(bytes.buffer, bytes.byteOffset + offset, 2).getUint16(0, littleEndian));
}

/** A cheap check, from the first bytes only, that a file is DICOM (Part 10, or a bare data set). */
export function looksLikeDicom(head: Uint8Array): boolean {
  if (head.length >= 132 && Buffer.from(head.subarray(128, 132)).toString('latin1') === 'DICM') return true;
  return startsWithDataElement(head, 0, true) || startsWithDataElement(head, 0, false);
}

function syntaxForEncoding(e: { explicitVr: boolean; littleEndian: boolean }): string {
  if (!e.littleEndian) return TransferSyntax.ExplicitVRBigEndian;
  return e.explicitVr ? TransferSyntax.ExplicitVRLittleEndian : TransferSyntax.ImplicitVRLittleEndian;
}

/** Where the data set starts and how it is encoded, from the preamble and the File Meta Information. */
export interface FileMeta {
  meta?: DicomDataSet;
  transferSyntaxUID: string;
  transferSyntaxInferred: boolean;
  hasPreamble: boolean;
  datasetStart: number;
}

export function readFileMeta(bytes: Uint8Array): FileMeta {
  let pos = 0;
  let hasPreamble = false;
  if (bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d) {
    pos = 132;
    hasPreamble = true;
  } else if (bytes.length >= 4 && bytes[0] === 0x44 && bytes[1] === 0x49 && bytes[2] === 0x43 && bytes[3] === 0x4d) {
    pos = 4; // "DICM" without the 128-byte preamble
    hasPreamble = true;
  }
  if (bytes.length - pos < 8) throw new DicomParseError('not a DICOM file: too short to hold a data element');

  let meta: DicomDataSet | undefined;
  const r = new Reader(bytes, pos);
  const firstGroup = new DataView(bytes.buffer, bytes.byteOffset + pos, 2).getUint16(0, true);
  if (firstGroup === 0x0002) {
    meta = newDataSet(bytes, true, true);
    // The meta group is always explicit VR little endian; read until the group changes.
    while (r.pos < bytes.length && r.peekTag(true) !== undefined && (r.peekTag(true)! >>> 16) === 0x0002) {
      const tag = r.tag(true);
      meta.elements.set(tag, readElement(r, meta, tag, 0));
    }
  } else if (hasPreamble) {
    throw new DicomParseError('not a DICOM file: "DICM" is not followed by the File Meta Information group (0002)');
  }
  const named = meta ? elementText(meta, Tag.TransferSyntaxUID) : undefined;
  const transferSyntaxUID = named || syntaxForEncoding(inferEncoding(bytes, r.pos));
  return { meta, transferSyntaxUID, transferSyntaxInferred: !named, hasPreamble, datasetStart: r.pos };
}

/** Largest data set a deflated instance is inflated to when no other limit is given (zip bombs stop there). */
export const DEFAULT_MAX_INFLATED_BYTES = 256 * 1024 * 1024;

/**
 * Reads a whole file. A deflated data set is inflated here, synchronously and up to `maxInflatedBytes`,
 * unless the caller inflated it already (`inflated`; see inflate.ts, which does it off the event loop).
 */
export function parseDicom(input: Uint8Array, options: ParseOptions & { inflated?: Uint8Array } = {}): ParsedDicom {
  const bytes = input;
  const { meta, transferSyntaxUID, transferSyntaxInferred, hasPreamble, datasetStart } = readFileMeta(bytes);
  const ts = transferSyntaxInfo(transferSyntaxUID);
  let datasetBytes = bytes;
  let datasetOffset: number | undefined = datasetStart;
  let start = datasetStart;
  if (ts.deflated) {
    if (options.inflated) datasetBytes = options.inflated;
    else {
      const limit = options.maxInflatedBytes ?? DEFAULT_MAX_INFLATED_BYTES;
      try {
        const inflated = inflateRawSync(bytes.subarray(datasetStart), { maxOutputLength: limit });
        datasetBytes = new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength);
      } catch (e) {
        const tooLarge = (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
        throw new DicomParseError(tooLarge ? `the deflated data set inflates to more than ${limit} bytes` : `deflated data set could not be inflated: ${(e as Error).message}`);
      }
    }
    datasetOffset = undefined;
    start = 0;
  }
  if (!meta && !hasPreamble && !startsWithDataElement(datasetBytes, start, ts.littleEndian)) {
    throw new DicomParseError('not a DICOM file: no "DICM" marker and the data does not start with a DICOM data element');
  }
  // Some writers name one encoding and write the other: the data set is read as it is written.
  const found = ts.littleEndian && !transferSyntaxInferred ? encodingOfDataSet(datasetBytes, start, ts.explicitVr) : ts.explicitVr;
  const dataset = newDataSet(datasetBytes, ts.littleEndian, found);
  const dr = new Reader(datasetBytes, start);
  readElements(dr, dataset, datasetBytes.length, 0, false, options.untilTag);
  if (dr.openVrs.ambiguous) settleAmbiguousVrs(dataset);
  const encodingMismatch =
    found === ts.explicitVr
      ? undefined
      : `the data set is written in ${found ? 'explicit' : 'implicit'} VR, not in the ${ts.explicitVr ? 'explicit' : 'implicit'} VR its Transfer Syntax UID ${transferSyntaxUID} names; it was read as written`;
  return { meta, dataset, transferSyntaxUID, transferSyntaxInferred, hasPreamble, datasetOffset, encodingMismatch, end: dr.pos };
}

/** Reads the elements of `bytes` as one data set in the given encoding (e.g. what follows a file's Pixel Data). */
export function parseElements(bytes: Uint8Array, littleEndian: boolean, explicitVr: boolean): DicomDataSet {
  const dataset = newDataSet(bytes, littleEndian, explicitVr);
  readElements(new Reader(bytes, 0), dataset, bytes.length, 0, false);
  return dataset;
}
