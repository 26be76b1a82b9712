// Our DICOM JSON for every sample against pydicom's independent reading of the same file.
import { describe, expect, it } from 'vitest';
import { readInstance } from '../../lambdas/dicom/instance.js';
import { unpackJson } from '../../lambdas/dicom/packed-json.js';
import { pydicomReadings } from '../helpers/reference.js';
import { sampleBytes, samples } from '../helpers/samples.js';

type Attr = { vr: string; Value?: unknown[]; InlineBinary?: string; BulkDataURI?: string };
type Json = Record<string, Attr>;

/** pydicom 2.3 sometimes leaves ISO 2022 escape sequences in decoded text; they are encoding, not content. */
const withoutEscapes = (s: string) => s.replace(/\u001b(?:\$[()]?|[()\-])[@-Z]/g, '');

/** Where pydicom's reading is wrong or less complete, and why we differ. */
const KNOWN_DIFFERENCES: Record<string, string[]> = {
  // The file lacks the final Sequence Delimitation Item; pydicom drops Pixel Data, we keep all its fragments.
  'pydicom-data/emri_small_jpeg_2k_lossless_too_short.dcm': ['/7FE00010: present only in ours'],
  // (0040,A170) is written as a CS value in implicit VR; pydicom reads an empty sequence, we keep the bytes as UN.
  'dcm4che/Tag-0040-A170-VR-CS.dcm': ['/0040A170'],
};

function sameNumber(a: unknown, b: unknown): boolean {
  const x = Number(a);
  const y = Number(b);
  if (!Number.isFinite(x) || !Number.isFinite(y)) return String(a).trim() === String(b).trim();
  return x === y || Math.abs(x - y) <= 1e-6 * Math.max(Math.abs(x), Math.abs(y));
}

function sameValue(ours: unknown, theirs: unknown, path: string, diffs: string[], bigEndian: boolean): void {
  if ((ours === null || ours === '') && (theirs === null || theirs === '' || theirs === undefined)) return;
  if (typeof theirs === 'object' && theirs !== null && !Array.isArray(theirs)) {
    if ('Alphabetic' in theirs || 'Ideographic' in theirs || 'Phonetic' in theirs || Object.keys(theirs).length === 0) {
      const o = (ours ?? {}) as Record<string, string>;
      const t = theirs as Record<string, string>;
      for (const g of ['Alphabetic', 'Ideographic', 'Phonetic']) {
        if ((o[g] ?? '').trim() !== withoutEscapes(t[g] ?? '').trim()) diffs.push(`${path}.${g}: ours ${JSON.stringify(o[g])} pydicom ${JSON.stringify(t[g])}`);
      }
      return;
    }
    compareDataSets((ours ?? {}) as Json, theirs as Json, path, diffs, bigEndian);
    return;
  }
  if (typeof theirs === 'number' || typeof ours === 'number') {
    if (!sameNumber(ours, theirs)) diffs.push(`${path}: ours ${JSON.stringify(ours)} pydicom ${JSON.stringify(theirs)}`);
    return;
  }
  if (String(ours ?? '').trim() !== withoutEscapes(String(theirs ?? '')).trim()) diffs.push(`${path}: ours ${JSON.stringify(ours)} pydicom ${JSON.stringify(theirs)}`);
}

