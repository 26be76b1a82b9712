// The narrow storage interfaces every feature depends on. Local implementations live in ./local,
// AWS ones (S3, DynamoDB, SQS) beside them; features never import an implementation directly.
import type { ByteRange, FrameLayout } from '../dicom/frames.js';
import type { DicomJson } from '../dicom/json-model.js';
import type { AttributeFilter } from '../dicom/matching.js';

/** Object storage for original Part 10 files. Keys are built from validated UIDs only. */
export interface ListedBlob {
  key: string;
  modifiedAt: Date;
}

export interface BlobStore {
  /** Resolves once the object is durable. Objects are immutable: a key always names the same bytes. */
  put(key: string, data: Uint8Array): Promise<void>;
  /** The same for the bytes of a local file (an instance staged as it arrived), never held in memory whole. */
  putFile(key: string, path: string): Promise<void>;
  get(key: string): Promise<Uint8Array | undefined>;
  /** The object's bytes in pieces, read as they are consumed (a file of gigabytes); fails if it does not exist. */
  stream(key: string): AsyncIterable<Uint8Array>;
  /** Reads several ranges of one object, in order. */
  getRanges(key: string, ranges: ByteRange[]): Promise<Uint8Array[]>;
  delete(keys: string[]): Promise<void>;
  /** Every object under a prefix with when it was last written, for recovery sweeps. */
  list(prefix: string): AsyncIterable<ListedBlob>;
  close(): Promise<void>;
}

export interface InstanceRecord {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  sopClassUID: string;
  transferSyntaxUID: string;
  blobKey: string;
  size: number;
  sha256: string;
  numberOfFrames?: number;
  frames?: FrameLayout;
  needsFullParse: boolean;
  studyAttributes: DicomJson;
  seriesAttributes: DicomJson;
  instanceAttributes: DicomJson;
  /** Full DICOM JSON metadata; BulkDataURI values are relative to the instance URL. */
  metadata: DicomJson;
  storedAt: string;
}

/** An instance as retrieval needs it: where its bytes and frames are, without its (possibly large) JSON. */
export type StoredInstance = Omit<InstanceRecord, 'metadata' | 'studyAttributes' | 'seriesAttributes' | 'instanceAttributes'>;

/** What to do when a SOP Instance UID arrives again with different content. */
export type DuplicatePolicy = 'reject' | 'replace';

export type CommitResult =
  | { outcome: 'stored' }
  | { outcome: 'identical' }
  | { outcome: 'replaced'; previousBlobKey: string }
  | { outcome: 'conflict'; reason: string };

export type QueryLevel = 'study' | 'series' | 'instance';

export interface IndexQuery {
  level: QueryLevel;
  filters: AttributeFilter[];
  /** PS3.18 fuzzymatching=true: person names match on any component prefix. */
  fuzzy: boolean;
  studyInstanceUID?: string;
  seriesInstanceUID?: string;
  limit: number;
  offset: number;
}

/** A query match: the level's own attributes plus those of the levels above it. */
export interface QueryMatch {
  attributes: DicomJson;
  studyInstanceUID: string;
  seriesInstanceUID?: string;
  sopInstanceUID?: string;
}

export interface MetadataRow {
  sopInstanceUID: string;
  seriesInstanceUID: string;
  json: string;
}

export interface ReferenceScope {
  studyInstanceUID: string;
  seriesInstanceUID?: string;
  sopInstanceUID?: string;
}

/** The archive's index: the commit point of every store and delete. */
export interface ArchiveIndex {
  /** Atomically records an instance whose blob is already durable. */
  commitInstance(record: InstanceRecord, policy: DuplicatePolicy): Promise<CommitResult>;
  /** Instances under a scope (a whole study, one series, or one instance), ordered by series then instance number. */
  listInstances(scope: ReferenceScope): Promise<StoredInstance[]>;
  /** Stored metadata (DICOM JSON text) of the instances under a scope, in listInstances order. */
  metadataJson(scope: ReferenceScope): Promise<MetadataRow[]>;
  /** The same, read `pageSize` instances at a time as consumed (a study of thousands is never held whole). */
  metadataJsonPages(scope: ReferenceScope, pageSize: number): AsyncIterable<MetadataRow[]>;
  /**
   * Matches in the level's order, read from the index as they are consumed (never all at once: an answer
   * can hold thousands of instances with megabytes of attributes each), ending after `limit`.
   */
  query(query: IndexQuery): AsyncIterable<QueryMatch>;
  /** Removes the index entries under a scope and returns the blob keys they referenced. */
  deleteInstances(scope: ReferenceScope): Promise<string[]>;
  /** True if some instance references this blob key. */
  referencesBlob(key: string): Promise<boolean>;
  close(): Promise<void>;
}

