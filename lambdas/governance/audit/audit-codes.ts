// The coded values of DICOM's audit messages the archive writes (PS3.15 A.5, codes from PS3.16's DCM
// scheme and RFC 3881), named once.
import type { AuditCode } from '../../storage/ports.js';

const dcm = (code: string, meaning: string): AuditCode => ({ code, codingScheme: 'DCM', meaning });

export const AuditEvent = {
  AuditLogUsed: dcm('110101', 'Audit Log Used'),
  BeginTransferring: dcm('110102', 'Begin Transferring DICOM Instances'),
  InstancesAccessed: dcm('110103', 'DICOM Instances Accessed'),
  InstancesTransferred: dcm('110104', 'DICOM Instances Transferred'),
  StudyDeleted: dcm('110105', 'DICOM Study Deleted'),
  Export: dcm('110106', 'Export'),
  ProcedureRecord: dcm('110111', 'Procedure Record'),
  Query: dcm('110112', 'Query'),
  SecurityAlert: dcm('110113', 'Security Alert'),
} as const;

export const AuditRole = {
  Application: dcm('110150', 'Application'),
  Destination: dcm('110152', 'Destination Role ID'),
  Source: dcm('110153', 'Source Role ID'),
} as const;

/** ParticipantObjectIDTypeCode values. */
export const AuditObjectType = {
  PatientNumber: { code: '2', codingScheme: 'RFC-3881', meaning: 'Patient Number' },
  StudyInstanceUID: dcm('110180', 'Study Instance UID'),
  SOPClassUID: dcm('110181', 'SOP Class UID'),
  NodeID: dcm('110182', 'Node ID'),
  /** What the web services name their resources by (the audit log, an AI result, a workitem). */
  URI: { code: '12', codingScheme: 'RFC-3881', meaning: 'URI' },
} as const;

/** Study Root Query/Retrieve Information Model – FIND: the SOP class a QIDO-RS search stands for. */
export const STUDY_ROOT_FIND = '1.2.840.10008.5.1.4.1.2.2.1';
/** Unified Procedure Step – Pull: the SOP class of UPS-RS. */
export const UPS_PULL = '1.2.840.10008.5.1.4.34.6.3';
