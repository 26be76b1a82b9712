// What C-GET and C-MOVE send (PS3.4 C.4.2, C.4.3): the instances an identifier's unique keys name, found
// through the index as C-FIND finds them, each as a data set in a transfer syntax the receiving
// presentation context accepts — as stored when it does, else converted as WADO-RS converts.
import { readFileMeta } from '../dicom/parser.js';
import { TransferSyntax } from '../dicom/transfer-syntax.js';
import type { DicomWebConfig } from '../dicomweb/config.js';
import { isUniversal } from '../dicom/matching.js';
import { UnsupportedEncodingError } from '../imaging/codecs.js';
import { canTranscode, transcodeInstance } from '../imaging/transcode.js';
import type { ArchiveStorage, StoredInstance } from '../storage/ports.js';
import { EncodedDataset } from './encoded-dataset.js';
import { FindRefusal, parseIdentifier, type FindRequest } from './find-scp.js';
import { DimseStatus, type DimseOutcome } from './status.js';

/** The instances a retrieve identifier names, study by study, in the index's order. */
export async function instancesToRetrieve(storage: ArchiveStorage, config: DicomWebConfig, request: FindRequest): Promise<StoredInstance[]> {
  const { indexLevel, filters } = parseIdentifier(request.identifier, request.model);
  if (filters.every(isUniversal)) throw new FindRefusal(DimseStatus.IdentifierDoesNotMatchSOPClass, 'a retrieve names what it wants by its unique keys (Study, Series or SOP Instance UID, or Patient ID); this identifier has none with a value');
  const instances: StoredInstance[] = [];
  for await (const match of storage.index.query({ level: indexLevel, filters, fuzzy: false, limit: config.maxQueryResults + 1, offset: 0 })) {
    instances.push(...(await storage.index.listInstances({ studyInstanceUID: match.studyInstanceUID, seriesInstanceUID: match.seriesInstanceUID, sopInstanceUID: match.sopInstanceUID })));
  }
  return instances;
}

/** Syntaxes tried when the receiver does not accept the stored one: uncompressed first, as WADO-RS's default. */
const CONVERSION_ORDER = [TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian];

export type SubOperationData = { dataset: EncodedDataset } | { failure: string };

/**
 * The instance as the data set of a C-STORE sub-operation, in its stored syntax if `accepted` (what the
 * receiver accepted for its SOP class) holds it, else converted into one it holds.
 */
export async function subOperationData(storage: ArchiveStorage, config: DicomWebConfig, instance: StoredInstance, accepted: readonly string[]): Promise<SubOperationData> {
  if (accepted.length === 0) return { failure: `the receiver accepted no presentation context for SOP class ${instance.sopClassUID}` };
  const file = await storage.blobs.get(instance.blobKey);
  if (!file) return { failure: `the stored file of instance ${instance.sopInstanceUID} is missing` };
  const identity = { SOPClassUID: instance.sopClassUID, SOPInstanceUID: instance.sopInstanceUID };
  if (accepted.includes(instance.transferSyntaxUID)) {
    return { dataset: new EncodedDataset([file.subarray(readFileMeta(file).datasetStart)], instance.transferSyntaxUID, identity) };
  }
  const target = [...CONVERSION_ORDER.filter((s) => accepted.includes(s)), ...accepted].find((s) => canTranscode(instance.transferSyntaxUID, s));
  if (!target) return { failure: `instance ${instance.sopInstanceUID} is stored as ${instance.transferSyntaxUID}, which cannot be converted into ${accepted.join(', ')}` };
  try {
    const converted = Buffer.concat(await transcodeInstance(file, target, config));
    return { dataset: new EncodedDataset([converted.subarray(readFileMeta(converted).datasetStart)], target, identity) };
  } catch (e) {
    if (e instanceof UnsupportedEncodingError) return { failure: `instance ${instance.sopInstanceUID} cannot be converted into ${target}: ${e.message}` };
    throw e;
  }
}

export interface RetrieveCounts {
  remaining: number;
  completed: number;
  failed: number;
  warning: number;
  failedSopInstanceUIDs: string[];
}

export type SubOperationResult = 'completed' | 'warning' | 'failed';

/** How a C-GET or C-MOVE ended: its status and, when sub-operations ran, their counts. */
export interface RetrieveOutcome extends DimseOutcome {
  counts?: RetrieveCounts;
}

/** How a retrieve sends: the data of an instance for its receiver, and one C-STORE of it (its response status). */
export interface SubOperations {
  prepare(instance: StoredInstance): Promise<SubOperationData>;
  transmit(dataset: EncodedDataset): Promise<number>;
  /** An instance that could not be prepared (not sent, counted as failed). */
  notSent(instance: StoredInstance, reason: string): void;
}

/**
 * Runs the sub-operations one after another (a receiver answers each C-STORE before the next), reporting
 * the counts after each; stops early when `cancelled()` says so. The next instance is read and converted
 * while the current one is on its way, so that the wait for each response hides the storage read.
 */
export async function performSubOperations(
  instances: readonly StoredInstance[],
  operations: SubOperations,
  progress: (counts: RetrieveCounts) => void,
  cancelled: () => boolean,
): Promise<RetrieveCounts & { cancelled: boolean }> {
  const counts: RetrieveCounts = { remaining: instances.length, completed: 0, failed: 0, warning: 0, failedSopInstanceUIDs: [] };
  // Settled as a value, so that a failure while the previous instance is in flight is not left unhandled.
  const prepare = (i: number) => operations.prepare(instances[i]).then((data) => ({ data }), (error: unknown) => ({ error }));
  let next = instances.length ? prepare(0) : undefined;
  for (let i = 0; i < instances.length; i++) {
    if (cancelled()) return { ...counts, cancelled: true };
    const prepared = await next!;
    next = i + 1 < instances.length ? prepare(i + 1) : undefined;
    if ('error' in prepared) throw prepared.error;
    const instance = instances[i];
    let result: SubOperationResult = 'failed';
    if ('failure' in prepared.data) operations.notSent(instance, prepared.data.failure);
    else result = subOperationResult(await operations.transmit(prepared.data.dataset));
    counts.remaining -= 1;
    counts[result] += 1;
    if (result === 'failed') counts.failedSopInstanceUIDs.push(instance.sopInstanceUID);
    if (counts.remaining > 0) progress(counts);
  }
  return { ...counts, cancelled: false };
}

/** The final status of a C-GET or C-MOVE from its counts (PS3.4 C.4.2.1.3.1, C.4.3.1.3.1). */
export function retrieveStatus(counts: RetrieveCounts & { cancelled: boolean }): number {
  if (counts.cancelled) return DimseStatus.Cancel;
  if (counts.failed === 0 && counts.warning === 0) return DimseStatus.Success;
  if (counts.completed === 0 && counts.warning === 0) return DimseStatus.SubOperationsOutOfResources;
  return DimseStatus.SubOperationsWithFailures;
}

/** A C-STORE response status as a sub-operation's result. */
export function subOperationResult(status: number): SubOperationResult {
  if (status === DimseStatus.Success) return 'completed';
  return (status & 0xf000) === 0xb000 ? 'warning' : 'failed';
}
