// One stored SOP instance as the archive sees it: identity, metadata (DICOM JSON), frame layout.
import { characterSet } from './charset.js';
import { lookupKeyword, tagToHex } from './dictionary.js';
import { FrameLayoutError, describePixels, locateFrames, type FrameLayout, type Peek } from './frames.js';
import { datasetToJson, firstString, type DicomJson } from './json-model.js';
import { DicomParseError, elementText, parseDicom, type DicomDataSet, type ParsedDicom } from './parser.js';
import { Tag } from './tags.js';
import { uidProblem } from './uid.js';

const tags = (...keywords: string[]): Set<number> =>
  new Set(
    keywords.map((k) => {
      const e = lookupKeyword(k);
      if (!e) throw new Error(`unknown keyword ${k}`);
      return e.tag;
    }),
  );

/** Patient and study modules (PS3.3 C.7.1.1, C.7.2.1, C.7.2.2): attributes QIDO returns at the study level. */
export const STUDY_LEVEL_TAGS = tags(
  'SpecificCharacterSet', 'TimezoneOffsetFromUTC', 'PatientName', 'PatientID', 'IssuerOfPatientID', 'IssuerOfPatientIDQualifiersSequence',
  'PatientBirthDate', 'PatientBirthTime', 'PatientSex', 'OtherPatientIDsSequence', 'PatientComments', 'PatientAge', 'PatientSize', 'PatientWeight',
  'EthnicGroup', 'StudyInstanceUID', 'StudyDate', 'StudyTime', 'ReferringPhysicianName', 'StudyID', 'AccessionNumber',
  'IssuerOfAccessionNumberSequence', 'StudyDescription', 'PhysiciansOfRecord', 'NameOfPhysiciansReadingStudy', 'ProcedureCodeSequence',
  'AdmittingDiagnosesDescription', 'ReasonForPerformedProcedureCodeSequence', 'RequestingPhysician', 'RequestedProcedureDescription',
);

/** General series and equipment modules (PS3.3 C.7.3.1, C.7.5.1). */
export const SERIES_LEVEL_TAGS = tags(
  'Modality', 'SeriesInstanceUID', 'SeriesNumber', 'SeriesDescription', 'SeriesDate', 'SeriesTime', 'Laterality', 'BodyPartExamined',
  'ProtocolName', 'OperatorsName', 'PerformingPhysicianName', 'PerformedProcedureStepStartDate', 'PerformedProcedureStepStartTime',
  'PerformedProcedureStepID', 'PerformedProcedureStepDescription', 'RequestAttributesSequence', 'Manufacturer', 'InstitutionName',
  'StationName', 'ManufacturerModelName', 'InstitutionalDepartmentName', 'DeviceSerialNumber', 'SoftwareVersions', 'FrameOfReferenceUID',
  'PatientPosition', 'SmallestPixelValueInSeries', 'LargestPixelValueInSeries',
);

/**
 * Instance attributes kept for QIDO-RS (includefield=all) are those whose DICOM JSON is at most 64 KiB:
 * larger values (RT contour data, big private blocks) would make every query answer megabytes per
 * instance; WADO-RS metadata returns them.
 */
export const MAX_QUERY_ATTRIBUTE_CHARS = 64 * 1024;

export interface InstanceIdentity {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  sopClassUID: string;
}

export interface ParsedInstance extends InstanceIdentity {
  transferSyntaxUID: string;
  size: number;
  /** Full metadata with BulkDataURI values relative to the instance ("bulkdata/..."). */
  metadata: DicomJson;
  studyAttributes: DicomJson;
  seriesAttributes: DicomJson;
  /** Attributes for instance-level QIDO: everything at the top level but bulk and study/series attributes. */
  instanceAttributes: DicomJson;
  frames?: FrameLayout;
  numberOfFrames?: number;
  /** Set when the whole file must be parsed to reach its values (deflated data sets). */
  needsFullParse: boolean;
  /** Problems that did not stop storage but limit what can be served. */
  warnings: string[];
  /** Where the data set was read otherwise than the file declares (it is stored as received). */
  coercions: string[];
}

export class InvalidInstanceError extends Error {
  constructor(
    message: string,
    readonly identity: Partial<InstanceIdentity> = {},
  ) {
    super(message);
    this.name = 'InvalidInstanceError';
  }
}

const pick = (json: DicomJson, keep: (tag: number) => boolean): DicomJson =>
  Object.fromEntries(Object.entries(json).filter(([hex]) => keep(parseInt(hex, 16))));

/**
 * The SOP Instance UID and SOP Class UID read from the start of a file only, for reporting on files
 * that cannot be read whole (a later element is broken). Undefined when even that fails.
 */
