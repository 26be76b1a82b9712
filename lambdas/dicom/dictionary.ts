// The DICOM data dictionary (PS3.6), generated from dcmjs's copy (dictionary-data.ts) so that we keep
// one maintained source without loading dcmjs itself.
// We only need keyword <-> tag and the VR used when a file is implicit VR.
import { DICTIONARY_PACKED } from './dictionary-data.js';
import { unpackJson } from './packed-json.js';
import { tagFromHex, tagToHex } from './tags.js';

export interface DictionaryEntry {
  tag: number;
  keyword: string;
  /** The VR as PS3.6 lists it; ambiguous VRs ("OB or OW", "US or SS") are resolved by resolveAmbiguousVr. */
  vr: string;
}

const byTag = new Map<number, DictionaryEntry>();
const byKeyword = new Map<string, DictionaryEntry>();

// Runs once per cold start, before V8 has optimised anything: a plain indexed loop over parsed JSON
// (about 10 ms for 5,000 entries here) instead of regular expressions per line (about 45 ms).
const entries = unpackJson<Array<[tag: number, vr: string, keyword: string, retired: 0 | 1]>>(DICTIONARY_PACKED);
for (let i = 0; i < entries.length; i++) {
  const e = entries[i]; // (no destructuring: the interpreter runs it through the iterator protocol)
  const entry: DictionaryEntry = { tag: e[0], vr: e[1], keyword: e[2] };
  // For a tag, a current entry wins over a retired one; for a keyword, the first entry.
  if (!e[3] || !byTag.has(e[0])) byTag.set(e[0], entry);
  if (!byKeyword.has(e[2])) byKeyword.set(e[2], entry);
}

/** Groups whose even-numbered members repeat a base group (curves 50xx, overlays 60xx). */
function repeatingBase(tag: number): number {
  const group = tag >>> 16;
  if ((group & 0xff00) === 0x5000 || (group & 0xff00) === 0x6000) {
    return (((group & 0xff00) << 16) | (tag & 0xffff)) >>> 0;
  }
  return tag;
}

export function lookupTag(tag: number): DictionaryEntry | undefined {
  return byTag.get(tag) ?? byTag.get(repeatingBase(tag));
}

export function lookupKeyword(keyword: string): DictionaryEntry | undefined {
  return byKeyword.get(keyword);
}

export function isPrivateTag(tag: number): boolean {
  return ((tag >>> 16) & 1) === 1;
}

/** VR to use for an element read from implicit VR data. */
export function implicitVr(tag: number): string {
  const element = tag & 0xffff;
  if (element === 0x0000) return 'UL'; // group length
  if (isPrivateTag(tag)) {
    return element >= 0x0010 && element <= 0x00ff ? 'LO' : 'UN'; // private creator, else unknown
  }
  const entry = lookupTag(tag);
  if (!entry) return 'UN';
  return resolveAmbiguousVr(entry.vr);
}

/** dcmjs marks ambiguous VRs in lower case; implicit VR files use the OW / US forms. */
export function resolveAmbiguousVr(vr: string): string {
  switch (vr) {
    case 'ox':
    case 'lt':
      return 'OW';
    case 'xs':
      return 'US';
    case 'up':
      return 'UL';
    case 'na':
      return 'UN';
    default:
      return vr;
  }
}

// In tags.ts, which loads no dictionary: modules that only name tags do not pay for it.
export { tagFromHex, tagToHex };

/** Accepts "PatientName", "00100010" or "0010,0010"; returns undefined for anything else. */
export function parseAttributeName(name: string): number | undefined {
  if (/^[0-9A-Fa-f]{8}$/.test(name)) return tagFromHex(name);
  const comma = /^\(?([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)?$/.exec(name);
  if (comma) return tagFromHex(comma[1] + comma[2]);
  return lookupKeyword(name)?.tag;
}
