// Index records for scale tests and the scale benchmark: studies that look like a hospital's (names, IDs, accession
// numbers, dates over ten years, several modalities), made without DICOM files so that a million
// instances go into the index in minutes, through the index port as a store would put them.
import type { DicomJson, DicomJsonValue } from '../../lambdas/dicom/json-model.js';
import type { InstanceRecord } from '../../lambdas/storage/ports.js';

export const SURNAMES = ['SMITH', 'JONES', 'BROWN', 'GARCIA', 'MILLER', 'DAVIS', 'WILSON', 'MOORE', 'TAYLOR', 'ANDERSON', 'THOMAS', 'JACKSON', 'WHITE', 'HARRIS', 'MARTIN', 'THOMPSON', 'MARTINEZ', 'ROBINSON', 'CLARK', 'LEWIS'];
const GIVEN = ['JOHN', 'MARY', 'ANNA', 'PETER', 'LINDA', 'JAMES', 'SARA', 'PAUL', 'EMMA', 'MARK'];
export const MODALITIES = ['CT', 'MR', 'CR', 'US', 'MG', 'PT', 'DX', 'NM'];
const CT_IMAGE = '1.2.840.10008.5.1.4.1.1.2';

const text = (vr: string, ...values: DicomJsonValue[]) => ({ vr, Value: values });

export const studyUidOf = (s: number) => `2.25.9${String(s).padStart(9, '0')}`;
export const seriesUidOf = (s: number, k: number) => `2.25.8${String(s).padStart(9, '0')}${k}`;
export const patientIdOf = (s: number) => `P${String(Math.floor(s / 3)).padStart(7, '0')}`; // three studies a patient
export const accessionOf = (s: number) => `A${String(s).padStart(8, '0')}`;
export const patientNameOf = (s: number) => {
  const patient = Math.floor(s / 3);
  return `${SURNAMES[patient % SURNAMES.length]}${patient % 97}^${GIVEN[Math.floor(patient / 20) % GIVEN.length]}`;
};
/** One study every 26 minutes over ten years from 2016. */
export const studyDateOf = (s: number) => {
  const d = new Date(Date.UTC(2016, 0, 1) + s * 26 * 60_000);
  return d.toISOString().slice(0, 10).replace(/-/g, '');
};
export const modalityOf = (s: number, k: number) => MODALITIES[(s + k * 3) % MODALITIES.length];

/** Instance `i` of series `k` of study `s`, as storeInstance would record it (its metadata about 2 KB). */
export function instanceRecord(s: number, k: number, i: number, sop: string): InstanceRecord {
  const studyAttributes: DicomJson = {
    '00080005': text('CS', 'ISO_IR 100'),
    '00080020': text('DA', studyDateOf(s)),
    '00080030': text('TM', '101500'),
    '00080050': text('SH', accessionOf(s)),
    '00080090': text('PN', { Alphabetic: 'REFERRER^DR' }),
    '00081030': text('LO', `STUDY ${modalityOf(s, 0)} ${s % 50}`),
    '00100010': text('PN', { Alphabetic: patientNameOf(s) }),
    '00100020': text('LO', patientIdOf(s)),
    '00100030': text('DA', '19600101'),
    '00100040': text('CS', s % 2 ? 'F' : 'M'),
    '0020000D': text('UI', studyUidOf(s)),
    '00200010': text('SH', String(s % 10000)),
  };
  const seriesAttributes: DicomJson = {
    '00080060': text('CS', modalityOf(s, k)),
    '0008103E': text('LO', `SERIES ${k + 1}`),
    '0020000D': text('UI', studyUidOf(s)),
    '0020000E': text('UI', seriesUidOf(s, k)),
    '00200011': text('IS', k + 1),
  };
  const instanceAttributes: DicomJson = {
    '00080016': text('UI', CT_IMAGE),
    '00080018': text('UI', sop),
    '00200013': text('IS', i + 1),
    '00200032': text('DS', -125, -125, i * 1.25),
    '00200037': text('DS', 1, 0, 0, 0, 1, 0),
    '00280010': text('US', 512),
    '00280011': text('US', 512),
    '00280100': text('US', 16),
    '00280030': text('DS', 0.488, 0.488),
  };
  const metadata: DicomJson = {
    ...studyAttributes,
    ...seriesAttributes,
    ...instanceAttributes,
    '00180050': text('DS', 1.25),
    '00181030': text('LO', 'ROUTINE PROTOCOL'),
    '00280002': text('US', 1),
    '00280004': text('CS', 'MONOCHROME2'),
    '00280101': text('US', 12),
    '00280102': text('US', 11),
    '00280103': text('US', 0),
    '00281050': text('DS', 40),
    '00281051': text('DS', 400),
    '00281052': text('DS', -1024),
    '00281053': text('DS', 1),
    '7FE00010': { vr: 'OW', BulkDataURI: 'bulkdata/7FE00010' },
  };
  return {
    studyInstanceUID: studyUidOf(s),
    seriesInstanceUID: seriesUidOf(s, k),
    sopInstanceUID: sop,
    sopClassUID: CT_IMAGE,
    transferSyntaxUID: '1.2.840.10008.1.2.1',
    blobKey: `bench/${sop}`,
    size: 525_000,
    sha256: sop.padEnd(64, '0').slice(0, 64),
    numberOfFrames: 1,
    needsFullParse: false,
    studyAttributes,
    seriesAttributes,
    instanceAttributes,
    metadata,
    storedAt: new Date(0).toISOString(),
  };
}
