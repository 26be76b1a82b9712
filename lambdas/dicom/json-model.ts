// The DICOM JSON Model (PS3.18 Annex F) produced from a parsed data set.
import { characterSet, type CharacterSet } from './charset.js';
import type { DicomDataSet, DicomElement } from './parser.js';
import { Tag, tagToHex } from './tags.js';

export interface PersonNameJson {
  Alphabetic?: string;
  Ideographic?: string;
  Phonetic?: string;
}
export type DicomJsonValue = string | number | null | PersonNameJson | DicomJson;
export interface DicomJsonAttribute {
  vr: string;
  Value?: DicomJsonValue[];
  InlineBinary?: string;
  BulkDataURI?: string;
}
export type DicomJson = Record<string, DicomJsonAttribute>;

export interface ToJsonOptions {
  /** Binary values longer than this many bytes are given as BulkDataURI; shorter ones inline. */
  inlineBinaryMax?: number;
  /**
   * Builds the BulkDataURI for the value at `path` (tag and item index pairs, e.g. ["00540016", "0", "00281201"]).
   * Without it, large binary values are left out (only the VR is kept).
   */
  bulkDataUri?: (path: string[]) => string;
  /** Leave out elements for which this returns false (top level only). */
  include?: (tag: number) => boolean;
}

const TEXT_VRS = new Set(['SH', 'LO', 'ST', 'LT', 'UC', 'UT', 'PN']);
const SINGLE_VALUED_TEXT = new Set(['LT', 'ST', 'UT', 'UR']);
const BINARY_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);
export const WORD_SIZE: Readonly<Record<string, number>> = { OW: 2, OF: 4, OL: 4, OD: 8, OV: 8 };
const DEFAULT_INLINE_MAX = 1024;
/** (0028,1101-1103) Red, Green, Blue Palette Color LUT Descriptors, (0028,3002) LUT Descriptor. */
const LUT_DESCRIPTORS = new Set([0x00281101, 0x00281102, 0x00281103, 0x00283002]);

export function datasetToJson(ds: DicomDataSet, options: ToJsonOptions = {}, inheritedCharset?: CharacterSet, path: string[] = []): DicomJson {
  const out: DicomJson = {};
  const ownCharset = ds.elements.get(Tag.SpecificCharacterSet);
  const cs = ownCharset ? characterSet(asciiValue(ds, ownCharset)) : (inheritedCharset ?? characterSet(undefined));
  const sorted = [...ds.elements.values()].sort((a, b) => a.tag - b.tag);
  for (const el of sorted) {
    if ((el.tag & 0xffff) === 0 || el.tag >>> 16 === 0x0002) continue; // group lengths and file meta are not part of the model
    if (path.length === 0 && options.include && !options.include(el.tag)) continue;
    out[tagToHex(el.tag)] = elementToJson(ds, el, cs, options, [...path, tagToHex(el.tag)]);
  }
  return out;
}

function asciiValue(ds: DicomDataSet, el: DicomElement): string {
  return Buffer.from(ds.bytes.buffer, ds.bytes.byteOffset + el.offset, el.length).toString('latin1').replace(/[\0 ]+$/, '').trim();
}

export function elementToJson(ds: DicomDataSet, el: DicomElement, cs: CharacterSet, options: ToJsonOptions, path: string[]): DicomJsonAttribute {
  const vr = el.vr;
  if (vr === 'SQ') {
    return { vr, Value: (el.items ?? []).map((item, i) => datasetToJson(item, options, cs, [...path, String(i)])) };
  }
  if (el.fragments) {
    return options.bulkDataUri ? { vr, BulkDataURI: options.bulkDataUri(path) } : { vr };
  }
  if (el.length === 0) return { vr };
  const bytes = ds.bytes.subarray(el.offset, el.offset + el.length);
  if (BINARY_VRS.has(vr)) {
    if (el.length > (options.inlineBinaryMax ?? DEFAULT_INLINE_MAX) || el.tag === Tag.PixelData) {
      return options.bulkDataUri ? { vr, BulkDataURI: options.bulkDataUri(path) } : { vr };
    }
    return { vr, InlineBinary: Buffer.from(toLittleEndian(bytes, vr, ds.littleEndian)).toString('base64') };
  }
  const value = decodeValues(bytes, vr, ds.littleEndian, cs);
  // A LUT Descriptor's first value counts entries, unsigned even when the VR is SS (PS3.3 C.11.1.1.1).
  if (vr === 'SS' && LUT_DESCRIPTORS.has(el.tag) && typeof value[0] === 'number' && value[0] < 0) value[0] += 0x10000;
  return value.length ? { vr, Value: value } : { vr };
}