export function peekSopIdentity(bytes: Uint8Array, inflated?: Uint8Array): { sopInstanceUID?: string; sopClassUID?: string } {
  try {
    // A deflated data set not inflated yet is not inflated for this (it may be a zip bomb).
    const { dataset } = parseDicom(bytes, { untilTag: Tag.SOPInstanceUID + 1, inflated, maxInflatedBytes: 1 });
    return { sopInstanceUID: elementText(dataset, Tag.SOPInstanceUID) || undefined, sopClassUID: elementText(dataset, Tag.SOPClassUID) || undefined };
  } catch {
    return {};
  }
}

/** `inflated`: the data set of a deflated file, inflated beforehand within a limit (inflate.ts). */
export function readInstance(bytes: Uint8Array, options: { inflated?: Uint8Array } = {}): ParsedInstance {
  let parsed: ParsedDicom;
  try {
    parsed = parseDicom(bytes, options);
  } catch (e) {
    if (e instanceof DicomParseError) throw new InvalidInstanceError(e.message, peekSopIdentity(bytes, options.inflated));
    throw e;
  }
  return describeInstance(parsed, bytes.length);
}

/**
 * The instance a parsed file holds. For a file read in pieces (file-instance.ts): `trailing` holds the
 * elements after its Pixel Data, and `peek` the bytes frame location needs outside the parsed ones.
 */
export function describeInstance(parsed: ParsedDicom, size: number, piecewise: { trailing?: DicomDataSet; peek?: Peek } = {}): ParsedInstance {
  const bulkDataUri = (path: string[]) => `bulkdata/${path.join('/')}`;
  const metadata = datasetToJson(parsed.dataset, { bulkDataUri });
  if (piecewise.trailing) Object.assign(metadata, datasetToJson(piecewise.trailing, { bulkDataUri }));
  const identity: Partial<InstanceIdentity> = {
    studyInstanceUID: firstString(metadata, Tag.StudyInstanceUID),
    seriesInstanceUID: firstString(metadata, Tag.SeriesInstanceUID),
    sopInstanceUID: firstString(metadata, Tag.SOPInstanceUID),
    sopClassUID: firstString(metadata, Tag.SOPClassUID),
  };
  const problem =
    uidProblem(identity.sopInstanceUID, 'SOP Instance UID (0008,0018)') ??
    uidProblem(identity.sopClassUID, 'SOP Class UID (0008,0016)') ??
    uidProblem(identity.studyInstanceUID, 'Study Instance UID (0020,000D)') ??
    uidProblem(identity.seriesInstanceUID, 'Series Instance UID (0020,000E)') ??
    // Garbage where the transfer syntax belongs would reach the Content-Type of every retrieval.
    uidProblem(parsed.transferSyntaxUID, 'Transfer Syntax UID (0002,0010)');
  if (problem) throw new InvalidInstanceError(problem, identity);

  const warnings: string[] = [];
  if (parsed.transferSyntaxInferred) warnings.push(`no File Meta Information: transfer syntax inferred as ${parsed.transferSyntaxUID}`);
  const charsetTerms = metadata[tagToHex(Tag.SpecificCharacterSet)]?.Value?.join('\\');
  const unknownTerms = characterSet(charsetTerms).unknownTerms.filter((t) => t);
  if (unknownTerms.length) warnings.push(`unknown Specific Character Set term(s) ${unknownTerms.join(', ')}: text decoded as ASCII/Latin-1`);

  let frames: FrameLayout | undefined;
  try {
    frames = locateFrames(parsed, piecewise.peek);
  } catch (e) {
    if (!(e instanceof FrameLayoutError)) throw e;
    warnings.push(`frames cannot be served: ${e.message}`);
  }
  const studyAttributes = pick(metadata, (t) => STUDY_LEVEL_TAGS.has(t));
  const seriesAttributes = pick(metadata, (t) => SERIES_LEVEL_TAGS.has(t) || t === Tag.StudyInstanceUID);
  const instanceAttributes = pick(metadata, (t) => {
    if (STUDY_LEVEL_TAGS.has(t) || SERIES_LEVEL_TAGS.has(t)) return t === Tag.SpecificCharacterSet;
    const attr = metadata[tagToHex(t)];
    return !attr.BulkDataURI && !attr.InlineBinary && JSON.stringify(attr).length <= MAX_QUERY_ATTRIBUTE_CHARS;
  });
  return {
    ...(identity as InstanceIdentity),
    transferSyntaxUID: parsed.transferSyntaxUID,
    size,
    metadata,
    studyAttributes,
    seriesAttributes,
    instanceAttributes,
    frames,
    numberOfFrames: describePixels(parsed.dataset)?.numberOfFrames,
    needsFullParse: parsed.datasetOffset === undefined,
    warnings,
    coercions: parsed.encodingMismatch ? [parsed.encodingMismatch] : [],
  };
}
