// Storing one instance: parse, write the original, then commit the index entry (the commit point).
// A crash before the commit leaves only an unreferenced blob, which sweepOrphans() removes.
import { createHash } from 'node:crypto';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { HEADER_LIMIT, readInstanceFromFile } from '../../dicom/file-instance.js';
import { inflatedDataset } from '../../dicom/inflate.js';
import { InvalidInstanceError, readInstance, type ParsedInstance } from '../../dicom/instance.js';
import { DEFAULT_MAX_INFLATED_BYTES, DicomParseError } from '../../dicom/parser.js';
import type { ArchiveStorage, BlobStore, DuplicatePolicy, InstanceRecord } from '../../storage/ports.js';
import type { InstanceSource } from './spool.js';
import { removeIfUnreferenced, whileWritingBlob } from './blob-lifecycle.js';

export const FailureReason = {
  ProcessingFailure: 0x0110,
  /** PS3.4 Annex B: Refused, Out of Resources. */
  OutOfResources: 0xa700,
  DuplicateSOPInstance: 0x0111,
  CannotUnderstand: 0xc000,
  /** Data Set does not match SOP Class (PS3.4 Annex B), also given when the study differs from the URL's. */
  StudyInstanceUIDMismatch: 0xa900,
  /** The same code when the data set's SOP Class or Instance UID is not the one its C-STORE command names. */
  SOPIdentityMismatch: 0xa900,
} as const;
/** PS3.4 Annex B.2.3: the STOW-RS Warning Reason and the C-STORE warning status. */
export const WarningReason = { CoercionOfDataElements: 0xb000, DataSetDoesNotMatchSOPClass: 0xb007 } as const;

export type StoreOutcome =
  | { status: 'stored' | 'identical' | 'replaced'; instance: ParsedInstance; warnings: string[]; warningReason: number }
  | { status: 'failed'; failureReason: number; message: string; sopInstanceUID?: string; sopClassUID?: string };

export interface StoreOptions {
  duplicatePolicy: DuplicatePolicy;
  /** When storing to /studies/{uid}, the instance must belong to that study. */
  expectedStudyInstanceUID?: string;
  /**
   * Largest data set a deflated instance may inflate to (DEFAULT_MAX_INFLATED_BYTES when unset); also the
   * largest staged instance read whole when it cannot be read in pieces.
   */
  maxInflatedBytes?: number;
  /** For instances the archive produces itself: the analysis that made it (carried on the InstanceStored event). */
  producedBy?: string;
  /** For C-STORE: the SOP Class and Instance UIDs the command names, which the data set must carry (PS3.7 9.1.1.1). */
  expectedSop?: { sopClassUID: string; sopInstanceUID: string };
  /** For C-STORE: the calling AE title (carried on the InstanceStored event). */
  receivedFrom?: string;
}

export function blobKeyFor(sha256: string): string {
  // Content-addressed: retries of the same bytes land on the same key; the hash prefix spreads keys for S3.
  return `originals/${sha256.slice(0, 2)}/${sha256}.dcm`;
}

function sha256Hex(bytes: Uint8Array): string {
  // On the calling thread: WebCrypto would hash on the thread pool but first copies the whole input on
  // this one, which cost more event-loop time and garbage collection than hashing here (STOW measured
  // 2-9 % faster with four clients; docs/benchmarks.md).
  // In slices: one update() takes at most 2 GiB.
  const hash = createHash('sha256');
  for (let at = 0; at < bytes.length; at += HASH_SLICE) hash.update(bytes.subarray(at, at + HASH_SLICE));
  return hash.digest('hex');
}

const HASH_SLICE = 1024 * 1024 * 1024;

class OutOfResourcesError extends Error {}

/** A received instance read, with how to hash and store its bytes. */
interface ReadInstance {
  instance: ParsedInstance;
  sha256(): string;
  put(blobs: BlobStore, key: string): Promise<void>;
}

async function readSource(source: Uint8Array | InstanceSource, options: StoreOptions): Promise<ReadInstance> {
  if (source instanceof Uint8Array || 'bytes' in source) {
    const bytes = source instanceof Uint8Array ? source : source.bytes;
    const instance = readInstance(bytes, { inflated: await inflatedDataset(bytes, options.maxInflatedBytes) });
    return { instance, sha256: () => sha256Hex(bytes), put: (blobs, key) => blobs.put(key, bytes) };
  }
  const { staged } = source;
  const file = await open(staged.path, 'r');
  let instance: ParsedInstance | undefined;
  try {
    instance = await readInstanceFromFile({ size: staged.size, read: (offset, length) => readAt(file, offset, length) });
  } finally {
    await file.close();
  }
  if (!instance) {
    // A shape read only whole (deflated, a huge header, bulk that is no Pixel Data): as if it had arrived in
    // memory, up to a size that memory can take.
    const limit = options.maxInflatedBytes ?? DEFAULT_MAX_INFLATED_BYTES;
    if (staged.size > limit) {
      throw new OutOfResourcesError(
        `an instance of ${staged.size} bytes whose data set is deflated, whose header runs past ${HEADER_LIMIT} bytes or whose bulk is not its Pixel Data is read whole, which this archive does up to ${limit} bytes (MAX_INFLATED_BYTES)`,
      );
    }
    const bytes = await readFile(staged.path);
    return { ...(await readSource(bytes, options)), sha256: () => staged.sha256 };
  }
  return { instance, sha256: () => staged.sha256, put: (blobs, key) => blobs.putFile(key, staged.path) };
}

