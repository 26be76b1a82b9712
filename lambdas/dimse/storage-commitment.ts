// Storage Commitment Push Model (PS3.4 Annex J) as SCP: an N-ACTION names instances by SOP Class and
// Instance UID under a Transaction UID; the archive answers at once, then checks each against the index
// (an instance in the index is durable: the index entry is the commit point of every store) and reports
// with N-EVENT-REPORT which it holds and which it does not.
import { tagToHex } from '../dicom/dictionary.js';
import type { DicomJson } from '../dicom/json-model.js';
import { Tag } from '../dicom/tags.js';
import type { ArchiveStorage } from '../storage/ports.js';
import { DimseStatus } from './status.js';

export const STORAGE_COMMITMENT_INSTANCE = '1.2.840.10008.1.20.1.1';
/** Event Type ID 1: every instance committed; 2: some failed (PS3.4 J.3.3.1). */
export const CommitmentEvent = { AllCommitted: 1, SomeFailed: 2 } as const;

const TRANSACTION_UID = '00081195';
const REFERENCED_SOP_SEQUENCE = '00081199';
const FAILED_SOP_SEQUENCE = '00081198';
const REFERENCED_SOP_CLASS = '00081150';
const REFERENCED_SOP_INSTANCE = '00081155';
const FAILURE_REASON = '00081197';
const RETRIEVE_AE_TITLE = '00080054';
/** PS3.4 J.3.3.1.1 failure reasons. */
const NoSuchObjectInstance = 0x0112;
const ClassInstanceConflict = 0x0119;

export interface Reference {
  sopClassUID: string;
  sopInstanceUID: string;
}

export interface CommitmentRequest {
  transactionUID: string;
  references: Reference[];
}

export class CommitmentRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const text = (json: DicomJson, hex: string) => (json[hex]?.Value?.[0] as string | undefined)?.replace(/[\0 ]+$/, '');

/** The N-ACTION's data set (Action Type 1): a Transaction UID and the Referenced SOP Sequence. */
export function parseCommitmentRequest(json: DicomJson): CommitmentRequest {
  const transactionUID = text(json, TRANSACTION_UID);
  if (!transactionUID) throw new CommitmentRefusal(DimseStatus.MissingAttribute, 'Transaction UID (0008,1195) is missing');
  const items = (json[REFERENCED_SOP_SEQUENCE]?.Value ?? []) as DicomJson[];
  if (items.length === 0) throw new CommitmentRefusal(DimseStatus.MissingAttribute, 'Referenced SOP Sequence (0008,1199) names no instance');
  const references = items.map((item, i) => {
    const sopClassUID = text(item, REFERENCED_SOP_CLASS);
    const sopInstanceUID = text(item, REFERENCED_SOP_INSTANCE);
    if (!sopClassUID || !sopInstanceUID) throw new CommitmentRefusal(DimseStatus.MissingAttribute, `item ${i + 1} of the Referenced SOP Sequence lacks its SOP Class or Instance UID`);
    return { sopClassUID, sopInstanceUID };
  });
  return { transactionUID, references };
}

/** How many SOP Instance UIDs are looked up in one query. */
const LOOKUP_BATCH = 200;

/** The N-EVENT-REPORT's event type and data set: committed references, and failed ones with their reason. */
export async function commitmentResult(storage: ArchiveStorage, request: CommitmentRequest, aeTitle: string): Promise<{ eventTypeId: number; dataset: DicomJson }> {
  const stored = new Map<string, string>();
  for (let i = 0; i < request.references.length; i += LOOKUP_BATCH) {
    const uids = request.references.slice(i, i + LOOKUP_BATCH).map((r) => r.sopInstanceUID);
    const filters = [{ tag: Tag.SOPInstanceUID, vr: 'UI', value: uids.join('\\') }];
    for await (const m of storage.index.query({ level: 'instance', filters, fuzzy: false, limit: uids.length, offset: 0 })) {
      stored.set(m.sopInstanceUID!, text(m.attributes, tagToHex(Tag.SOPClassUID)) ?? '');
    }
  }
  const committed: DicomJson[] = [];
  const failed: DicomJson[] = [];
  for (const r of request.references) {
    const item: DicomJson = { [REFERENCED_SOP_CLASS]: { vr: 'UI', Value: [r.sopClassUID] }, [REFERENCED_SOP_INSTANCE]: { vr: 'UI', Value: [r.sopInstanceUID] } };
    const storedClass = stored.get(r.sopInstanceUID);
    if (storedClass === r.sopClassUID) committed.push({ ...item, [RETRIEVE_AE_TITLE]: { vr: 'AE', Value: [aeTitle] } });
    else failed.push({ ...item, [FAILURE_REASON]: { vr: 'US', Value: [storedClass === undefined ? NoSuchObjectInstance : ClassInstanceConflict] } });
  }
  const dataset: DicomJson = { [TRANSACTION_UID]: { vr: 'UI', Value: [request.transactionUID] }, [RETRIEVE_AE_TITLE]: { vr: 'AE', Value: [aeTitle] } };
  if (committed.length) dataset[REFERENCED_SOP_SEQUENCE] = { vr: 'SQ', Value: committed };
  if (failed.length) dataset[FAILED_SOP_SEQUENCE] = { vr: 'SQ', Value: failed };
  return { eventTypeId: failed.length ? CommitmentEvent.SomeFailed : CommitmentEvent.AllCommitted, dataset };
}
