// C-FIND SCP (PS3.4 C.4.1), Patient Root and Study Root: the identifier's keys become the same attribute
// filters QIDO-RS uses (wildcards, ranges, case-insensitive person names, UID lists) over the same index,
// and each match answers the keys the identifier asked for.
import { lookupKeyword, tagToHex } from '../dicom/dictionary.js';
import type { DicomJson, DicomJsonAttribute, PersonNameJson } from '../dicom/json-model.js';
import { singleByteEncoder } from '../dicom/charset.js';
import { LATIN1, UTF8, type TextCharset } from '../dicom/json-part10.js';
import { InvalidFilterError, compileFilter, type AttributeFilter } from '../dicom/matching.js';
import { Tag } from '../dicom/tags.js';
import type { DicomWebConfig } from '../dicomweb/config.js';
import { matchableAt } from '../dicomweb/query/qido.js';
import type { ArchiveStorage, QueryLevel, QueryMatch } from '../storage/ports.js';
import { DimseStatus } from './status.js';

const hexOf = (keyword: string) => tagToHex(lookupKeyword(keyword)!.tag);
const QUERY_RETRIEVE_LEVEL = hexOf('QueryRetrieveLevel');
const RETRIEVE_AE_TITLE = hexOf('RetrieveAETitle');
const CHARSET = tagToHex(Tag.SpecificCharacterSet);
const PATIENT_ID = tagToHex(Tag.PatientID);
const ISSUER_OF_PATIENT_ID = hexOf('IssuerOfPatientID');
const PATIENT_COUNTS = {
  studies: hexOf('NumberOfPatientRelatedStudies'),
  series: hexOf('NumberOfPatientRelatedSeries'),
  instances: hexOf('NumberOfPatientRelatedInstances'),
};
const STUDY_COUNTS = { series: hexOf('NumberOfStudyRelatedSeries'), instances: hexOf('NumberOfStudyRelatedInstances') };

/** Keys that steer the query rather than match: never filters, answered by the archive itself. */
const CONTROL_KEYS = new Set([QUERY_RETRIEVE_LEVEL, RETRIEVE_AE_TITLE, CHARSET, hexOf('InstanceAvailability')]);

export type QueryModel = 'patient' | 'study';
const LEVELS: Record<string, QueryLevel | 'patient'> = { PATIENT: 'patient', STUDY: 'study', SERIES: 'series', IMAGE: 'instance' };

/** An identifier the archive cannot search with: the C-FIND's failure status and why. */
export class FindRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface FindRequest {
  model: QueryModel;
  /** The identifier as DICOM JSON. */
  identifier: DicomJson;
  aeTitle: string;
  /** The Specific Character Set the identifier was written in (answers use it when they can). */
  characterSet?: string;
}

/** A key's value as QIDO-RS would receive it; dcmjs leaves the padding of odd-length values on, which is not part of them. */
function valueText(attribute: DicomJsonAttribute): string {
  return (attribute.Value ?? [])
    .map((v) => (v !== null && typeof v === 'object' ? ((v as PersonNameJson).Alphabetic ?? '') : v === null ? '' : String(v)))
    .map((v) => v.replace(/[\0 ]+$/, ''))
    .join('\\');
}

/** The identifier's keys with a value as filters; an item of a sequence key matches within one item. */
function filtersOf(identifier: DicomJson, level: QueryLevel): AttributeFilter[] {
  const filters: AttributeFilter[] = [];
  for (const [hex, attribute] of Object.entries(identifier)) {
    if (CONTROL_KEYS.has(hex) || hex.startsWith('0000') || hex.startsWith('0002')) continue;
    const tag = parseInt(hex, 16);
    if (!matchableAt(level, tag)) continue;
    const filter = filterOf(tag, attribute);
    try {
      compileFilter(filter, hex, false);
    } catch (e) {
      if (e instanceof InvalidFilterError) throw new FindRefusal(DimseStatus.IdentifierDoesNotMatchSOPClass, e.message);
      throw e;
    }
    filters.push(filter);
  }
  return filters;
}

function filterOf(tag: number, attribute: DicomJsonAttribute): AttributeFilter {
  if (attribute.vr !== 'SQ') return { tag, vr: attribute.vr, value: valueText(attribute) };
  const item = (attribute.Value?.[0] ?? {}) as DicomJson;
  const items = Object.entries(item).map(([hex, a]) => filterOf(parseInt(hex, 16), a));
  return { tag, vr: 'SQ', value: '', items };
}

export interface FindAnswer {
  attributes: DicomJson;
  /** How its text is to be written (named in its Specific Character Set when not plain ASCII). */
  charset: TextCharset;
}