async function readAt(file: FileHandle, offset: number, length: number): Promise<Uint8Array> {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buffer, done, length - done, offset + done);
    if (bytesRead === 0) throw new Error(`staged file ended at byte ${offset + done}, ${length - done} bytes short`);
    done += bytesRead;
  }
  return buffer;
}

/**
 * Stores one instance: its bytes, or an instance staged in a file as it arrived (spool.ts), which is read
 * and stored from the file without being loaded.
 */
export async function storeInstance(storage: ArchiveStorage, source: Uint8Array | InstanceSource, options: StoreOptions): Promise<StoreOutcome> {
  let instance: ParsedInstance;
  let received: ReadInstance;
  try {
    received = await readSource(source, options);
    instance = received.instance;
  } catch (e) {
    if (e instanceof OutOfResourcesError) return { status: 'failed', failureReason: FailureReason.OutOfResources, message: e.message };
    if (e instanceof DicomParseError) e = new InvalidInstanceError(e.message);
    if (!(e instanceof InvalidInstanceError)) throw e;
    return {
      status: 'failed',
      failureReason: FailureReason.CannotUnderstand,
      message: `not a storable DICOM instance: ${e.message}`,
      sopInstanceUID: e.identity.sopInstanceUID,
      sopClassUID: e.identity.sopClassUID,
    };
  }
  const failed = (failureReason: number, message: string): StoreOutcome => ({
    status: 'failed',
    failureReason,
    message,
    sopInstanceUID: instance.sopInstanceUID,
    sopClassUID: instance.sopClassUID,
  });
  if (options.expectedStudyInstanceUID && instance.studyInstanceUID !== options.expectedStudyInstanceUID) {
    return failed(
      FailureReason.StudyInstanceUIDMismatch,
      `Study Instance UID ${instance.studyInstanceUID} of instance ${instance.sopInstanceUID} differs from ${options.expectedStudyInstanceUID} in the request URL`,
    );
  }
  const expected = options.expectedSop;
  if (expected && (instance.sopClassUID !== expected.sopClassUID || instance.sopInstanceUID !== expected.sopInstanceUID)) {
    return failed(
      FailureReason.SOPIdentityMismatch,
      `the data set is SOP Class ${instance.sopClassUID}, instance ${instance.sopInstanceUID}; the C-STORE command names class ${expected.sopClassUID}, instance ${expected.sopInstanceUID}`,
    );
  }
  const sha256 = received.sha256();
  const blobKey = blobKeyFor(sha256);
  const record: InstanceRecord = {
    studyInstanceUID: instance.studyInstanceUID,
    seriesInstanceUID: instance.seriesInstanceUID,
    sopInstanceUID: instance.sopInstanceUID,
    sopClassUID: instance.sopClassUID,
    transferSyntaxUID: instance.transferSyntaxUID,
    blobKey,
    size: instance.size,
    sha256,
    numberOfFrames: instance.numberOfFrames,
    frames: instance.frames,
    needsFullParse: instance.needsFullParse,
    studyAttributes: instance.studyAttributes,
    seriesAttributes: instance.seriesAttributes,
    instanceAttributes: instance.instanceAttributes,
    metadata: instance.metadata,
    storedAt: new Date().toISOString(),
  };
  let result;
  try {
    result = await whileWritingBlob(blobKey, async () => {
      await received.put(storage.blobs, blobKey);
      return storage.index.commitInstance(record, options.duplicatePolicy);
    });
  } catch (e) {
    await removeIfUnreferenced(storage, blobKey);
    throw e;
  }
  switch (result.outcome) {
    case 'conflict':
      await removeIfUnreferenced(storage, blobKey);
      return failed(FailureReason.DuplicateSOPInstance, `instance ${instance.sopInstanceUID} not stored: ${result.reason}`);
    case 'replaced':
      if (result.previousBlobKey !== blobKey) await removeIfUnreferenced(storage, result.previousBlobKey);
      break;
    case 'identical':
      break;
  }
  // Also for a repeated store: if the first attempt committed but lost its event (a fault between the
  // commit and the publish), the client's retry announces the instance. Consumers are idempotent.
  await storage.events.publish([
    {
      type: 'InstanceStored',
      studyInstanceUID: instance.studyInstanceUID,
      seriesInstanceUID: instance.seriesInstanceUID,
      sopInstanceUID: instance.sopInstanceUID,
      sopClassUID: instance.sopClassUID,
      at: record.storedAt,
      ...(options.producedBy ? { producedBy: options.producedBy } : {}),
      ...modalityOf(instance),
      ...(options.receivedFrom ? { receivedFrom: options.receivedFrom } : {}),
      ...(result.outcome === 'identical' ? { repeated: true } : {}),
    },
  ]);
  return {
    status: result.outcome,
    instance,
    warnings: [...instance.warnings, ...instance.coercions],
    // Coercion only when the data set was merely read otherwise than declared; anything else limits its use.
    warningReason: instance.warnings.length ? WarningReason.DataSetDoesNotMatchSOPClass : WarningReason.CoercionOfDataElements,
  };
}

/** The event's Modality (0008,0060), when the series names one. */
function modalityOf(instance: ParsedInstance): { modality?: string } {
  const value = instance.seriesAttributes['00080060']?.Value?.[0];
  return typeof value === 'string' && value ? { modality: value } : {};
}
