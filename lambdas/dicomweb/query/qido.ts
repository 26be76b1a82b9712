// QIDO-RS (PS3.18 Section 10.6): search for studies, series and instances.
import type { Context } from 'hono';
import { lookupKeyword, lookupTag, parseAttributeName, resolveAmbiguousVr, tagToHex } from '../../dicom/dictionary.js';
import { STUDY_LEVEL_TAGS, SERIES_LEVEL_TAGS } from '../../dicom/instance.js';
import type { DicomJson } from '../../dicom/json-model.js';
import { InvalidFilterError, compileFilter, type AttributeFilter } from '../../dicom/matching.js';
import { Tag } from '../../dicom/tags.js';
import type { ArchiveStorage, QueryLevel } from '../../storage/ports.js';
import type { DicomWebConfig } from '../config.js';
import { HttpProblem } from '../http/problem.js';
import { warningHeader } from '../http/warning.js';
import { dicomWebRoot, instanceUrl, seriesUrl, studyUrl } from '../http/urls.js';

const kw = (...names: string[]) => names.map((n) => lookupKeyword(n)!.tag);

// PS3.18 Table 10.6.3-3 (studies), -4 (series), -5 (instances): attributes every match returns.
const DEFAULTS: Record<QueryLevel, number[]> = {
  study: kw(
    'StudyDate', 'StudyTime', 'AccessionNumber', 'InstanceAvailability', 'ModalitiesInStudy', 'ReferringPhysicianName',
    'TimezoneOffsetFromUTC', 'RetrieveURL', 'PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex', 'StudyInstanceUID',
    'StudyID', 'NumberOfStudyRelatedSeries', 'NumberOfStudyRelatedInstances', 'StudyDescription',
  ),
  series: kw(
    'Modality', 'TimezoneOffsetFromUTC', 'SeriesDescription', 'RetrieveURL', 'SeriesInstanceUID', 'SeriesNumber',
    'NumberOfSeriesRelatedInstances', 'PerformedProcedureStepStartDate', 'PerformedProcedureStepStartTime', 'RequestAttributesSequence',
    'StudyInstanceUID',
  ),
  instance: kw(
    'SOPClassUID', 'SOPInstanceUID', 'InstanceAvailability', 'TimezoneOffsetFromUTC', 'RetrieveURL', 'InstanceNumber', 'Rows',
    'Columns', 'BitsAllocated', 'NumberOfFrames', 'StudyInstanceUID', 'SeriesInstanceUID',
  ),
};

const COMPUTED_VR: Record<number, string> = {
  [Tag.ModalitiesInStudy]: 'CS',
  [Tag.SOPClassesInStudy]: 'UI',
  [Tag.NumberOfStudyRelatedSeries]: 'IS',
  [Tag.NumberOfStudyRelatedInstances]: 'IS',
  [Tag.NumberOfSeriesRelatedInstances]: 'IS',
};

const STUDY_COMPUTED = new Set<number>([Tag.ModalitiesInStudy, Tag.SOPClassesInStudy, Tag.NumberOfStudyRelatedSeries, Tag.NumberOfStudyRelatedInstances]);

/** Whether an attribute belongs to a level or one above it (what a query at that level can match on). */
export function matchableAt(level: QueryLevel, tag: number): boolean {
  const study = STUDY_LEVEL_TAGS.has(tag) || STUDY_COMPUTED.has(tag);
  if (level === 'study') return study;
  const series = SERIES_LEVEL_TAGS.has(tag) || tag === Tag.NumberOfSeriesRelatedInstances;
  if (level === 'series') return study || series;
  return true;
}

export interface ParsedQuery {
  filters: AttributeFilter[];
  includeAll: boolean;
  includeTags: number[];
  limit: number;
  offset: number;
  fuzzy: boolean;
  warnings: string[];
}

const IGNORED_PARAMETERS = new Set(['emptyvaluematching', 'multiplevaluematching', 'charset', '_']);

