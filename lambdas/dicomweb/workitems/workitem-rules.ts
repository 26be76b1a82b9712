// The Unified Procedure Step rules (PS3.4 Annex CC) that UPS-RS (PS3.18 Section 11) applies: what a new
// workitem must hold, what an update may change, and the state machine with its Transaction UID lock
// (SCHEDULED → IN PROGRESS → COMPLETED or CANCELED). Pure functions over stored records; refusals are
// HttpProblems whose messages name the PS3.4 status (C301, C310…) a DIMSE peer would have received.
import type { DicomJson, DicomJsonAttribute } from '../../dicom/json-model.js';
import { uidProblem } from '../../dicom/uid.js';
import type { ProcedureStepState, WorkitemRecord } from '../../storage/ports.js';
import { HttpProblem } from '../http/problem.js';

export const UPS_PUSH_SOP_CLASS = '1.2.840.10008.5.1.4.34.6.1';

export const UpsTag = {
  SOPClassUID: '00080016',
  SOPInstanceUID: '00080018',
  TransactionUID: '00081195',
  ScheduledProcedureStepStartDateTime: '00404005',
  ScheduledProcedureStepModificationDateTime: '00404010',
  InputReadinessState: '00404041',
  PerformedProcedureStepStartDateTime: '00404050',
  PerformedProcedureStepEndDateTime: '00404051',
  ProcedureStepCancellationDateTime: '00404052',
  ProcedureStepState: '00741000',
  ProcedureStepProgressInformationSequence: '00741002',
  ScheduledProcedureStepPriority: '00741200',
  WorklistLabel: '00741202',
  ProcedureStepLabel: '00741204',
  ReasonForCancellation: '00741238',
  UnifiedProcedureStepPerformedProcedureSequence: '00741216',
} as const;

const PRIORITY_RANK: Record<string, number> = { HIGH: 0, MEDIUM: 1, LOW: 2 };
const STATES: readonly ProcedureStepState[] = ['SCHEDULED', 'IN PROGRESS', 'CANCELED', 'COMPLETED'];
const DATETIME = /^\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)?)?)?([+-]\d{4})?$/;
export const DEFAULT_WORKLIST_LABEL = 'Reading worklist';

const TAG_KEY = /^[0-9A-Fa-f]{8}$/;
const ATTRIBUTE_FIELDS = new Set(['vr', 'Value', 'InlineBinary']);

/** Why one attribute of a payload is not DICOM JSON (PS3.18 F.2), or undefined when it is. */
function attributeProblem(a: unknown): string | undefined {
  if (!a || typeof a !== 'object' || Array.isArray(a)) return 'an attribute is an object with "vr" and "Value"';
  const fields = a as Record<string, unknown>;
  if ('BulkDataURI' in fields) return 'BulkDataURI has no place in a workitem; send the value inline';
  const unknown = Object.keys(fields).find((k) => !ATTRIBUTE_FIELDS.has(k));
  if (unknown) return `"${unknown}" is not a field of a DICOM JSON attribute`;
  if (typeof fields.vr !== 'string' || !/^[A-Z]{2}$/.test(fields.vr)) return '"vr" is two capital letters';
  if (fields.Value !== undefined && !Array.isArray(fields.Value)) return '"Value" is an array';
  return undefined;
}

/** A request payload: one DICOM JSON data set, alone or as the only element of an array. */
export function parseWorkitemPayload(json: unknown): DicomJson {
  const one = Array.isArray(json) ? (json.length === 1 ? json[0] : undefined) : json;
  if (!one || typeof one !== 'object' || Array.isArray(one)) throw new HttpProblem(400, 'the payload must be one DICOM JSON data set (an object, or an array holding exactly one)');
  const out: DicomJson = {};
  for (const [tag, a] of Object.entries(one as Record<string, unknown>)) {
    if (!TAG_KEY.test(tag)) throw new HttpProblem(400, `the DICOM JSON data set is malformed at ${tag}: attribute keys are 8 hexadecimal digits (a tag)`);
    const problem = attributeProblem(a);
    if (problem) throw new HttpProblem(400, `the DICOM JSON data set is malformed at ${tag}: ${problem}`);
    out[tag.toUpperCase()] = a as DicomJsonAttribute;
  }
  return out;
}

const text = (ds: DicomJson, tag: string): string | undefined => {
  const v = ds[tag]?.Value?.[0];
  return typeof v === 'string' ? v.trim() : undefined;
};
const value = (vr: string, v: string): DicomJsonAttribute => ({ vr, Value: [v] });

