// Attribute matching for queries: PS3.4 C.2.2.2 as profiled by PS3.18 8.3.4 (QIDO-RS).
import type { DicomJson, DicomJsonValue, PersonNameJson } from './json-model.js';
import { tagToHex } from './tags.js';

export interface AttributeFilter {
  tag: number;
  vr: string;
  /** The query value as sent (already URL-decoded). Empty means universal matching. */
  value: string;
  /** Sequence matching (PS3.4 C.2.2.2.6): keys that one item of the sequence must all match. */
  items?: AttributeFilter[];
}

/** Whether a filter matches everything: an empty or `*` value, or a sequence whose item keys all do. */
export function isUniversal(filter: AttributeFilter): boolean {
  return filter.items ? filter.items.every(isUniversal) : filter.value === '' || filter.value === '*';
}

export class InvalidFilterError extends Error {}

const NO_WILDCARD_VRS = new Set(['DA', 'TM', 'DT', 'SL', 'SS', 'US', 'UL', 'FL', 'FD', 'OB', 'OW', 'UN', 'AT', 'DS', 'IS', 'AS', 'UI', 'SV', 'UV']);
const RANGE_VRS = new Set(['DA', 'TM', 'DT']);
const DATE = /^\d{8}$/;
const TIME = /^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/;
const DATETIME = /^\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)?)?)?([+-]\d{4})?$/;

export type Matcher = (attributes: DicomJson) => boolean;

/** Validates and compiles a filter; throws InvalidFilterError naming the attribute and the problem. */
export function compileFilter(filter: AttributeFilter, name: string, fuzzy: boolean): Matcher {
  const key = tagToHex(filter.tag);
  const value = filter.value;
  const values = (attrs: DicomJson): DicomJsonValue[] => attrs[key]?.Value ?? [];
  if (filter.vr === 'SQ') {
    if (value !== '') throw new InvalidFilterError(`${name}: a sequence is matched through its items' attributes (${name}.Keyword=value), not by a value`);
    const itemMatchers = (filter.items ?? []).map((f) => compileFilter(f, `${name}.${tagToHex(f.tag)}`, fuzzy));
    if (isUniversal(filter)) return () => true;
    // One and the same item must match every key given for the sequence.
    return (attrs) => values(attrs).some((item) => !!item && typeof item === 'object' && itemMatchers.every((m) => m(item as DicomJson)));
  }
  if (value === '' || value === '*') return () => true; // universal matching
  if (filter.vr === 'UI') {
    const uids = value.split('\\').map((v) => v.trim());
    if (uids.some((u) => !/^[0-9]+(\.[0-9]+)*$/.test(u))) throw new InvalidFilterError(`${name}: "${value}" is not a UID or list of UIDs`);
    const wanted = new Set(uids);
    return (attrs) => values(attrs).some((v) => typeof v === 'string' && wanted.has(v));
  }
  if (RANGE_VRS.has(filter.vr)) {
    const range = parseRange(filter.vr, value, name);
    return (attrs) =>
      values(attrs).some((v) => {
        if (typeof v !== 'string') return false;
        const s = normaliseDateTime(filter.vr, v);
        return (range.from === undefined || s >= range.from) && (range.to === undefined || s <= range.to);
      });
  }
  if (filter.vr === 'PN') {
    const pattern = wildcardPattern(value.toUpperCase());
    const words = value.toUpperCase().split(/[\^\s=,]+/).filter(Boolean);
    return (attrs) =>
      values(attrs).some((v) => {
        if (!v || typeof v !== 'object') return false;
        const pn = v as PersonNameJson;
        return [pn.Alphabetic, pn.Ideographic, pn.Phonetic].some((group) => {
          if (!group) return false;
          const upper = group.toUpperCase();
          if (pattern.test(upper) || pattern.test(upper.replace(/\^+$/, ''))) return true;
          if (!fuzzy) return false;
          // Fuzzy: every word of the query starts some component of the name, in any order.
          const parts = upper.split(/[\^\s]+/).filter(Boolean);
          return words.every((w) => parts.some((p) => p.startsWith(w.replace(/[*?]/g, ''))));
        });
      });
  }
  if (['DS', 'IS', 'US', 'SS', 'UL', 'SL', 'FL', 'FD', 'SV', 'UV'].includes(filter.vr)) {
    const wanted = value.split('\\').map((v) => Number(v));
    if (wanted.some((n) => !Number.isFinite(n))) throw new InvalidFilterError(`${name}: "${value}" is not a number`);
    return (attrs) => values(attrs).some((v) => wanted.includes(Number(v)));
  }
  if (NO_WILDCARD_VRS.has(filter.vr) && /[*?]/.test(value)) {
    throw new InvalidFilterError(`${name}: wildcards are not allowed for VR ${filter.vr}`);
  }
  const alternatives = value.split('\\').map((v) => wildcardPattern(v));
  return (attrs) => values(attrs).some((v) => typeof v === 'string' && alternatives.some((p) => p.test(v)));
}

