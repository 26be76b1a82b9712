// The DICOM data dictionary (PS3.6), generated from dcmjs's copy (dictionary-data.ts) so that we keep
// one maintained source without loading dcmjs itself.
// We only need keyword <-> tag and the VR used when a file is implicit VR.
import { DICTIONARY_ENTRIES } from './dictionary-data.js';

export interface DictionaryEntry {
  tag: number;
  keyword: string;
  /** The VR as PS3.6 lists it; ambiguous VRs ("OB or OW", "US or SS") are resolved by resolveAmbiguousVr. */
  vr: string;
}

const byTag = new Map<number, DictionaryEntry>();
const byKeyword = new Map<string, DictionaryEntry>();

function parseDcmjsTag(text: string): number | undefined {
  // "(0010,0010)"; repeating groups such as "(60xx,3000)" are stored under their base group.
  const m = /^\(([0-9A-Fa-fx]{4}),([0-9A-Fa-fx]{4})\)$/.exec(text);
  if (!m) return undefined;
  const group = parseInt(m[1].replace(/x/gi, '0'), 16);
  const element = parseInt(m[2].replace(/x/gi, '0'), 16);
  return ((group << 16) | element) >>> 0;
}

for (const line of DICTIONARY_ENTRIES.split('\n')) {
  const [tagText, vr, name] = line.split(' ');
  const raw = { tag: tagText, vr, name };
  const tag = parseDcmjsTag(raw.tag);
  if (tag === undefined) continue;
  const keyword = raw.name.replace(/^RETIRED_/, '');
  const entry: DictionaryEntry = { tag, keyword, vr: raw.vr };
  if (!byTag.has(tag) || !raw.name.startsWith('RETIRED_')) byTag.set(tag, entry);
  if (!byKeyword.has(keyword)) byKeyword.set(keyword, entry);
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

export function tagToHex(tag: number): string {
  return (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

export function tagFromHex(hex: string): number {
  return parseInt(hex, 16) >>> 0;
}

/** Accepts "PatientName", "00100010" or "0010,0010"; returns undefined for anything else. */
export function parseAttributeName(name: string): number | undefined {
  if (/^[0-9A-Fa-f]{8}$/.test(name)) return tagFromHex(name);
  const comma = /^\(?([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)?$/.exec(name);
  if (comma) return tagFromHex(comma[1] + comma[2]);
  return lookupKeyword(name)?.tag;
}
