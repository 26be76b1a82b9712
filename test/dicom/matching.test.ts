// Attribute matching (PS3.4 C.2.2.2): wildcards as the standard defines them, and queries built to make a
// backtracking matcher run for minutes answered at once (the fuzzer found `*a*a*a…` holding the server).
import { describe, expect, it } from 'vitest';
import { compileFilter } from '../../lambdas/dicom/matching.js';
import type { DicomJson } from '../../lambdas/dicom/json-model.js';

const LO = 0x00081030; // Study Description
const attrs = (value: string): DicomJson => ({ '00081030': { vr: 'LO', Value: [value] } });
const matches = (pattern: string, value: string) => compileFilter({ tag: LO, vr: 'LO', value: pattern }, 'StudyDescription', false)(attrs(value));

describe('wildcard matching', () => {
  it('matches * as any run of characters and ? as one, over the whole value', () => {
    expect(matches('CT*', 'CT CHEST')).toBe(true);
    expect(matches('*CHEST', 'CT CHEST')).toBe(true);
    expect(matches('C?', 'CT')).toBe(true);
    expect(matches('C?', 'CTA')).toBe(false);
    expect(matches('*', '')).toBe(true);
    expect(matches('C*T*S*T', 'CT CHEST')).toBe(true);
    expect(matches('C*X*T', 'CT CHEST')).toBe(false);
    expect(matches('**?', 'A')).toBe(true);
    expect(matches('?', '')).toBe(false);
    // Characters a regular expression would read as syntax are literal.
    expect(matches('A.B(C)[D]+', 'A.B(C)[D]+')).toBe(true);
    expect(matches('A.B', 'AxB')).toBe(false);
    expect(matches('ONE\\TW?', 'TWO')).toBe(true);
  });

  it('answers patterns that make backtracking matchers explode', () => {
    const value = 'a'.repeat(5000);
    expect(matches(`${'*a'.repeat(200)}b`, value)).toBe(false);
    expect(matches(`${'*?'.repeat(200)}*b`, value)).toBe(false);
    expect(matches(`${'*a'.repeat(200)}*`, value)).toBe(true);
    const pn = compileFilter({ tag: 0x00100010, vr: 'PN', value: `${'*A'.repeat(200)}B` }, 'PatientName', false);
    expect(pn({ '00100010': { vr: 'PN', Value: [{ Alphabetic: 'A'.repeat(5000) }] } })).toBe(false);
  });
});