export function parseQuery(params: Record<string, string[]>, level: QueryLevel, config: DicomWebConfig): ParsedQuery {
  const q: ParsedQuery = { filters: [], includeAll: false, includeTags: [], limit: config.maxQueryResults, offset: 0, fuzzy: false, warnings: [] };
  const integer = (name: string, value: string): number => {
    if (!/^\d+$/.test(value.trim())) throw new HttpProblem(400, `${name} must be a non-negative integer, got "${value}"`);
    return Number(value);
  };
  for (const [name, values] of Object.entries(params)) {
    const last = values[values.length - 1] ?? '';
    switch (name.toLowerCase()) {
      case 'limit': {
        const limit = integer('limit', last);
        if (limit > config.maxQueryResults) q.warnings.push(`limit ${limit} reduced to the maximum of ${config.maxQueryResults}`);
        else if (limit > 0) q.limit = limit;
        continue;
      }
      case 'offset':
        q.offset = integer('offset', last);
        continue;
      case 'fuzzymatching':
        if (!['true', 'false'].includes(last.toLowerCase())) throw new HttpProblem(400, `fuzzymatching must be true or false, got "${last}"`);
        q.fuzzy = last.toLowerCase() === 'true';
        continue;
      case 'includefield':
        for (const field of values.flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean)) {
          if (field === 'all') {
            q.includeAll = true;
            continue;
          }
          // An attribute inside a sequence ("RequestAttributesSequence.AccessionNumber") brings its whole sequence.
          const tags = field.split('.').map(parseAttributeName);
          if (tags.some((t) => t === undefined)) throw new HttpProblem(400, `includefield "${field}" is not a DICOM keyword or tag`);
          q.includeTags.push(tags[0]!);
        }
        continue;
    }
    if (IGNORED_PARAMETERS.has(name.toLowerCase())) {
      q.warnings.push(`parameter ${name} is not supported and was ignored`);
      continue;
    }
    if (values.length > 1) throw new HttpProblem(400, `${name} is given ${values.length} times; give it once (use a backslash-separated list for several UIDs)`);
    // An attribute, or a path through sequences to one (PS3.18 8.3.4.1: "RequestAttributesSequence.AccessionNumber").
    const path = name.split('.').map((segment) => {
      const tag = parseAttributeName(segment);
      if (tag === undefined) throw new HttpProblem(400, `"${name}" is not a DICOM keyword, tag or QIDO-RS parameter${name.includes('.') ? ` ("${segment}" is not a keyword or tag)` : ''}`);
      return { segment, tag, vr: COMPUTED_VR[tag] ?? resolveAmbiguousVr(lookupTag(tag)?.vr ?? 'UN') };
    });
    const outer = path.slice(0, -1).find((p) => p.vr !== 'SQ');
    if (outer) throw new HttpProblem(400, `${name}: ${outer.segment} is not a sequence, so it has no attributes of its own to match`);
    if (!matchableAt(level, path[0].tag)) {
      q.warnings.push(`${path[0].segment} is not an attribute of the ${level} level and was not used for matching`);
      continue;
    }
    const leaf = path[path.length - 1];
    const filter: AttributeFilter = leaf.vr === 'SQ' ? { tag: leaf.tag, vr: 'SQ', value: last, items: [] } : { tag: leaf.tag, vr: leaf.vr, value: last };
    try {
      compileFilter(filter, name, q.fuzzy);
    } catch (e) {
      if (e instanceof InvalidFilterError) throw new HttpProblem(400, e.message);
      throw e;
    }
    // Keys under the same sequence share one filter, so that they must match within the same item.
    let siblings = q.filters;
    for (const step of path.slice(0, -1)) {
      let sequence = siblings.find((f) => f.tag === step.tag);
      if (!sequence) {
        sequence = { tag: step.tag, vr: 'SQ', value: '', items: [] };
        siblings.push(sequence);
      }
      siblings = sequence.items!;
    }
    const existing = siblings.find((f) => f.tag === leaf.tag);
    if (existing && (existing.vr !== 'SQ' || filter.value !== '')) throw new HttpProblem(400, `${name} is given twice`);
    if (!existing) siblings.push(filter);
  }
  return q;
}

export interface QueryScope {
  studyInstanceUID?: string;
  seriesInstanceUID?: string;
}

export async function handleQido(c: Context, storage: ArchiveStorage, config: DicomWebConfig, level: QueryLevel, scope: QueryScope): Promise<Response> {
  const query = parseQuery(c.req.queries(), level, config);
  const matches = storage.index.query({ level, ...scope, filters: query.filters, fuzzy: query.fuzzy, limit: query.limit, offset: query.offset });
  const root = dicomWebRoot(c, config);
  const wanted = new Set<number>(DEFAULTS[level]);
  if (level !== 'study' && !scope.studyInstanceUID) DEFAULTS.study.forEach((t) => wanted.add(t));
  if (level === 'instance' && !scope.seriesInstanceUID) DEFAULTS.series.forEach((t) => wanted.add(t));
  query.includeTags.forEach((t) => wanted.add(t));
  query.filters.forEach((f) => wanted.add(f.tag));
  // Each match becomes its JSON text as it is read, so the answer is held once, as text, and never past
  // the byte budget (an instance can carry megabytes of attributes: RT contours, private blocks).
  const rows: string[] = [];
  let bytes = 2;
  for await (const m of matches) {
    const out: DicomJson = {};
    const source = m.attributes;
    const keys = query.includeAll ? new Set([...Object.keys(source).map((h) => parseInt(h, 16)), ...wanted]) : wanted;
    for (const tag of [...keys].sort((a, b) => a - b)) {
      const hex = tagToHex(tag);
      if (source[hex]) out[hex] = source[hex];
    }
    out[tagToHex(Tag.InstanceAvailability)] = { vr: 'CS', Value: ['ONLINE'] };
    const url =
      level === 'study'
        ? studyUrl(root, m.studyInstanceUID)
        : level === 'series'
          ? seriesUrl(root, m.studyInstanceUID, m.seriesInstanceUID!)
          : instanceUrl(root, m.studyInstanceUID, m.seriesInstanceUID!, m.sopInstanceUID!);
    out[tagToHex(Tag.RetrieveURL)] = { vr: 'UR', Value: [url] };
    const row = JSON.stringify(Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1))));
    const rowBytes = Buffer.byteLength(row);
    if (rows.length > 0 && bytes + rowBytes + 1 > config.maxQueryResponseBytes) {
      // PS3.18 8.3.4.4: fewer results than matched, said in a Warning; the client continues with offset.
      query.warnings.push(
        `The number of results exceeded the maximum supported by the server. Additional results can be requested: these ${rows.length} fill the ${config.maxQueryResponseBytes}-byte answer limit (MAX_QUERY_RESPONSE_BYTES); continue with offset=${query.offset + rows.length}`,
      );
      break;
    }
    rows.push(row);
    bytes += rowBytes + 1;
  }
  const headers: Record<string, string> = { 'Content-Type': 'application/dicom+json' };
  if (query.warnings.length) headers['Warning'] = warningHeader(query.warnings);
  return new Response(jsonArrayStream(rows), { status: 200, headers });
}

/** The rows as one JSON array, encoded as the client reads it; each row's text is let go once sent. */
function jsonArrayStream(rows: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let next = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (next === rows.length) {
        controller.enqueue(encoder.encode(next === 0 ? '[]' : ']'));
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode((next === 0 ? '[' : ',') + rows[next]));
      rows[next++] = '';
    },
  });
}