/** DICOM DT for now, to the second, in UTC. */
export function dicomNow(now: Date): string {
  return `${now.toISOString().replace(/[-:T]/g, '').slice(0, 14)}+0000`;
}

function orderOf(ds: DicomJson): Pick<WorkitemRecord, 'priorityRank' | 'scheduledAt'> {
  return { priorityRank: PRIORITY_RANK[text(ds, UpsTag.ScheduledProcedureStepPriority) ?? 'MEDIUM'] ?? 1, scheduledAt: text(ds, UpsTag.ScheduledProcedureStepStartDateTime) ?? '' };
}

/** Values an attribute given by a client must have, where PS3.4 Table CC.2.5-3 restricts them. */
function checkValues(ds: DicomJson): void {
  const priority = text(ds, UpsTag.ScheduledProcedureStepPriority);
  if (ds[UpsTag.ScheduledProcedureStepPriority] && !(priority && priority in PRIORITY_RANK)) {
    throw new HttpProblem(400, `Scheduled Procedure Step Priority (0074,1200) is HIGH, MEDIUM or LOW, got "${priority ?? ''}"`);
  }
  const readiness = text(ds, UpsTag.InputReadinessState);
  if (ds[UpsTag.InputReadinessState] && !['READY', 'UNAVAILABLE', 'INCOMPLETE'].includes(readiness ?? '')) {
    throw new HttpProblem(400, `Input Readiness State (0040,4041) is READY, UNAVAILABLE or INCOMPLETE, got "${readiness ?? ''}"`);
  }
  const start = text(ds, UpsTag.ScheduledProcedureStepStartDateTime);
  if (ds[UpsTag.ScheduledProcedureStepStartDateTime] && !(start && DATETIME.test(start))) {
    throw new HttpProblem(400, `Scheduled Procedure Step Start DateTime (0040,4005) is a DICOM DT (YYYYMMDDHHMMSS…), got "${start ?? ''}"`);
  }
}

/**
 * A new workitem (Create, PS3.18 11.4; N-CREATE rules of PS3.4 CC.2.5): SCHEDULED, without a Transaction
 * UID, with the attributes PS3.4 makes Type 1 for creation; the SOP Instance UID comes from the URL or
 * the data set (or is made), the SOP Class is UPS Push, an empty Worklist Label gets this archive's.
 */
export function newWorkitem(ds: DicomJson, uidInUrl: string | undefined, makeUid: () => string): WorkitemRecord {
  const inData = text(ds, UpsTag.SOPInstanceUID);
  if (uidInUrl && inData && uidInUrl !== inData) throw new HttpProblem(400, `the workitem UID in the URL (${uidInUrl}) differs from SOP Instance UID (0008,0018) in the data set (${inData})`);
  const uid = uidInUrl ?? inData ?? makeUid();
  const problem = uidProblem(uid, 'the workitem UID');
  if (problem) throw new HttpProblem(400, problem);
  if (ds[UpsTag.TransactionUID]) throw new HttpProblem(400, 'a new workitem has no Transaction UID (0008,1195): it is set by the performer that claims it (Change Workitem State to IN PROGRESS)');
  const state = text(ds, UpsTag.ProcedureStepState);
  if (state !== 'SCHEDULED') throw new HttpProblem(400, `a new workitem's Procedure Step State (0074,1000) is SCHEDULED, got "${state ?? ''}"`);
  const missing = [
    [UpsTag.ScheduledProcedureStepPriority, 'Scheduled Procedure Step Priority (0074,1200)'],
    [UpsTag.ProcedureStepLabel, 'Procedure Step Label (0074,1204)'],
    [UpsTag.ScheduledProcedureStepStartDateTime, 'Scheduled Procedure Step Start DateTime (0040,4005)'],
    [UpsTag.InputReadinessState, 'Input Readiness State (0040,4041)'],
  ].filter(([tag]) => !text(ds, tag));
  if (missing.length) throw new HttpProblem(400, `a new workitem needs ${missing.map(([, name]) => name).join(', ')} (PS3.4 Table CC.2.5-3)`);
  checkValues(ds);
  const dataset: DicomJson = { ...ds, [UpsTag.SOPClassUID]: value('UI', UPS_PUSH_SOP_CLASS), [UpsTag.SOPInstanceUID]: value('UI', uid) };
  if (!text(ds, UpsTag.WorklistLabel)) dataset[UpsTag.WorklistLabel] = value('LO', DEFAULT_WORKLIST_LABEL);
  return { sopInstanceUID: uid, state: 'SCHEDULED', dataset, ...orderOf(dataset), version: 1 };
}