function compareDataSets(ours: Json, theirs: Json, path: string, diffs: string[], bigEndian: boolean): void {
  const tags = new Set([...Object.keys(ours), ...Object.keys(theirs)].filter((t) => !t.endsWith('0000') && !t.startsWith('0002')));
  for (const tag of tags) {
    const o = ours[tag];
    const t = theirs[tag];
    const at = `${path}/${tag}`;
    if (!o || !t) {
      diffs.push(`${at}: present only in ${o ? 'ours' : 'pydicom'}`);
      continue;
    }
    if (t.BulkDataURI || o.BulkDataURI || (t.InlineBinary as unknown) === 'bulk') continue;
    if (o.vr === 'UN' && o.InlineBinary !== undefined && t.Value) {
      // pydicom knows some private dictionaries; we keep unknown private VRs as UN (PS3.5 6.2.2). Compare text values.
      const text = Buffer.from(o.InlineBinary, 'base64').toString('latin1').replace(/[\0 ]+$/, '');
      if (t.Value.every((v) => typeof v === 'string') && text.split('\\').map((x) => x.trim()).join('\\') !== t.Value.map((v) => String(v).trim()).join('\\')) {
        diffs.push(`${at}: UN text ${JSON.stringify(text)} vs pydicom ${JSON.stringify(t.Value)}`);
      }
      continue;
    }
    if (t.InlineBinary !== undefined || o.InlineBinary !== undefined) {
      // pydicom keeps big endian words as stored; we serve bulk data little endian (PS3.18), so compare LE files only.
      if (!bigEndian && t.InlineBinary !== o.InlineBinary) diffs.push(`${at}: inline binary differs`);
      continue;
    }
    const ov = o.Value ?? [];
    const tv = t.Value ?? [];
    if (ov.length !== tv.length && !(ov.every((v) => v === null) && tv.length === 0) && !(tv.every((v) => v === null || v === '') && ov.length === 0)) {
      diffs.push(`${at}: ${ov.length} value(s) in ours, ${tv.length} in pydicom: ${JSON.stringify(ov).slice(0, 120)} vs ${JSON.stringify(tv).slice(0, 120)}`);
      continue;
    }
    ov.forEach((v, i) => sameValue(v, tv[i], `${at}[${i}]`, diffs, bigEndian));
  }
}

describe('DICOM JSON model agrees with pydicom on every sample', () => {
  const reference = pydicomReadings();
  for (const sample of samples) {
    it(sample.file, () => {
      let ours;
      try {
        ours = readInstance(sampleBytes(sample.file));
      } catch (e) {
        // Refusals are covered by the STOW tests; here we only compare what we accept.
        return;
      }
      const theirs = reference[sample.path];
      expect(theirs.error, `pydicom could not read ${sample.file}`).toBeUndefined();
      const diffs: string[] = [];
      compareDataSets(ours.metadata as Json, theirs.json as Json, '', diffs, ours.transferSyntaxUID === '1.2.840.10008.1.2.2');
      const known = KNOWN_DIFFERENCES[sample.file] ?? [];
      const unexpected = diffs.filter((d) => !known.some((k) => d.startsWith(k) || d.includes(`${k}:`) || d.includes(`${k}[`)));
      expect(unexpected.slice(0, 8).join('\n')).toBe('');
    });
  }
});

/** A generated file's table (compared unpacked: another zlib may pack the same table otherwise). */
const unpacked = (source: string): unknown => unpackJson(/'([A-Za-z0-9+/=]+)'/.exec(source)?.[1] ?? '');

describe('the generated data dictionary', () => {
  it('is what build-dictionary.ts makes from the installed dcmjs', async () => {
    const { dictionarySource, DICTIONARY_DATA_FILE } = await import('../../lambdas/dicom/build-dictionary.js');
    const { readFileSync } = await import('node:fs');
    expect(unpacked(readFileSync(DICTIONARY_DATA_FILE, 'utf8'))).toEqual(unpacked(dictionarySource()));
  });
});

describe('the generated private dictionary', () => {
  it('is what build-private-dictionary.ts makes from the installed pydicom', async () => {
    const { privateDictionarySource, PRIVATE_DICTIONARY_DATA_FILE } = await import('../../lambdas/dicom/build-private-dictionary.js');
    const { readFileSync } = await import('node:fs');
    expect(unpacked(readFileSync(PRIVATE_DICTIONARY_DATA_FILE, 'utf8'))).toEqual(unpacked(privateDictionarySource()));
  });
});
