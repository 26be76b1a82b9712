// C-STORE SCP (PS3.4 Annex B): an instance received over an association is stored through the same path
// as STOW-RS (storeInstance: validation, durability before the answer, duplicate policy, AI events), and
// its outcome becomes the C-STORE status (PS3.4 B.2.3, PS3.7 Annex C).
import { ByteSink, fileMeta, part10 } from '../dicom/reencode.js';
import type { DicomWebConfig } from '../dicomweb/config.js';
import { storeInstance } from '../dicomweb/store/store-instance.js';
import { auditedStudyOf, type AuditedStudy } from '../governance/audit/study-patients.js';
import type { ArchiveStorage } from '../storage/ports.js';
import { DimseStatus, type DimseOutcome } from './status.js';

export interface ReceivedInstance {
  /** From the C-STORE command. */
  sopClassUID: string;
  sopInstanceUID: string;
  /** The presentation context's accepted syntax: the data set's encoding. */
  transferSyntaxUID: string;
  parts: readonly Uint8Array[];
  /** Bytes received, also when more than were kept. */
  received: number;
  overflowed: boolean;
  callingAeTitle: string;
}

/** The received data set as the Part 10 file the archive keeps (its File Meta Information names the syntax it came in). */
function asPart10(instance: ReceivedInstance): Uint8Array {
  const body = new ByteSink();
  for (const part of instance.parts) body.push(part);
  return part10(fileMeta(instance.sopClassUID, instance.sopInstanceUID, instance.transferSyntaxUID), body);
}

/** The C-STORE status, and the study (with its patient) the instance is in once stored, for the audit trail. */
export async function storeReceived(storage: ArchiveStorage, config: DicomWebConfig, instance: ReceivedInstance): Promise<DimseOutcome & { study?: AuditedStudy }> {
  if (instance.overflowed) {
    return { status: DimseStatus.OutOfResources, comment: `instance of ${instance.received} bytes exceeds the ${config.maxInstanceBytes}-byte limit (MAX_INSTANCE_BYTES)` };
  }
  const outcome = await storeInstance(storage, asPart10(instance), {
    duplicatePolicy: config.duplicatePolicy,
    maxInflatedBytes: config.maxInflatedBytes,
    expectedSop: { sopClassUID: instance.sopClassUID, sopInstanceUID: instance.sopInstanceUID },
    receivedFrom: instance.callingAeTitle,
  });
  if (outcome.status === 'failed') return { status: outcome.failureReason, comment: outcome.message };
  const study = auditedStudyOf(outcome.instance.studyInstanceUID, outcome.instance.studyAttributes);
  // The STOW-RS Warning Reason is the C-STORE warning status (B000 coercion, B007 SOP Class mismatch).
  if (outcome.warnings.length) return { status: outcome.warningReason, comment: outcome.warnings.join('; '), study };
  return { status: DimseStatus.Success, study };
}