interface WildcardPattern {
  test(text: string): boolean;
}

/**
 * PS3.4 C.2.2.2.4 wildcard matching: `*` any run of characters, `?` one. Matched greedily with one
 * backtrack point (the last `*`), so the work is at most pattern × text characters whatever the query: a
 * regular expression built from `*a*a*a*…` backtracks exponentially and once held the server for minutes.
 */
function wildcardPattern(pattern: string): WildcardPattern {
  return {
    test(text: string): boolean {
      let p = 0;
      let t = 0;
      let star = -1;
      let resume = 0;
      while (t < text.length) {
        if (p < pattern.length && (pattern[p] === '?' || (pattern[p] !== '*' && pattern[p] === text[t]))) {
          p++;
          t++;
        } else if (p < pattern.length && pattern[p] === '*') {
          star = p++;
          resume = t;
        } else if (star >= 0) {
          p = star + 1;
          t = ++resume;
        } else {
          return false;
        }
      }
      while (p < pattern.length && pattern[p] === '*') p++;
      return p === pattern.length;
    },
  };
}

/** Normalised [from, to] bounds; partial values are padded so that the range covers whole units. */
export function parseRange(vr: string, value: string, name: string): { from?: string; to?: string } {
  const pattern = vr === 'DA' ? DATE : vr === 'TM' ? TIME : DATETIME;
  const check = (v: string): string => {
    const cleaned = vr === 'TM' ? v.replace(/:/g, '') : vr === 'DA' ? v.replace(/[.-]/g, '') : v;
    if (!pattern.test(cleaned)) throw new InvalidFilterError(`${name}: "${v}" is not a valid ${vr} value`);
    return cleaned;
  };
  const dash = value.indexOf('-', vr === 'DT' ? 4 : 0);
  const isRange = vr === 'DT' ? /^-|^\d{4,}[^-+]*-(?!\d{4}$)/.test(value) || value.endsWith('-') : value.includes('-');
  if (!isRange || dash < 0) {
    const exact = check(value);
    return { from: pad(vr, exact, '0'), to: pad(vr, exact, '9') };
  }
  const [fromText, toText] = vr === 'DT' && value.startsWith('-') ? ['', value.slice(1)] : [value.slice(0, dash), value.slice(dash + 1)];
  if (!fromText && !toText) throw new InvalidFilterError(`${name}: "${value}" is an empty range`);
  const from = fromText ? pad(vr, check(fromText), '0') : undefined;
  const to = toText ? pad(vr, check(toText), '9') : undefined;
  if (from !== undefined && to !== undefined && from > to) throw new InvalidFilterError(`${name}: range "${value}" ends before it starts`);
  return { from, to };
}

function pad(vr: string, v: string, fill: '0' | '9'): string {
  // Fractional seconds are compared digit by digit, so the dot goes and partial values are padded.
  const digits = v.replace(/[+-]\d{4}$/, '').replace('.', '');
  const width = vr === 'DA' ? 8 : vr === 'TM' ? 12 : 20;
  return (digits + fill.repeat(width)).slice(0, width);
}

function normaliseDateTime(vr: string, v: string): string {
  const cleaned = vr === 'TM' ? v.replace(/:/g, '') : vr === 'DA' ? v.replace(/[.-]/g, '') : v;
  return pad(vr, cleaned, '0');
}