/** Attributes an update may not set: identity, state and lock are changed by their own transactions. */
const NOT_UPDATABLE: Record<string, string> = {
  [UpsTag.SOPClassUID]: 'SOP Class UID (0008,0016)',
  [UpsTag.SOPInstanceUID]: 'SOP Instance UID (0008,0018)',
  [UpsTag.ProcedureStepState]: 'Procedure Step State (0074,1000) (use Change Workitem State)',
  [UpsTag.TransactionUID]: 'Transaction UID (0008,1195) (give it as the transaction query parameter)',
};

/** The workitem after an Update (PS3.18 11.6; N-SET): top-level attributes replaced, sequences whole. */
export function updatedWorkitem(record: WorkitemRecord, changes: DicomJson, transaction: string | undefined, now: Date): WorkitemRecord {
  if (record.state === 'COMPLETED' || record.state === 'CANCELED') throw new HttpProblem(400, `workitem ${record.sopInstanceUID} is ${record.state} and may no longer be updated (C300)`);
  if (record.state === 'IN PROGRESS') {
    if (!transaction) throw new HttpProblem(400, `workitem ${record.sopInstanceUID} is IN PROGRESS: an update gives its Transaction UID as the "transaction" query parameter (C301)`);
    if (transaction !== record.transactionUID) throw new HttpProblem(400, `the Transaction UID given is not the one workitem ${record.sopInstanceUID} was claimed with (C301)`);
  } else if (transaction) {
    throw new HttpProblem(400, `workitem ${record.sopInstanceUID} is SCHEDULED: nobody has claimed it, so an update gives no Transaction UID`);
  }
  const refused = Object.keys(changes).filter((tag) => tag in NOT_UPDATABLE);
  if (refused.length) throw new HttpProblem(400, `an update may not set ${refused.map((t) => NOT_UPDATABLE[t]).join(', ')}`);
  checkValues(changes);
  const dataset: DicomJson = { ...record.dataset, ...changes, [UpsTag.ScheduledProcedureStepModificationDateTime]: value('DT', dicomNow(now)) };
  return { ...record, dataset, ...orderOf(dataset), version: record.version + 1 };
}

/** What PS3.4 CC.2.5-3 requires before a workitem may be COMPLETED (its Final State column, in part). */
function completionGaps(ds: DicomJson): string[] {
  const performed = ds[UpsTag.UnifiedProcedureStepPerformedProcedureSequence]?.Value?.[0] as DicomJson | undefined;
  if (!performed) return ['Unified Procedure Step Performed Procedure Sequence (0074,1216)'];
  return [
    [UpsTag.PerformedProcedureStepStartDateTime, 'Performed Procedure Step Start DateTime (0040,4050)'],
    [UpsTag.PerformedProcedureStepEndDateTime, 'Performed Procedure Step End DateTime (0040,4051)'],
  ]
    .filter(([tag]) => !text(performed, tag))
    .map(([, name]) => `${name} in its Performed Procedure Sequence`);
}

export interface StateChange {
  record: WorkitemRecord;
  /** Set when nothing changed because the workitem was already in the requested state (B304, B306). */
  warning?: string;
}

