// Which patient a study belongs to, for audit records of requests that name only the study (a frame, a
// delete): read from the index at study level and kept for a minute, so that a viewer's hundreds of
// frame requests cost one lookup. A minute bounds how long a record can name a patient a correction
// has since changed.
import { firstString, type DicomJson } from '../../dicom/json-model.js';
import { Tag } from '../../dicom/tags.js';
import { uidProblem } from '../../dicom/uid.js';
import type { ArchiveIndex } from '../../storage/ports.js';

export interface AuditedStudy {
  studyInstanceUID: string;
  patientID?: string;
  patientName?: string;
}

const TTL_MS = 60_000;
const MAX_ENTRIES = 2000;

/** The study and its patient as its study-level attributes tell. */
export function auditedStudyOf(studyInstanceUID: string, studyAttributes: DicomJson): AuditedStudy {
  const patientID = firstString(studyAttributes, Tag.PatientID);
  const patientName = firstString(studyAttributes, Tag.PatientName);
  return { studyInstanceUID, ...(patientID ? { patientID } : {}), ...(patientName ? { patientName } : {}) };
}

export class StudyPatients {
  private readonly known = new Map<string, { study: AuditedStudy; until: number }>();

  constructor(private readonly index: ArchiveIndex) {}

  /** The study with its patient when the index has it; just the UID for an unknown or malformed one. */
  async lookup(studyInstanceUID: string): Promise<AuditedStudy> {
    const hit = this.known.get(studyInstanceUID);
    if (hit && hit.until > Date.now()) return hit.study;
    if (uidProblem(studyInstanceUID, 'uid')) return { studyInstanceUID };
    try {
      for await (const match of this.index.query({ level: 'study', filters: [], fuzzy: false, studyInstanceUID, limit: 1, offset: 0 })) {
        const study = auditedStudyOf(studyInstanceUID, match.attributes);
        this.remember(study);
        return study;
      }
    } catch {
      // The request itself will meet the index's trouble and say so; the record names the study alone.
    }
    return { studyInstanceUID };
  }

  remember(study: AuditedStudy): void {
    if (this.known.size >= MAX_ENTRIES) this.known.delete(this.known.keys().next().value!);
    this.known.set(study.studyInstanceUID, { study, until: Date.now() + TTL_MS });
  }
}
