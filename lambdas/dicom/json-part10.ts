// DICOM JSON (PS3.18 F.2) to a Part 10 file, for instances that arrive as metadata and bulk data and for
// the objects the archive makes itself (AI results, through writer.ts).
// Binary values come in as bytes (the bulk data parts, or InlineBinary decoded); text is written in
// UTF-8 under ISO_IR 192, since JSON is Unicode. The data set is Explicit VR Little Endian, as every
// transfer syntax but two requires; Pixel Data is native or, for a compressed syntax, one fragment per frame.
import { ByteSink, fileMeta, padToEven, part10, textValue, writeFragments } from './reencode.js';
import { LONG_LENGTH_VRS, UNDEFINED_LENGTH } from './vr.js';
import { tagFromHex, tagToHex } from './dictionary.js';
import type { DicomJsonValue, PersonNameJson } from './json-model.js';
import { Tag } from './tags.js';
import { transferSyntaxInfo } from './transfer-syntax.js';

/**
 * A DICOM JSON attribute whose binary value is resolved to bytes (one array per frame for encapsulated
 * Pixel Data) or given inline (base64, PS3.18 F.2.7); never a BulkDataURI.
 */
export interface ResolvedAttribute {
  vr: string;
  Value?: DicomJsonValue[];
  bytes?: Uint8Array[];
  InlineBinary?: string;
}
export type ResolvedDataset = Record<string, ResolvedAttribute>;

export class JsonEncodingError extends Error {}

const BINARY_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);
const SINGLE_VALUED_TEXT = new Set(['LT', 'ST', 'UT', 'UR']);

/** A decimal string of at most 16 characters (PS3.5 6.2, DS) for a JSON number. */
function decimalString(n: number): string {
  let text = String(n);
  for (let digits = 16; text.length > 16 && digits > 0; digits--) text = Number(n.toPrecision(digits)).toString();
  if (text.length > 16) text = n.toExponential(16 - (n < 0 ? 8 : 7));
  return text;
}

function personName(value: DicomJsonValue): string {
  if (value === null || typeof value !== 'object') return typeof value === 'string' ? value : '';
  const pn = value as PersonNameJson;
  return [pn.Alphabetic ?? '', pn.Ideographic ?? '', pn.Phonetic ?? ''].join('=').replace(/=+$/, '');
}

/** How text is written: its Specific Character Set term and encoder. */
export interface TextCharset {
  term: string;
  encode(text: string): Uint8Array;
}
const textEncoder = new TextEncoder();
export const UTF8: TextCharset = { term: 'ISO_IR 192', encode: (text) => textEncoder.encode(text) };
/** ISO 8859-1 (Latin-1), for text whose every character it holds. */
export const LATIN1: TextCharset = { term: 'ISO_IR 100', encode: (text) => new Uint8Array(Buffer.from(text, 'latin1')) };

function textOf(vr: string, values: DicomJsonValue[], charset: TextCharset = UTF8): Uint8Array {
  const strings = values.map((v) => {
    if (vr === 'PN') return personName(v);
    if (v === null) return '';
    if (typeof v === 'number') return vr === 'DS' ? decimalString(v) : String(Math.trunc(v));
    if (typeof v === 'object') throw new JsonEncodingError(`a ${vr} value must be text, got an object`);
    return v;
  });
  if (SINGLE_VALUED_TEXT.has(vr) && strings.length > 1) throw new JsonEncodingError(`${vr} holds one value, got ${strings.length}`);
  return padToEven(charset.encode(strings.join('\\')), vr === 'UI' ? 0 : 0x20);
}

function numbersOf(vr: string, values: DicomJsonValue[]): Uint8Array {
  const size = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, SV: 8, UV: 8, AT: 4 }[vr]!;
  const out = new Uint8Array(size * values.length);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    const at = i * size;
    if (vr === 'AT') {
      if (typeof v !== 'string' || !/^[0-9A-Fa-f]{8}$/.test(v)) throw new JsonEncodingError(`an AT value must be 8 hex digits, got ${JSON.stringify(v)}`);
      view.setUint16(at, parseInt(v.slice(0, 4), 16), true);
      view.setUint16(at + 2, parseInt(v.slice(4), 16), true);
      return;
    }
    if (vr === 'SV' || vr === 'UV') {
      if (typeof v !== 'number' && typeof v !== 'string') throw new JsonEncodingError(`a ${vr} value must be a number, got ${JSON.stringify(v)}`);
      const big = BigInt(typeof v === 'number' ? Math.trunc(v) : v);
      if (vr === 'SV') view.setBigInt64(at, big, true);
      else view.setBigUint64(at, big, true);
      return;
    }
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (!Number.isFinite(n) && !(vr === 'FL' || vr === 'FD')) throw new JsonEncodingError(`a ${vr} value must be a number, got ${JSON.stringify(v)}`);
    switch (vr) {
      case 'US':
        return view.setUint16(at, n, true);
      case 'SS':
        return view.setInt16(at, n, true);
      case 'UL':
        return view.setUint32(at, n, true);
      case 'SL':
        return view.setInt32(at, n, true);
      case 'FL':
        return view.setFloat32(at, n, true);
      default:
        return view.setFloat64(at, n, true);
    }
  });
  return out;
}