/** Change Workitem State (PS3.18 11.7; N-ACTION Change UPS State, PS3.4 CC.2.1.3). */
export function changedState(record: WorkitemRecord, request: DicomJson, now: Date): StateChange {
  const wanted = text(request, UpsTag.ProcedureStepState);
  const transaction = text(request, UpsTag.TransactionUID);
  if (!wanted || !STATES.includes(wanted as ProcedureStepState)) {
    throw new HttpProblem(400, `the payload names the new Procedure Step State (0074,1000): IN PROGRESS, COMPLETED or CANCELED, got "${wanted ?? ''}"`);
  }
  if (!transaction) throw new HttpProblem(400, 'the payload gives the Transaction UID (0008,1195): a new one to claim the workitem, the claim\'s one to complete or cancel it (C301)');
  const problem = uidProblem(transaction, 'Transaction UID (0008,1195)');
  if (problem) throw new HttpProblem(400, problem);
  const uid = record.sopInstanceUID;
  if (wanted === 'SCHEDULED') throw new HttpProblem(400, `a workitem becomes SCHEDULED only when it is created (C303)`);
  if (record.state === 'COMPLETED' || record.state === 'CANCELED') {
    if (wanted === record.state && transaction === record.transactionUID) return { record, warning: `workitem ${uid} is already ${record.state} (${record.state === 'COMPLETED' ? 'B306' : 'B304'})` };
    throw new HttpProblem(409, `workitem ${uid} is ${record.state} and may no longer change state (${record.state === 'COMPLETED' ? 'C311' : 'C300'})`);
  }
  const next = (state: ProcedureStepState, ds: DicomJson, transactionUID?: string): StateChange => {
    const dataset = { ...ds, [UpsTag.ProcedureStepState]: value('CS', state) };
    return { record: { ...record, state, dataset, transactionUID, version: record.version + 1 } };
  };
  if (record.state === 'SCHEDULED') {
    if (wanted !== 'IN PROGRESS') throw new HttpProblem(409, `workitem ${uid} is SCHEDULED: it is claimed (IN PROGRESS) before it can be ${wanted} (C310); a SCHEDULED workitem is cancelled with a cancellation request`);
    return next('IN PROGRESS', record.dataset, transaction);
  }
  // IN PROGRESS: claimed already; only its performer, who holds the Transaction UID, may go on.
  if (wanted === 'IN PROGRESS') throw new HttpProblem(409, `workitem ${uid} is already IN PROGRESS (C302)`);
  if (transaction !== record.transactionUID) throw new HttpProblem(400, `the Transaction UID given is not the one workitem ${uid} was claimed with (C301)`);
  if (wanted === 'COMPLETED') {
    const gaps = completionGaps(record.dataset);
    if (gaps.length) throw new HttpProblem(409, `workitem ${uid} cannot be COMPLETED before it holds ${gaps.join(', ')} (C304); set them with an update first`);
    return next('COMPLETED', record.dataset, transaction);
  }
  return next('CANCELED', withCancellation(record.dataset, now, 'cancelled by its performer'), transaction);
}

/** The Procedure Step Progress Information Sequence says when and why a workitem was cancelled. */
function withCancellation(ds: DicomJson, now: Date, reason: string): DicomJson {
  const progress = (ds[UpsTag.ProcedureStepProgressInformationSequence]?.Value?.[0] as DicomJson | undefined) ?? {};
  const item: DicomJson = { ...progress, [UpsTag.ProcedureStepCancellationDateTime]: value('DT', dicomNow(now)) };
  if (!text(progress, UpsTag.ReasonForCancellation)) item[UpsTag.ReasonForCancellation] = value('LT', reason);
  return { ...ds, [UpsTag.ProcedureStepProgressInformationSequence]: { vr: 'SQ', Value: [item] } };
}

/**
 * Request Cancellation (PS3.18 11.8; N-ACTION Request UPS Cancel). This archive manages its worklist
 * itself: a SCHEDULED workitem is cancelled at once; one IN PROGRESS belongs to its performer, whom this
 * archive cannot notify (no UPS event channel), so the request is refused (PS3.18 Table 11.8.3-1).
 */
export function cancelRequested(record: WorkitemRecord, request: DicomJson, now: Date): StateChange {
  const uid = record.sopInstanceUID;
  if (record.state === 'CANCELED') return { record, warning: `workitem ${uid} is already CANCELED (B304)` };
  if (record.state === 'COMPLETED') throw new HttpProblem(409, `workitem ${uid} is COMPLETED and can no longer be cancelled (C311)`);
  if (record.state === 'IN PROGRESS') throw new HttpProblem(409, `workitem ${uid} is IN PROGRESS: its performer cancels it (Change Workitem State with its Transaction UID); this archive has no channel to tell the performer of a request (C312)`);
  const reason = text(request, UpsTag.ReasonForCancellation) ?? 'cancellation requested';
  const dataset = { ...withCancellation(record.dataset, now, reason), [UpsTag.ProcedureStepState]: value('CS', 'CANCELED') };
  return { record: { ...record, state: 'CANCELED', dataset, version: record.version + 1 } };
}

/** The workitem as clients see it: never its Transaction UID (PS3.4 CC.1.1: it is the performer's lock). */
export function workitemView(record: WorkitemRecord): DicomJson {
  const { [UpsTag.TransactionUID]: _lock, ...rest } = record.dataset;
  return { ...rest, [UpsTag.ProcedureStepState]: value('CS', record.state) };
}
