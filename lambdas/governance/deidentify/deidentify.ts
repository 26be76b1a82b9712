// A de-identified copy of one stored instance (PS3.15 Annex E): every attribute treated as Table E.1-1
// says under the Basic Application Level Confidentiality Profile and the export's options, UIDs replaced
// consistently, the patient given a pseudonym (and, with modified dates, a shift of all their dates),
// private attributes removed, and what was done recorded in the copy (Patient Identity Removed,
// De-identification Method and its Code Sequence). Pixel data is copied as stored: an instance flagged as
// having burned-in annotation is left out unless the export allows it, and so is an encapsulated document.
import { datasetToJson, firstString, toLittleEndian, type DicomJson, type DicomJsonAttribute, type DicomJsonValue } from '../../dicom/json-model.js';
import { assembleFrame, locateFrames } from '../../dicom/frames.js';
import { jsonToPart10, type ResolvedAttribute, type ResolvedDataset } from '../../dicom/json-part10.js';
import { parseDicom, type DicomDataSet } from '../../dicom/parser.js';
import { Tag, tagToHex } from '../../dicom/tags.js';
import { TransferSyntax, transferSyntaxInfo } from '../../dicom/transfer-syntax.js';
import { actionFor, PROFILE_OPTIONS, type Action, type ProfileOption } from './profile.js';
import type { Pseudonyms } from './pseudonyms.js';

export interface DeidentifySettings {
  options: ReadonlySet<ProfileOption>;
  /** Copy instances flagged Burned In Annotation = YES too (their pixels may show identifying text). */
  includeBurnedIn?: boolean;
}

export interface InstanceUids {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
}

export type DeidentifyResult =
  | { status: 'copied'; bytes: Uint8Array; original: InstanceUids; copy: InstanceUids; patientPseudonym: string }
  | { status: 'excluded'; original: Partial<InstanceUids>; reason: string };

export class DeidentifyError extends Error {}

const hex = (tag: number) => tagToHex(tag);
const BURNED_IN_ANNOTATION = '00280301';
const ENCAPSULATED_DOCUMENT = '00420011';
const INLINE_MAX = 64 * 1024;
const DUMMY_TEXT = 'ANONYMIZED';

interface Context {
  options: ReadonlySet<ProfileOption>;
  pseudonyms: Pseudonyms;
  dayShift: number;
}

/** YYYYMMDD moved `days` back; anything else (a malformed date) emptied. */
function shiftDate(value: string, days: number): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})/.exec(value);
  if (!m) return undefined;
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) - days * 86_400_000);
  return `${date.toISOString().slice(0, 10).replace(/-/g, '')}${value.slice(8)}`;
}

function dummy(attr: DicomJsonAttribute, ctx: Context): DicomJsonAttribute {
  const { vr } = attr;
  const one = (v: DicomJsonValue): DicomJsonAttribute => ({ vr, Value: [v] });
  switch (vr) {
    case 'PN':
      return one({ Alphabetic: DUMMY_TEXT });
    case 'DA':
      return one('19000101');
    case 'TM':
      return one('000000');
    case 'DT':
      return one('19000101000000');
    case 'AS':
      return one('000Y');
    case 'UI':
      return { vr, Value: (attr.Value ?? []).map((v) => (typeof v === 'string' && v ? ctx.pseudonyms.uid(v) : v)) };
    case 'IS': case 'DS': case 'US': case 'SS': case 'UL': case 'SL': case 'FL': case 'FD': case 'SV': case 'UV':
      return one(0);
    case 'OB': case 'OW': case 'OD': case 'OF': case 'OL': case 'OV': case 'UN':
      return { vr };
    default:
      return one(DUMMY_TEXT);
  }
}

/** C: dates move with the patient's shift (Modified Dates) or stay (Full Dates); text is emptied, not rewritten. */
function cleaned(attr: DicomJsonAttribute, ctx: Context): DicomJsonAttribute {
  if (attr.vr === 'DA' || attr.vr === 'DT') {
    if (ctx.options.has('retainLongitudinalFullDates')) return attr;
    const values = (attr.Value ?? []).map((v) => (typeof v === 'string' ? (shiftDate(v, ctx.dayShift) ?? null) : v));
    return values.some((v) => v !== null) ? { vr: attr.vr, Value: values } : { vr: attr.vr };
  }
  if (attr.vr === 'TM') return attr;
  return { vr: attr.vr };
}

