// The reading worklist as DICOM workitems (UPS-RS): each study that arrives gets one "read this study"
// workitem, SCHEDULED, its Scheduled Procedure Step Priority following the triage and its Input
// Readiness State READY once the analyses are done. Once a reader claims it (IN PROGRESS) or finishes
// it, it is theirs: the pipeline changes it no more.
import type { DicomJson } from '../../dicom/json-model.js';
import { uidFromName } from '../../dicom/uid.js';
import { UpsTag, dicomNow, newWorkitem, updatedWorkitem } from '../../dicomweb/workitems/workitem-rules.js';
import type { WorkitemStore } from '../../storage/ports.js';
import type { PriorityLevel, WorklistItem } from '../ports.js';

const UPS_PRIORITY: Record<PriorityLevel, string> = { urgent: 'HIGH', high: 'MEDIUM', routine: 'LOW' };

/** The workitem of a study's reading: the same UID whichever process creates it. */
export const readingWorkitemUid = (studyInstanceUID: string) => uidFromName(`reading-workitem:${studyInstanceUID}`);

const cs = (v: string) => ({ vr: 'CS', Value: [v] });

/** What the worklist entry says, as workitem attributes the pipeline keeps up to date. */
function followed(item: WorklistItem): DicomJson {
  return {
    [UpsTag.ScheduledProcedureStepPriority]: cs(UPS_PRIORITY[item.priority]),
    [UpsTag.InputReadinessState]: cs(item.state === 'analysed' ? 'READY' : 'INCOMPLETE'),
    [UpsTag.ProcedureStepLabel]: { vr: 'LO', Value: [`Read ${item.studyDescription || 'study'}`.slice(0, 64)] },
  };
}

export async function syncReadingWorkitem(store: WorkitemStore, item: WorklistItem, now: Date): Promise<void> {
  const uid = readingWorkitemUid(item.studyInstanceUID);
  const current = await store.get(uid);
  if (!current) {
    const ds: DicomJson = {
      ...followed(item),
      [UpsTag.ProcedureStepState]: cs('SCHEDULED'),
      [UpsTag.ScheduledProcedureStepStartDateTime]: { vr: 'DT', Value: [dicomNow(now)] },
      '00100010': { vr: 'PN', ...(item.patientName ? { Value: [{ Alphabetic: item.patientName }] } : {}) },
      '00100020': { vr: 'LO', ...(item.patientID ? { Value: [item.patientID] } : {}) },
      '0020000D': { vr: 'UI', Value: [item.studyInstanceUID] },
    };
    await store.create(newWorkitem(ds, uid, () => uid)); // false: another process created it first
    return;
  }
  if (current.state !== 'SCHEDULED') return;
  const changes = followed(item);
  if (Object.entries(changes).every(([tag, a]) => JSON.stringify(current.dataset[tag]?.Value) === JSON.stringify(a.Value))) return;
  // A conflict means someone changed it meanwhile (a reader claimed it): theirs wins, the next sync looks again.
  await store.replace(updatedWorkitem(current, changes, undefined, now));
}