export type ArchiveEvent =
  | {
      type: 'InstanceStored';
      studyInstanceUID: string;
      seriesInstanceUID: string;
      sopInstanceUID: string;
      sopClassUID: string;
      at: string;
      /** Set when the archive wrote the instance itself (an AI result): names the analysis that produced it. */
      producedBy?: string;
      /** Modality (0008,0060) of its series, for consumers that route by it (forwarding rules). */
      modality?: string;
      /** The calling AE title when the instance arrived over DIMSE. */
      receivedFrom?: string;
      /** The same bytes were stored before: announced again in case the first announcement was lost. */
      repeated?: boolean;
    }
  | { type: 'InstancesDeleted'; studyInstanceUID: string; seriesInstanceUID?: string; sopInstanceUID?: string; at: string };

/** Where archive events go (ingest notifications for the AI pipeline and other consumers). */
export interface EventPublisher {
  publish(events: ArchiveEvent[]): Promise<void>;
}

/** PS3.4 CC.1.1: the states of a Unified Procedure Step. */
export type ProcedureStepState = 'SCHEDULED' | 'IN PROGRESS' | 'CANCELED' | 'COMPLETED';

/** A UPS workitem (UPS-RS) as stored. */
export interface WorkitemRecord {
  sopInstanceUID: string;
  state: ProcedureStepState;
  /** The performer's lock (PS3.4 CC.1.1), kept apart from the attributes: never returned to clients. */
  transactionUID?: string;
  /** Its attributes as DICOM JSON, Procedure Step State included, Transaction UID never. */
  dataset: DicomJson;
  /** 0 | 1 | 2 for HIGH | MEDIUM | LOW Scheduled Procedure Step Priority: the order of lists. */
  priorityRank: number;
  /** Scheduled Procedure Step Start DateTime as given (DT), the order within one priority. */
  scheduledAt: string;
  /** Incremented by each change; a write names the version it replaces (compare and set). */
  version: number;
}

export interface WorkitemStore {
  /** Stores a new workitem; false when one with its SOP Instance UID exists. */
  create(record: WorkitemRecord): Promise<boolean>;
  get(sopInstanceUID: string): Promise<WorkitemRecord | undefined>;
  /** Writes `record` if the stored one is still at version `record.version - 1`; false when another change came first. */
  replace(record: WorkitemRecord): Promise<boolean>;
  /** Workitems by priority, then scheduled start, read as the caller goes. */
  list(): AsyncIterable<WorkitemRecord>;
  close(): Promise<void>;
}

export interface QueuedMessage<T> {
  body: T;
  /** Delivery attempts so far, this one included. */
  attempts: number;
  receipt: string;
}

export interface DeadLetter<T> {
  body: T;
  attempts: number;
  error: string;
  at: string;
}

/**
 * Work queues (one per analyser, one for DIMSE forwarding) with at-least-once delivery, a visibility timeout, retries with
 * backoff and a dead-letter queue (the semantics of SQS with a redrive policy).
 */
export interface WorkQueue<T> {
  /** Enqueues unless a message with this id is already queued or done (deduplication). */
  send(queue: string, id: string, body: T): Promise<void>;
  receive(queue: string, max: number): Promise<Array<QueuedMessage<T>>>;
  /** The message was handled: it is removed. */
  ack(queue: string, receipt: string): Promise<void>;
  /** The attempt failed: retried after a backoff, or dead-lettered once attempts are exhausted. Returns true when dead-lettered. */
  fail(queue: string, receipt: string, error: string): Promise<boolean>;
  deadLetters(queue: string): Promise<Array<DeadLetter<T>>>;
  /** Resolves when a message may be waiting (new send or a retry coming due), or after `ms`. */
  wait(ms: number): Promise<void>;
  close(): Promise<void>;
}

/** A coded value of DICOM's audit messages (PS3.15 A.5.1): code, coding scheme, meaning. */
export interface AuditCode {
  code: string;
  codingScheme: string;
  meaning: string;
}

/** One party to an audited event: the requester, or the archive (PS3.15 A.5.1 ActiveParticipant). */
export interface AuditParticipant {
  UserID: string;
  AlternativeUserID?: string;
  UserName?: string;
  UserIsRequestor: boolean;
  RoleIDCode?: AuditCode;
  /** 1 machine name, 2 IP address. */
  NetworkAccessPointTypeCode?: 1 | 2;
  NetworkAccessPointID?: string;
  /** Not in PS3.15: the X-Forwarded-For chain the request carried (as sent: its first entries are the client's word). */
  ForwardedFor?: string;
}