function treat(attr: DicomJsonAttribute, action: Action, ctx: Context): DicomJsonAttribute | undefined {
  if (action === 'X') return undefined;
  if (attr.vr === 'SQ') {
    // A sequence kept, cleaned or referencing others keeps its items, each de-identified in turn.
    if (action === 'Z') return { vr: 'SQ' };
    return { vr: 'SQ', ...(attr.Value ? { Value: attr.Value.map((item) => deidentifyDataset(item as DicomJson, ctx)) } : {}) };
  }
  switch (action) {
    case 'K':
      return attr;
    case 'Z':
      return { vr: attr.vr };
    case 'D':
      return dummy(attr, ctx);
    case 'U':
      return attr.vr === 'UI' ? dummy(attr, ctx) : { vr: attr.vr };
    case 'C':
      return cleaned(attr, ctx);
  }
}

/**
 * Attributes Table E.1-1 does not list (newer than the table's edition, or not thought of) are kept —
 * sequences among them still walked — except what identifies by its nature: person names, free text, and
 * dates and times, which follow the export's date options. Those get dummy values rather than none, since
 * some are required to have one (Tracking ID, Frame Acquisition DateTime, a text content item's value).
 */
function unlisted(vr: string, options: ReadonlySet<ProfileOption>): Action {
  if (vr === 'PN' || vr === 'UT' || vr === 'LT' || vr === 'ST') return 'D';
  const full = options.has('retainLongitudinalFullDates');
  if (vr === 'DA' || vr === 'DT') return full ? 'K' : options.has('retainLongitudinalModifiedDates') ? 'C' : 'D';
  if (vr === 'TM') return full || options.has('retainLongitudinalModifiedDates') ? 'K' : 'D';
  return 'K';
}

/** An overlay whose data is removed goes whole (its group 60xx), so that no Overlay Plane is left without data. */
const OVERLAY_DATA = 0x3000;
const isOverlay = (tag: number) => tag >>> 24 === 0x60 && ((tag >>> 16) & 1) === 0;

function deidentifyDataset(ds: DicomJson, ctx: Context): DicomJson {
  const out: DicomJson = {};
  for (const [key, attr] of Object.entries(ds)) {
    const tag = parseInt(key, 16);
    if (isOverlay(tag) && actionFor(((tag >>> 16) << 16) | OVERLAY_DATA, ctx.options) === 'X') continue;
    const treated = treat(attr, actionFor(tag, ctx.options) ?? unlisted(attr.vr, ctx.options), ctx);
    if (treated) out[key] = treated;
  }
  return out;
}

/** What was done, recorded in the copy (PS3.3 C.7.1.1: Patient Identity Removed, De-identification Method). */
function methodAttributes(options: ReadonlySet<ProfileOption>): DicomJson {
  const codes = [{ code: '113100', meaning: 'Basic Application Confidentiality Profile' }, ...[...options].map((o) => PROFILE_OPTIONS[o])];
  const lo = (s: string) => s.slice(0, 64);
  return {
    '00120062': { vr: 'CS', Value: ['YES'] },
    '00120063': { vr: 'LO', Value: codes.map((c) => lo(c.meaning)) },
    '00120064': {
      vr: 'SQ',
      Value: codes.map((c) => ({ '00080100': { vr: 'SH', Value: [c.code] }, '00080102': { vr: 'SH', Value: ['DCM'] }, '00080104': { vr: 'LO', Value: [lo(c.meaning)] } })),
    },
    // PS3.3 C.7.6.1.1.1: whether dates were kept, shifted or removed.
    '00280303': { vr: 'CS', Value: [options.has('retainLongitudinalFullDates') ? 'UNMODIFIED' : options.has('retainLongitudinalModifiedDates') ? 'MODIFIED' : 'REMOVED'] },
  };
}

/** The element a BulkDataURI path ("7FE00010", or "00540016/0/00281201") names in the parsed data set. */
function elementAt(ds: DicomDataSet, path: string[]) {
  let current = ds;
  for (let i = 0; i < path.length; i += 2) {
    const el = current.elements.get(parseInt(path[i], 16));
    if (!el) break;
    if (i + 1 >= path.length) return { ds: current, el };
    const item = el.items?.[Number(path[i + 1])];
    if (!item) break;
    current = item;
  }
  throw new DeidentifyError(`bulk data at ${path.join('/')} is not in the instance`);
}

