// The narrow interfaces the AI pipeline depends on. Local implementations (SQLite, in-process) live in
// lambdas/storage/local; the AWS ones (SQS queues, DynamoDB) beside the archive's own AWS adapters.

/** A study's analysis lifecycle: collecting instances, then dispatched as one revision. */
export interface StudyActivity {
  studyInstanceUID: string;
  /** 1 for the first analysed state of a study; every change after dispatch opens the next one. */
  revision: number;
  state: 'collecting' | 'dispatched';
  lastChangeAt: string;
}

export type PriorityLevel = 'urgent' | 'high' | 'routine';
export const PRIORITY_RANK: Record<PriorityLevel, number> = { urgent: 1, high: 2, routine: 3 };

export interface AnalysisJob {
  studyInstanceUID: string;
  revision: number;
  analyserId: string;
  analyserVersion: string;
}

/** The idempotency key of one analysis: a study revision seen by one analyser version. */
export function jobKey(job: AnalysisJob): string {
  return `${job.studyInstanceUID}/${job.revision}/${job.analyserId}@${job.analyserVersion}`;
}

export type ResultStatus = 'analysed' | 'not-analysed' | 'failed';

export interface AnalysisResult extends AnalysisJob {
  key: string;
  status: ResultStatus;
  /** For not-analysed and failed: why. For analysed: a one-line summary. */
  summary: string;
  positive: boolean;
  priority?: { level: PriorityLevel; reason: string };
  /** Named outputs for monitoring (e.g. volumeMl, noiseSigma). */
  outputs: Record<string, number>;
  /** The DICOM objects written into the study (SR, SEG). */
  objects: Array<{ sopInstanceUID: string; seriesInstanceUID: string; sopClassUID: string; kind: 'SR' | 'SEG' }>;
  modelSha256?: string;
  /** Scanner model and site of the source images, for metrics broken down by them. */
  scannerModel: string;
  site: string;
  attempts: number;
  latencyMs: number;
  createdAt: string;
}

export interface WorklistItem {
  studyInstanceUID: string;
  revision: number;
  state: 'collecting' | 'analysing' | 'analysed';
  priority: PriorityLevel;
  reason: string;
  patientName: string;
  patientID: string;
  studyDescription: string;
  modalities: string;
  flags: Array<{ analyserId: string; status: ResultStatus; summary: string; positive: boolean }>;
  updatedAt: string;
  /** When the study first entered the worklist: the order within one priority. */
  waitingSince?: string;
}

export interface Feedback {
  resultKey: string;
  verdict: 'accept' | 'reject' | 'correct';
  reader: string;
  comment?: string;
  correction?: Record<string, number | string>;
  at: string;
}

export interface AnalyserRecord {
  id: string;
  name: string;
  version: string;
  vendor: string;
  intendedUse: string;
  validationStatus: 'research' | 'validated' | 'cleared' | 'retired';
  enabled: boolean;
  modelSha256?: string;
}

export interface ChangeLogEntry {
  analyserId: string;
  at: string;
  who: string;
  change: string;
}

export interface ModelRecord {
  name: string;
  version: string;
  sha256: string;
  blobKey: string;
  size: number;
  provenance: string;
  registeredAt: string;
}

/** Durable state of the pipeline: readiness, dispatch, results, worklist, registry and feedback. */
export interface AiStateStore {
  /** Records changes to studies (the latest time per study) in one write; returns each study's revision. */
  recordChanges(changes: Map<string, string>): Promise<Map<string, number>>;
  /** Studies that have been quiet since `before` and are not yet dispatched. */
  quietStudies(before: string, limit: number): Promise<StudyActivity[]>;
  /** Marks a revision dispatched with the analysers it went to; false if it changed meanwhile. */
  markDispatched(studyInstanceUID: string, revision: number, jobs: AnalysisJob[]): Promise<boolean>;
  activity(studyInstanceUID: string): Promise<StudyActivity | undefined>;
  /** Forgets a study that was deleted from the archive (its results stay for the audit trail). */
  forgetStudy(studyInstanceUID: string): Promise<void>;
  /** Jobs of a revision that have no result yet. */
  pendingJobs(studyInstanceUID: string, revision: number): Promise<AnalysisJob[]>;
  /** Dispatched jobs without a result, of any study (to re-queue after a crash). */
  unfinishedJobs(limit: number): Promise<AnalysisJob[]>;
  getResult(key: string): Promise<AnalysisResult | undefined>;
  /** Stores a result once; a second result under the same key is ignored (returns false). */
  putResult(result: AnalysisResult): Promise<boolean>;
  resultsOf(studyInstanceUID: string, revision?: number): Promise<AnalysisResult[]>;
  recentResults(analyserId: string, limit: number): Promise<AnalysisResult[]>;
  upsertWorklist(item: WorklistItem): Promise<void>;
  removeFromWorklist(studyInstanceUID: string): Promise<void>;
  worklist(options: { state?: WorklistItem['state']; limit: number; offset: number }): Promise<WorklistItem[]>;
  putFeedback(feedback: Feedback): Promise<void>;
  feedbackFor(resultKey: string): Promise<Feedback[]>;
  putAnalyser(record: AnalyserRecord, change: Omit<ChangeLogEntry, 'analyserId' | 'at'>): Promise<void>;
  analysers(): Promise<AnalyserRecord[]>;
  changeLog(analyserId: string): Promise<ChangeLogEntry[]>;
  putModel(record: ModelRecord): Promise<void>;
  models(): Promise<ModelRecord[]>;
  close(): Promise<void>;
}

// Work queues are shared with other features (DIMSE forwarding): their port lives with the storage ports.
export type { DeadLetter, QueuedMessage, WorkQueue } from '../storage/ports.js';

/** The result's identifier in URLs: its key, base64url-encoded (keys contain "/" and "@"). */
export function resultId(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}
export function keyOfResultId(id: string): string | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(id)) return undefined;
  return Buffer.from(id, 'base64url').toString('utf8');
}