/** The answer to one match: every key the identifier holds, with the match's value or empty (PS3.4 C.4.1.1.3.2). */
function answerFor(request: FindRequest, attributes: DicomJson, levelName: string): FindAnswer {
  const { identifier, aeTitle } = request;
  const out: DicomJson = {};
  for (const [hex, asked] of Object.entries(identifier)) {
    if (hex.startsWith('0000') || hex.startsWith('0002') || hex === CHARSET) continue;
    out[hex] = attributes[hex] ?? { vr: asked.vr };
  }
  out[QUERY_RETRIEVE_LEVEL] = { vr: 'CS', Value: [levelName] };
  out[RETRIEVE_AE_TITLE] = { vr: 'AE', Value: [aeTitle] };
  // Stored text is Unicode: answered in the requester's single-byte set (Latin-1, Cyrillic, Greek, …) when
  // it asked in one and every character fits (PS3.4 C.4.1.1.3.1), else in UTF-8; plain ASCII needs no
  // Specific Character Set.
  const text = JSON.stringify(out);
  // eslint-disable-next-line no-control-regex
  if (!/[^\x00-\x7f]/.test(text)) return { attributes: out, charset: UTF8 };
  const charset = answerCharset(request.characterSet, text);
  out[CHARSET] = { vr: 'CS', Value: [charset.term] };
  return { attributes: out, charset };
}

function answerCharset(asked: string | undefined, text: string): TextCharset {
  const encode = asked ? singleByteEncoder(asked) : undefined;
  if (!asked || !encode || !encode(text)) return UTF8;
  if (asked === LATIN1.term) return LATIN1;
  return {
    term: asked,
    encode: (t) => {
      const bytes = encode(t);
      if (!bytes) throw new Error(`"${t.slice(0, 40)}" is not in ${asked}, though the whole answer was`);
      return bytes;
    },
  };
}

export interface ParsedIdentifier {
  /** As the identifier names it (PATIENT, STUDY, SERIES, IMAGE). */
  levelName: string;
  level: QueryLevel | 'patient';
  /** The index level it is searched at: patients are found through their studies. */
  indexLevel: QueryLevel;
  filters: AttributeFilter[];
}

/** Query/Retrieve Level and the matching keys of a C-FIND, C-GET or C-MOVE identifier. */
export function parseIdentifier(identifier: DicomJson, model: QueryModel): ParsedIdentifier {
  const levelName = valueText(identifier[QUERY_RETRIEVE_LEVEL] ?? { vr: 'CS' }).trim().toUpperCase();
  const level = LEVELS[levelName];
  if (!level) throw new FindRefusal(DimseStatus.IdentifierDoesNotMatchSOPClass, `Query/Retrieve Level "${levelName}" is not PATIENT, STUDY, SERIES or IMAGE`);
  if (level === 'patient' && model !== 'patient') throw new FindRefusal(DimseStatus.IdentifierDoesNotMatchSOPClass, 'the PATIENT level belongs to the Patient Root model');
  const indexLevel: QueryLevel = level === 'patient' ? 'study' : level;
  return { levelName, level, indexLevel, filters: filtersOf(identifier, indexLevel) };
}

/**
 * The answers to a C-FIND identifier, in the index's order, read as they are sent. Past `maxQueryResults`
 * matches the search ends with Out of Resources (DIMSE has no paging; narrower keys find the rest).
 */
export async function* findAnswers(storage: ArchiveStorage, config: DicomWebConfig, request: FindRequest): AsyncGenerator<FindAnswer, void> {
  const { levelName, level, indexLevel, filters } = parseIdentifier(request.identifier, request.model);
  // Patients are gathered from all their studies (the bound is on patients); other levels stop one past the bound.
  const limit = level === 'patient' ? Number.MAX_SAFE_INTEGER : config.maxQueryResults + 1;
  const matches = storage.index.query({ level: indexLevel, filters, fuzzy: false, limit, offset: 0 });
  if (level === 'patient') {
    yield* patientAnswers(matches, request, config);
    return;
  }
  let count = 0;
  for await (const m of matches) {
    if (++count > config.maxQueryResults) throw tooMany(config);
    yield answerFor(request, m.attributes, levelName);
  }
}

function tooMany(config: DicomWebConfig): FindRefusal {
  return new FindRefusal(DimseStatus.OutOfResources, `more than ${config.maxQueryResults} matches (MAX_QUERY_RESULTS): give narrower keys`);
}

/** Patients are the studies' patients, one answer per Patient ID and issuer, with their study, series and instance counts. */
async function* patientAnswers(studies: AsyncIterable<QueryMatch>, request: FindRequest, config: DicomWebConfig): AsyncGenerator<FindAnswer, void> {
  const patients = new Map<string, { attributes: DicomJson; studies: number; series: number; instances: number }>();
  for await (const study of studies) {
    const key = JSON.stringify([study.attributes[PATIENT_ID]?.Value ?? [], study.attributes[ISSUER_OF_PATIENT_ID]?.Value ?? []]);
    let patient = patients.get(key);
    if (!patient) {
      if (patients.size >= config.maxQueryResults) throw tooMany(config);
      patient = { attributes: study.attributes, studies: 0, series: 0, instances: 0 };
      patients.set(key, patient);
    }
    patient.studies += 1;
    patient.series += Number(study.attributes[STUDY_COUNTS.series]?.Value?.[0] ?? 0);
    patient.instances += Number(study.attributes[STUDY_COUNTS.instances]?.Value?.[0] ?? 0);
  }
  for (const p of patients.values()) {
    const attributes: DicomJson = {
      ...p.attributes,
      [PATIENT_COUNTS.studies]: { vr: 'IS', Value: [p.studies] },
      [PATIENT_COUNTS.series]: { vr: 'IS', Value: [p.series] },
      [PATIENT_COUNTS.instances]: { vr: 'IS', Value: [p.instances] },
    };
    yield answerFor(request, attributes, 'PATIENT');
  }
}
