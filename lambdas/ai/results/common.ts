// What every result object shares: the patient and study it belongs to, the series it opens,
// and the algorithm that made it (the "device" of the General Equipment and observer context).
import type { DicomJson } from '../../dicom/json-model.js';
import { uidProblem } from '../../dicom/uid.js';
import { DatasetBuilder, DatasetError } from '../../dicom/writer.js';
import type { SopReference } from './content-item.js';

export interface AlgorithmIdentity {
  name: string;
  version: string;
  vendor: string;
}

/** A source instance with the series it sits in (evidence and referenced series are grouped by series). */
export interface SourceInstance extends SopReference {
  seriesInstanceUID: string;
}

export interface ResultIdentity {
  /** Attributes of one source instance: the patient and study modules are copied from it. */
  study: DicomJson;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  seriesNumber: number;
  seriesDescription: string;
  contentDateTime: Date;
  algorithm: AlgorithmIdentity;
}

const PATIENT_TYPE2 = ['PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex'] as const;
const PATIENT_TYPE3 = ['IssuerOfPatientID', 'OtherPatientIDsSequence', 'PatientAge', 'PatientSize', 'PatientWeight'] as const;
const STUDY_TYPE2 = ['StudyDate', 'StudyTime', 'ReferringPhysicianName', 'StudyID', 'AccessionNumber'] as const;
const STUDY_TYPE3 = ['StudyDescription'] as const;

export function checkUid(value: string, name: string): void {
  const problem = uidProblem(value, name);
  if (problem) throw new DatasetError(problem);
}

export function dicomDate(d: Date): string {
  return d.toISOString().slice(0, 10).replaceAll('-', '');
}
export function dicomTime(d: Date): string {
  return d.toISOString().slice(11, 19).replaceAll(':', '');
}

/** Patient, General Study, Patient Study, the result's own series, General Equipment and SOP Common. */
export function resultBase(identity: ResultIdentity, sopClassUID: string, modality: string): DatasetBuilder {
  checkUid(identity.studyInstanceUID, 'Study Instance UID');
  checkUid(identity.seriesInstanceUID, 'Series Instance UID');
  checkUid(identity.sopInstanceUID, 'SOP Instance UID');
  if (!Number.isInteger(identity.seriesNumber) || identity.seriesNumber < 1) throw new DatasetError('Series Number must be a positive integer');
  const { algorithm, contentDateTime } = identity;
  if (!algorithm.name || !algorithm.version || !algorithm.vendor) throw new DatasetError('the algorithm needs a name, a version and a vendor');
  return new DatasetBuilder()
    .set('SOPClassUID', sopClassUID)
    .set('SOPInstanceUID', identity.sopInstanceUID)
    .set('InstanceCreationDate', dicomDate(contentDateTime))
    .set('InstanceCreationTime', dicomTime(contentDateTime))
    .set('TimezoneOffsetFromUTC', '+0000')
    .copyFrom(identity.study, PATIENT_TYPE2)
    .copyFrom(identity.study, PATIENT_TYPE3, false)
    .set('StudyInstanceUID', identity.studyInstanceUID)
    .copyFrom(identity.study, STUDY_TYPE2)
    .copyFrom(identity.study, STUDY_TYPE3, false)
    .set('Modality', modality)
    .set('SeriesInstanceUID', identity.seriesInstanceUID)
    .set('SeriesNumber', identity.seriesNumber)
    .set('SeriesDescription', identity.seriesDescription)
    .set('SeriesDate', dicomDate(contentDateTime))
    .set('SeriesTime', dicomTime(contentDateTime))
    .set('Manufacturer', algorithm.vendor)
    .set('ManufacturerModelName', algorithm.name)
    .set('SoftwareVersions', algorithm.version)
    .set('ContentDate', dicomDate(contentDateTime))
    .set('ContentTime', dicomTime(contentDateTime));
}

/** Instances grouped by series, as Referenced Series Sequence items. */
export function referencedSeries(instances: SourceInstance[], sopSequenceKeyword = 'ReferencedSOPSequence'): DatasetBuilder[] {
  const bySeries = new Map<string, SourceInstance[]>();
  for (const i of instances) {
    const list = bySeries.get(i.seriesInstanceUID) ?? [];
    if (!list.some((x) => x.sopInstanceUID === i.sopInstanceUID)) list.push(i);
    bySeries.set(i.seriesInstanceUID, list);
  }
  return [...bySeries].map(([series, list]) =>
    new DatasetBuilder().set('SeriesInstanceUID', series).sequence(
      sopSequenceKeyword,
      list.map((i) => new DatasetBuilder().set('ReferencedSOPClassUID', i.sopClassUID).set('ReferencedSOPInstanceUID', i.sopInstanceUID)),
    ),
  );
}