/** Bulk data is always served little endian (PS3.18 8.7.3.3.2); big endian words are swapped. */
export function toLittleEndian(bytes: Uint8Array, vr: string, littleEndian: boolean): Uint8Array {
  const size = WORD_SIZE[vr];
  return littleEndian || !size ? bytes : swapWords(bytes, size);
}

/** Reverses the byte order of each `size`-byte word. */
export function swapWords(bytes: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i + size <= bytes.length; i += size) for (let k = 0; k < size; k++) out[i + k] = bytes[i + size - 1 - k];
  return out;
}

function decodeValues(bytes: Uint8Array, vr: string, le: boolean, cs: CharacterSet): DicomJsonValue[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const numbers = (size: number, read: (o: number) => number | bigint): DicomJsonValue[] => {
    const values: DicomJsonValue[] = [];
    for (let o = 0; o + size <= bytes.length; o += size) {
      const v = read(o);
      values.push(typeof v === 'bigint' ? (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString()) : v);
    }
    return values;
  };
  switch (vr) {
    case 'US':
      return numbers(2, (o) => view.getUint16(o, le));
    case 'SS':
      return numbers(2, (o) => view.getInt16(o, le));
    case 'UL':
      return numbers(4, (o) => view.getUint32(o, le));
    case 'SL':
      return numbers(4, (o) => view.getInt32(o, le));
    case 'FL':
      return numbers(4, (o) => view.getFloat32(o, le));
    case 'FD':
      return numbers(8, (o) => view.getFloat64(o, le));
    case 'SV':
      return numbers(8, (o) => view.getBigInt64(o, le));
    case 'UV':
      return numbers(8, (o) => view.getBigUint64(o, le));
    case 'AT':
      return numbers(4, (o) => ((view.getUint16(o, le) << 16) | view.getUint16(o + 2, le)) >>> 0).map((t) => tagToHex(t as number));
  }
  const text = TEXT_VRS.has(vr) ? cs.decode(bytes) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const raw = SINGLE_VALUED_TEXT.has(vr) ? [text] : text.split('\\');
  const values = raw.map((s) => stringValue(s, vr));
  // A value of padding only is no value (PS3.18 F.2.5); an empty one among several is null.
  return values.length === 1 && values[0] === null ? [] : values;
}

function stringValue(s: string, vr: string): DicomJsonValue {
  let v = s.replace(/\0+$/, '');
  v = SINGLE_VALUED_TEXT.has(vr) || vr === 'UC' ? v.replace(/ +$/, '') : v.trim();
  if (v === '') return null;
  switch (vr) {
    case 'DS': {
      const n = Number(v);
      return Number.isFinite(n) ? n : v; // keep an unparseable value as written rather than lose it
    }
    case 'IS': {
      const n = Number(v);
      return Number.isInteger(n) ? n : v;
    }
    case 'PN':
      return personName(v);
    default:
      return v;
  }
}

function personName(v: string): PersonNameJson | null {
  const [alphabetic, ideographic, phonetic] = v.split('=').map((g) => g.trim());
  const pn: PersonNameJson = {};
  if (alphabetic) pn.Alphabetic = alphabetic;
  if (ideographic) pn.Ideographic = ideographic;
  if (phonetic) pn.Phonetic = phonetic;
  return Object.keys(pn).length ? pn : null;
}

/** First value of an attribute as a string (or the Alphabetic group of a person name). */
export function firstString(json: DicomJson, tag: number): string | undefined {
  const v = json[tagToHex(tag)]?.Value?.[0];
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'object') return (v as PersonNameJson).Alphabetic;
  return String(v);
}

export function firstNumber(json: DicomJson, tag: number): number | undefined {
  const v = json[tagToHex(tag)]?.Value?.[0];
  return typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined;
}