/** How element headers are written: with their VR (explicit) or without (Implicit VR Little Endian, DIMSE's default). */
type VrEncoding = 'explicit' | 'implicit';

function writeAttributes(sink: ByteSink, dataset: ResolvedDataset, encapsulated: boolean, topLevel: boolean, vrs: VrEncoding = 'explicit', charset: TextCharset = UTF8): void {
  const header = (tag: number, vr: string, length: number) => sink.header(tag, vrs === 'implicit' ? undefined : vr, length);
  const entries = Object.entries(dataset).map(([hex, a]) => [tagFromHex(hex), a] as const);
  for (const [tag, attribute] of entries.sort(([a], [b]) => a - b)) {
    const { vr } = attribute;
    // File meta is written by the writer; group lengths would no longer be right; JSON text is UTF-8.
    if (tag >>> 16 === 0x0002 || (tag & 0xffff) === 0) continue;
    if (tag === Tag.SpecificCharacterSet) {
      const value = textValue('CS', charset.term).bytes;
      header(tag, 'CS', value.length);
      sink.push(value);
      continue;
    }
    if (vr === 'SQ') {
      header(tag, 'SQ', UNDEFINED_LENGTH);
      for (const item of attribute.Value ?? []) {
        sink.header(Tag.Item, undefined, UNDEFINED_LENGTH);
        writeAttributes(sink, (item ?? {}) as ResolvedDataset, false, false, vrs, charset);
        sink.header(Tag.ItemDelimitationItem, undefined, 0);
      }
      sink.header(Tag.SequenceDelimitationItem, undefined, 0);
      continue;
    }
    if (topLevel && tag === Tag.PixelData && encapsulated) {
      writeFragments(sink, Tag.PixelData, attribute.bytes ?? []);
      continue;
    }
    let value: Uint8Array;
    if (attribute.bytes) {
      if (attribute.bytes.length > 1) throw new JsonEncodingError(`(${tagToHex(tag)}) has several bulk data parts; only encapsulated Pixel Data may`);
      value = padToEven(attribute.bytes[0] ?? new Uint8Array(), 0);
    } else if (attribute.InlineBinary !== undefined) {
      value = padToEven(new Uint8Array(Buffer.from(attribute.InlineBinary, 'base64')), 0);
    } else if (!attribute.Value || attribute.Value.length === 0) {
      value = new Uint8Array();
    } else if (BINARY_VRS.has(vr)) {
      throw new JsonEncodingError(`a ${vr} value must come as InlineBinary or BulkDataURI`);
    } else if (['US', 'SS', 'UL', 'SL', 'FL', 'FD', 'SV', 'UV', 'AT'].includes(vr)) {
      value = numbersOf(vr, attribute.Value);
    } else {
      value = textOf(vr, attribute.Value, charset);
    }
    // A value too long for a 16-bit length can only be written as UN.
    const written = !LONG_LENGTH_VRS.has(vr) && value.length > 0xffff ? 'UN' : vr;
    header(tag, written, value.length);
    sink.push(value);
  }
}

function text(dataset: ResolvedDataset, tag: number, keyword: string): string {
  const value = dataset[tagToHex(tag)]?.Value?.[0];
  if (typeof value !== 'string' || !value) throw new JsonEncodingError(`${keyword} is missing`);
  return value;
}

/** The data set as a Part 10 file in the given transfer syntax (Explicit VR Little Endian or an encapsulated one). */
export function jsonToPart10(dataset: ResolvedDataset, transferSyntaxUID: string): Uint8Array {
  const encapsulated = transferSyntaxInfo(transferSyntaxUID).encapsulated;
  const withCharset: ResolvedDataset = { ...dataset, '00080005': { vr: 'CS' } };
  const body = new ByteSink();
  writeAttributes(body, withCharset, encapsulated, true);
  return part10(fileMeta(text(dataset, Tag.SOPClassUID, 'SOPClassUID'), text(dataset, Tag.SOPInstanceUID, 'SOPInstanceUID'), transferSyntaxUID), body);
}

/**
 * The data set alone (no File Meta Information), as DIMSE carries it: C-FIND answers in the syntax of their
 * presentation context. Text is written in `charset` (UTF-8 unless told), named in Specific Character Set
 * when the data set holds that attribute.
 */
export function jsonToDataSet(dataset: ResolvedDataset, transferSyntaxUID: string, charset: TextCharset = UTF8): Uint8Array {
  const info = transferSyntaxInfo(transferSyntaxUID);
  if (!info.littleEndian || info.encapsulated || info.deflated) throw new JsonEncodingError(`data sets are written in Explicit or Implicit VR Little Endian, not ${transferSyntaxUID}`);
  const body = new ByteSink();
  writeAttributes(body, dataset, false, true, info.explicitVr ? 'explicit' : 'implicit', charset);
  return body.concat();
}
