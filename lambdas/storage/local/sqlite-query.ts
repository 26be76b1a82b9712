// How a QIDO query becomes SQL over the local index (sqlite-index.ts): per level, the rows and columns to
// read and their order; conditions that narrow the rows (the matchers have the final word); and the
// attributes of a match assembled from its study, series and instance rows.
import type { DicomJson } from '../../dicom/json-model.js';
import { parseRange, type AttributeFilter } from '../../dicom/matching.js';
import { Tag, tagToHex } from '../../dicom/tags.js';
import type { QueryLevel } from '../ports.js';

export type Row = Record<string, unknown>;

export const QUERY_CHUNK_ROWS = 32;
/** Keys read at a time, in answer order, for levels ordered by one key (studies, series). */
export const QUERY_KEY_PAGE = 512;
const STUDY_COLUMNS = 'st.study_uid, st.attrs AS study_attrs, st.modalities, st.sop_classes, st.num_series, st.num_instances';
const SERIES_COLUMNS = `${STUDY_COLUMNS}, se.series_uid, se.attrs AS series_attrs, se.num_instances AS series_instances`;
/** Per level: the row key, the columns assemble() reads, the joins and the order of the answer. */
export const QUERY_SHAPES: Record<QueryLevel, { key: string; columns: string; from: string; order: string }> = {
  study: { key: 'st.rowid', columns: STUDY_COLUMNS, from: 'FROM studies st', order: 'st.rowid' },
  series: { key: 'se.rowid', columns: SERIES_COLUMNS, from: 'FROM series se JOIN studies st ON st.study_uid = se.study_uid', order: 'se.rowid' },
  instance: {
    key: 'i.rowid',
    columns: `${SERIES_COLUMNS}, i.sop_uid, i.attrs AS instance_attrs`,
    from: 'FROM instances i JOIN series se ON se.series_uid = i.series_uid JOIN studies st ON st.study_uid = i.study_uid',
    order: 'se.rowid, i.instance_number, i.rowid',
  },
};

const cs = (values: string): DicomJson[string] => (values ? { vr: 'CS', Value: values.split('\\') } : { vr: 'CS' });

export function assemble(row: Row): DicomJson {
  const attributes: DicomJson = {
    ...(JSON.parse(row.study_attrs as string) as DicomJson),
    [tagToHex(Tag.ModalitiesInStudy)]: cs(row.modalities as string),
    [tagToHex(Tag.SOPClassesInStudy)]: row.sop_classes ? { vr: 'UI', Value: (row.sop_classes as string).split('\\') } : { vr: 'UI' },
    [tagToHex(Tag.NumberOfStudyRelatedSeries)]: { vr: 'IS', Value: [row.num_series as number] },
    [tagToHex(Tag.NumberOfStudyRelatedInstances)]: { vr: 'IS', Value: [row.num_instances as number] },
  };
  if (row.series_attrs) {
    Object.assign(attributes, JSON.parse(row.series_attrs as string) as DicomJson);
    attributes[tagToHex(Tag.NumberOfSeriesRelatedInstances)] = { vr: 'IS', Value: [row.series_instances as number] };
  }
  if (row.instance_attrs) Object.assign(attributes, JSON.parse(row.instance_attrs as string) as DicomJson);
  return attributes;
}

/** Adds SQL conditions that only ever narrow (never wrongly exclude); the matcher has the final word. */
export function narrow(f: AttributeFilter, level: QueryLevel, fuzzy: boolean, conditions: string[], params: unknown[]): void {
  const v = f.value;
  if (v === '' || v === '*') return;
  const exact = !/[*?\\]/.test(v);
  const column: Record<number, string> = {
    [Tag.StudyInstanceUID]: 'st.study_uid',
    [Tag.PatientID]: 'st.patient_id',
    [Tag.AccessionNumber]: 'st.accession_number',
    [Tag.StudyID]: 'st.study_id',
    [Tag.SeriesInstanceUID]: 'se.series_uid',
    [Tag.Modality]: 'se.modality',
    [Tag.SOPInstanceUID]: 'i.sop_uid',
    [Tag.SOPClassUID]: 'i.sop_class_uid',
  };
  const available = column[f.tag]?.startsWith('st.') || (column[f.tag]?.startsWith('se.') && level !== 'study') || level === 'instance';
  if (column[f.tag] && !available) return;
  if (f.tag === Tag.StudyInstanceUID || f.tag === Tag.SeriesInstanceUID || f.tag === Tag.SOPInstanceUID || f.tag === Tag.SOPClassUID) {
    const list = v.split('\\');
    conditions.push(`${column[f.tag]} IN (${list.map(() => '?').join(',')})`);
    params.push(...list);
    return;
  }
  if (column[f.tag] && exact) {
    conditions.push(`${column[f.tag]} = ?`);
    params.push(v);
    return;
  }
  if (f.tag === Tag.ModalitiesInStudy && exact) {
    conditions.push('st.rowid IN (SELECT m.study_rowid FROM study_modalities m WHERE m.modality = ?)');
    params.push(v);
    return;
  }
  if (f.tag === Tag.PatientName && !fuzzy) {
    // Some group of some name must start with the literal prefix of the pattern (case-insensitive):
    // a range of the name index, which holds every group upper-cased.
    const prefix = /^[^*?]*/.exec(v)![0].toUpperCase();
    if (prefix) {
      conditions.push('st.rowid IN (SELECT n.study_rowid FROM study_names n WHERE n.name >= ? AND n.name < ?)');
      params.push(prefix, prefix + String.fromCodePoint(0x10ffff));
    }
    return;
  }
  if (f.tag === Tag.StudyDate) {
    try {
      const range = parseRange('DA', v, 'StudyDate');
      if (range.from) {
        conditions.push('st.study_date >= ?');
        params.push(range.from);
      }
      if (range.to) {
        conditions.push('st.study_date <= ?');
        params.push(range.to);
      }
    } catch {
      // invalid ranges were already refused when the query was parsed
    }
  }
}
