// The audit trail of DIMSE requests, as of HTTP ones (http-audit.ts): a C-STORE is recorded before it is
// answered; a C-FIND before its first match leaves; a C-GET or C-MOVE before its first sub-operation
// (Begin Transferring DICOM Instances) and again when it ends (DICOM Instances Transferred, with the
// counts). When a record cannot be written, the request is answered Out of Resources and nothing more
// is sent; an instance already stored stays stored (sent again, it is "identical" and recorded).
import { firstString, type DicomJson } from '../../dicom/json-model.js';
import { Tag } from '../../dicom/tags.js';
import type { StructuredLog } from '../../logging.js';
import type { AuditLog, AuditParticipant } from '../../storage/ports.js';
import { AuditEvent, AuditRole } from './audit-codes.js';
import type { AuditedAction } from './audited-action.js';
import { auditRecord, type AuditOutcome } from './http-audit.js';
import type { AuditedStudy, StudyPatients } from './study-patients.js';

export interface DimseAuditSetup {
  log: AuditLog;
  sourceID: string;
  patients: StudyPatients;
  errors: StructuredLog;
}

/** Who is on the other end of the association. */
export interface DimsePeer {
  aeTitle: string;
  address?: string;
}

/** PS3.7 Annex C: success; warnings and cancels are minor failures; refusals of a request a minor one; the archive's own failures serious. */
export function dimseOutcome(status: number, comment?: string): AuditOutcome {
  const hex = status.toString(16).toUpperCase().padStart(4, '0');
  const description = `DIMSE status ${hex}${comment ? `: ${comment}` : ''}`;
  if (status === 0) return { indicator: 0, description };
  const serious = status === 0x0110 || (status >= 0xa700 && status <= 0xa7ff) || (status >= 0xc000 && status <= 0xcfff);
  return { indicator: serious ? 8 : 4, description };
}

export class DimseAuditTrail {
  constructor(
    private readonly setup: DimseAuditSetup,
    private readonly peer: () => DimsePeer,
  ) {}

  /** A C-STORE's outcome, with the study it stored into (and its patient). */
  stored(outcome: AuditOutcome, study: AuditedStudy | undefined): Promise<boolean> {
    return this.write({ event: AuditEvent.InstancesTransferred, action: 'C', requesterRole: AuditRole.Source, studies: study ? [study.studyInstanceUID] : [] }, outcome, study ? [study] : []);
  }

  /** A C-FIND: its identifier as the query, the patient or study it names. */
  async searched(sopClassUID: string, identifier: DicomJson, outcome: AuditOutcome): Promise<boolean> {
    const studyUID = firstString(identifier, Tag.StudyInstanceUID);
    const studies = studyUID && !studyUID.includes('\\') ? [await this.setup.patients.lookup(studyUID)] : [];
    // A search by one Patient ID (not a wildcard) is an access to that patient's records.
    const patientID = firstString(identifier, Tag.PatientID);
    const patients = patientID && !/[*?\\]/.test(patientID) ? [{ patientID }] : [];
    const action: AuditedAction = { event: AuditEvent.Query, action: 'E', studies: studies.map((s) => s.studyInstanceUID), query: { text: JSON.stringify(identifier).slice(0, 4096), sopClassUID } };
    return this.write(action, outcome, studies, undefined, patients);
  }

  /** A C-GET or C-MOVE about to send the instances of these studies (to the requester, or to `destination`). */
  async transferBegins(service: 'C-GET' | 'C-MOVE', studyUIDs: string[], destination?: DimsePeer): Promise<boolean> {
    const studies = await Promise.all([...new Set(studyUIDs)].map((uid) => this.setup.patients.lookup(uid)));
    return this.write({ ...this.retrieveAction(service, studies), event: AuditEvent.BeginTransferring }, { indicator: 0, description: `${service} begins` }, studies, destination);
  }

  /** A C-GET or C-MOVE ended (or was refused): its final status, counts in words. */
  async transferred(service: 'C-GET' | 'C-MOVE', studyUIDs: string[], outcome: AuditOutcome, destination?: DimsePeer): Promise<boolean> {
    const studies = await Promise.all([...new Set(studyUIDs)].map((uid) => this.setup.patients.lookup(uid)));
    return this.write(this.retrieveAction(service, studies), outcome, studies, destination);
  }

  private retrieveAction(service: 'C-GET' | 'C-MOVE', studies: AuditedStudy[]): AuditedAction {
    // C-GET sends to the requester; C-MOVE to a destination the requester names.
    return { event: AuditEvent.InstancesTransferred, action: 'R', ...(service === 'C-GET' ? { requesterRole: AuditRole.Destination } : { archiveRole: AuditRole.Source }), studies: studies.map((s) => s.studyInstanceUID), description: service };
  }

  private async write(action: AuditedAction, outcome: AuditOutcome, studies: AuditedStudy[], destination?: DimsePeer, patients: Array<{ patientID: string }> = []): Promise<boolean> {
    const peer = this.peer();
    const participants: AuditParticipant[] = destination
      ? [{ UserID: destination.aeTitle, UserIsRequestor: false, RoleIDCode: AuditRole.Destination, ...(destination.address ? { NetworkAccessPointTypeCode: 2 as const, NetworkAccessPointID: destination.address } : {}) }]
      : [];
    const record = auditRecord({
      action,
      at: new Date(),
      outcome,
      requester: { userID: peer.aeTitle, userName: `AE ${peer.aeTitle}`, ...(peer.address ? { address: peer.address } : {}) },
      sourceID: this.setup.sourceID,
      studies,
      patients,
      participants,
    });
    try {
      await this.setup.log.append(record);
      return true;
    } catch (error) {
      this.setup.errors('error', 'the audit record of a DIMSE request could not be written; the request is refused', { auditRecord: record, error: String(error) });
      return false;
    }
  }
}
