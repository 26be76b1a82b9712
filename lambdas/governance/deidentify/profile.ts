// What PS3.15 Annex E says to do with an attribute, under the Basic Application Level Confidentiality
// Profile and the options chosen for an export (Table E.1-1, profile-data.ts).
import { PROFILE_ROWS } from './profile-data.js';

/** The options of PS3.15 E.3 an export may choose, with the code each is recorded by (PS3.16 CID 7050). */
export const PROFILE_OPTIONS = {
  retainSafePrivate: { column: 0, code: '113111', meaning: 'Retain Safe Private Option' },
  retainUIDs: { column: 1, code: '113110', meaning: 'Retain UIDs Option' },
  retainDeviceIdentity: { column: 2, code: '113109', meaning: 'Retain Device Identity Option' },
  retainInstitutionIdentity: { column: 3, code: '113112', meaning: 'Retain Institution Identity Option' },
  retainPatientCharacteristics: { column: 4, code: '113108', meaning: 'Retain Patient Characteristics Option' },
  retainLongitudinalFullDates: { column: 5, code: '113106', meaning: 'Retain Longitudinal Temporal Information Full Dates Option' },
  retainLongitudinalModifiedDates: { column: 6, code: '113107', meaning: 'Retain Longitudinal Temporal Information Modified Dates Option' },
  cleanDescriptors: { column: 7, code: '113105', meaning: 'Clean Descriptors Option' },
  cleanStructuredContent: { column: 8, code: '113104', meaning: 'Clean Structured Content Option' },
  cleanGraphics: { column: 9, code: '113103', meaning: 'Clean Graphics Option' },
} as const;

export type ProfileOption = keyof typeof PROFILE_OPTIONS;

/**
 * X remove, Z empty, D a dummy value, K keep, C clean (dates shifted; text emptied: this archive does not
 * rewrite free text), U a replacement UID (consistent across the cohort).
 */
export type Action = 'X' | 'Z' | 'D' | 'K' | 'C' | 'U';

/**
 * Where the table leaves a choice by the IOD's requirements (X/Z, X/D, Z/D, X/Z/D, X/Z/U*), the choice that
 * keeps the attribute present, so that a Type 1 or 2 attribute stays valid: a dummy or empty value, or a
 * replaced UID (a sequence of references is kept and its items' UIDs replaced).
 */
function settle(code: string): Action {
  if (code.includes('U')) return 'U';
  if (code.includes('D')) return 'D';
  if (code.includes('Z')) return 'Z';
  return code as Action;
}

interface Rule {
  basic: string;
  options: string[];
}

const exact = new Map<number, Rule>();
const groupPatterns: Array<{ test: (tag: number) => boolean; rule: Rule }> = [];
let privateRule: Rule | undefined;
for (const row of PROFILE_ROWS) {
  const [tag, basic, ...options] = row.split('|');
  const rule = { basic, options };
  if (tag === 'odd') privateRule = rule;
  else if (!tag.includes('x')) exact.set(parseInt(tag, 16), rule);
  else {
    // "50xxxxxx" (curves), "60xx3000" (overlay data): a group range, and an element or any element.
    const group = parseInt(tag.slice(0, 2), 16);
    const element = tag.slice(4) === 'xxxx' ? undefined : parseInt(tag.slice(4), 16);
    groupPatterns.push({ test: (t) => t >>> 24 === group && ((t >>> 16) & 1) === 0 && (element === undefined || (t & 0xffff) === element), rule });
  }
}

/** The action for an attribute, or undefined when Table E.1-1 does not list it (it is kept). */
export function actionFor(tag: number, options: ReadonlySet<ProfileOption>): Action | undefined {
  const isPrivate = ((tag >>> 16) & 1) === 1;
  const rule = isPrivate ? privateRule : (exact.get(tag) ?? groupPatterns.find((p) => p.test(tag))?.rule);
  if (!rule) return undefined;
  const chosen = [...options].map((o) => rule.options[PROFILE_OPTIONS[o].column]).filter(Boolean);
  // Options that overlap on one attribute: cleaning wins over keeping, keeping over the basic profile.
  const code = chosen.find((c) => c === 'C') ?? chosen.find((c) => c === 'K') ?? chosen[0] ?? rule.basic;
  return settle(code);
}