/** What an event touched: a patient, a study, a query (PS3.15 A.5.1 ParticipantObjectIdentification). */
export interface AuditObject {
  /** 1 person, 2 system object. */
  ParticipantObjectTypeCode: 1 | 2;
  /** 1 patient, 3 report (a study), 13 security resource (the audit log), 24 query. */
  ParticipantObjectTypeCodeRole: number;
  ParticipantObjectIDTypeCode: AuditCode;
  ParticipantObjectID: string;
  ParticipantObjectName?: string;
  /** The query as the requester sent it (plain text, not base64: this is the JSON form). */
  ParticipantObjectQuery?: string;
  ParticipantObjectDescription?: string;
}

/** An audit record in the fields of DICOM's audit messages (PS3.15 A.5.1), as JSON. */
export interface AuditRecord {
  /** Unique, and ordered by time within one archive. */
  id: string;
  EventIdentification: {
    EventID: AuditCode;
    /** C create, R read, U update, D delete, E execute. */
    EventActionCode: 'C' | 'R' | 'U' | 'D' | 'E';
    EventDateTime: string;
    /** 0 success, 4 minor failure, 8 serious failure, 12 major failure. */
    EventOutcomeIndicator: 0 | 4 | 8 | 12;
    EventOutcomeDescription?: string;
    EventTypeCode?: AuditCode[];
  };
  ActiveParticipant: AuditParticipant[];
  AuditSourceIdentification: { AuditSourceID: string; AuditEnterpriseSiteID?: string; AuditSourceTypeCode: string };
  ParticipantObjectIdentification: AuditObject[];
}

/** Which records to read; every given criterion must hold. Newest first. */
export interface AuditQuery {
  patientID?: string;
  studyInstanceUID?: string;
  userID?: string;
  /** ISO 8601 bounds of EventDateTime, inclusive. */
  since?: string;
  until?: string;
}

/** The audit trail: records are added, never changed or removed. */
export interface AuditLog {
  /** Resolves once the record is durable. */
  append(record: AuditRecord): Promise<void>;
  /** Matching records, newest first, read as consumed. */
  search(query: AuditQuery): AsyncIterable<AuditRecord>;
  close(): Promise<void>;
}

/** The keys a record is found by: its patients, studies and requesting users. */
export function auditKeys(record: AuditRecord): { patients: string[]; studies: string[]; users: string[] } {
  const ids = (role: number, type: string) =>
    [...new Set(record.ParticipantObjectIdentification.filter((o) => o.ParticipantObjectTypeCodeRole === role && o.ParticipantObjectIDTypeCode.code === type).map((o) => o.ParticipantObjectID))];
  return {
    patients: ids(1, '2'),
    studies: ids(3, '110180'),
    users: [...new Set(record.ActiveParticipant.filter((p) => p.UserIsRequestor).map((p) => p.UserID))],
  };
}

/** A de-identified export of a cohort (governance/export): what was asked, where it goes, how far it is. */
export interface ExportJob {
  id: string;
  state: 'running' | 'done' | 'failed';
  createdAt: string;
  updatedAt: string;
  /** The requester's UserID, as the audit trail names them. */
  requestedBy: string;
  request: {
    /** QIDO-RS study-level query parameters selecting the cohort. */
    query?: Record<string, string[]>;
    studies?: string[];
    /** PS3.15 E.3 options chosen (governance/deidentify/profile.ts). */
    options: string[];
    includeBurnedIn: boolean;
  };
  /** Where the copies and the manifest are: a folder, or s3://bucket/prefix. */
  destination: string;
  progress: { studies: number; instances: number; copied: number; excluded: number; failed: number };
  error?: string;
}

/** What became of one instance of an export: kept by the archive only, since it links copies to originals. */
export interface ExportManifestEntry {
  status: 'copied' | 'excluded' | 'failed';
  original: { studyInstanceUID: string; seriesInstanceUID?: string; sopInstanceUID?: string };
  copy?: { studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string; file: string };
  reason?: string;
}

export interface ExportJobStore {
  put(job: ExportJob): Promise<void>;
  get(id: string): Promise<ExportJob | undefined>;
  /** Newest first. */
  list(limit: number): Promise<ExportJob[]>;
  addManifestEntries(id: string, entries: ExportManifestEntry[]): Promise<void>;
  /** In the order added, read as consumed. */
  manifest(id: string): AsyncIterable<ExportManifestEntry>;
  close(): Promise<void>;
}

export interface ArchiveStorage {
  blobs: BlobStore;
  index: ArchiveIndex;
  events: EventPublisher;
  workitems: WorkitemStore;
  audit: AuditLog;
}

/** Every match of a query, for callers that want them all (the query's `limit` bounds them). */
export async function allMatches(matches: AsyncIterable<QueryMatch>): Promise<QueryMatch[]> {
  const out: QueryMatch[] = [];
  for await (const m of matches) out.push(m);
  return out;
}