/** Binary values given by path in the JSON, as bytes: Pixel Data one array per frame when encapsulated. */
function resolve(ds: DicomJson, parsed: DicomDataSet, frames: () => Uint8Array[]): ResolvedDataset {
  const out: ResolvedDataset = {};
  for (const [key, attr] of Object.entries(ds)) {
    if (attr.BulkDataURI) {
      const path = attr.BulkDataURI.split('/');
      const { ds: owner, el } = elementAt(parsed, path);
      out[key] = { vr: attr.vr, bytes: el.fragments ? frames() : [toLittleEndian(owner.bytes.subarray(el.offset, el.offset + el.length), el.vr, owner.littleEndian)] };
    } else if (attr.vr === 'SQ' && attr.Value) {
      out[key] = { vr: 'SQ', Value: attr.Value.map((item) => resolve(item as DicomJson, parsed, frames) as unknown as DicomJson) } as ResolvedAttribute;
    } else {
      out[key] = attr as ResolvedAttribute;
    }
  }
  return out;
}

export function deidentifyInstance(bytes: Uint8Array, pseudonyms: Pseudonyms, settings: DeidentifySettings): DeidentifyResult {
  if (settings.options.has('retainSafePrivate')) throw new DeidentifyError('the Retain Safe Private Option is not supported: private attributes are always removed');
  const parsed = parseDicom(bytes);
  const json = datasetToJson(parsed.dataset, { inlineBinaryMax: INLINE_MAX, bulkDataUri: (path) => path.join('/') });
  const original = { studyInstanceUID: firstString(json, Tag.StudyInstanceUID), seriesInstanceUID: firstString(json, Tag.SeriesInstanceUID), sopInstanceUID: firstString(json, Tag.SOPInstanceUID) };
  if (!original.studyInstanceUID || !original.seriesInstanceUID || !original.sopInstanceUID) throw new DeidentifyError('the instance lacks a Study, Series or SOP Instance UID');
  if (/^YES$/i.test((firstString(json, parseInt(BURNED_IN_ANNOTATION, 16)) ?? '').trim()) && !settings.includeBurnedIn) {
    return { status: 'excluded', original, reason: 'Burned In Annotation is YES: its pixels may show identifying text' };
  }
  // A PDF, CDA or other document carries its own text and metadata, which no DICOM profile reaches.
  if (json[ENCAPSULATED_DOCUMENT]) return { status: 'excluded', original, reason: 'an encapsulated document (PDF, CDA, …) whose content cannot be de-identified' };
  // A patient without an ID still gets one pseudonym for all of their study, never one shared with others.
  const patientID = firstString(json, Tag.PatientID)?.trim() || `study:${original.studyInstanceUID}`;
  const patientPseudonym = pseudonyms.patientId(patientID, firstString(json, Tag.IssuerOfPatientID)?.trim() ?? '');
  const ctx: Context = { options: settings.options, pseudonyms, dayShift: pseudonyms.dayShift(patientPseudonym) };
  const deidentified: DicomJson = {
    ...deidentifyDataset(json, ctx),
    [hex(Tag.PatientID)]: { vr: 'LO', Value: [patientPseudonym] },
    [hex(Tag.PatientName)]: { vr: 'PN', Value: [{ Alphabetic: patientPseudonym }] },
    ...methodAttributes(settings.options),
  };
  const encapsulated = transferSyntaxInfo(parsed.transferSyntaxUID).encapsulated;
  let frameBytes: Uint8Array[] | undefined;
  const frames = () => {
    if (!frameBytes) {
      const layout = locateFrames(parsed);
      if (!layout) throw new DeidentifyError('the encapsulated pixel data has no frames that can be located');
      const source = parsed.dataset.bytes;
      frameBytes = layout.frames.map((_, i) => assembleFrame(layout, i, (r) => source.subarray(r.offset, r.offset + r.length)));
    }
    return frameBytes;
  };
  const copyBytes = jsonToPart10(resolve(deidentified, parsed.dataset, frames), encapsulated ? parsed.transferSyntaxUID : TransferSyntax.ExplicitVRLittleEndian);
  const copy = { studyInstanceUID: firstString(deidentified, Tag.StudyInstanceUID)!, seriesInstanceUID: firstString(deidentified, Tag.SeriesInstanceUID)!, sopInstanceUID: firstString(deidentified, Tag.SOPInstanceUID)! };
  return { status: 'copied', bytes: copyBytes, original: original as InstanceUids, copy, patientPseudonym };
}
