// Bulk import of an existing archive through object storage: Part 10 files dropped under `ingest/` are
// stored by the same code as STOW-RS (storeInstance), then removed from the drop zone. A file that is not
// a storable instance moves to `ingest-failed/` beside a `.reason.txt` that says why. Transient errors are
// left for the queue to redeliver; a file already imported (redelivery) is simply gone, so nothing repeats.
import type { DuplicatePolicy } from '../storage/ports.js';
import type { ArchiveStorage } from '../storage/ports.js';
import { storeInstance } from '../dicomweb/store/store-instance.js';

export const INGEST_PREFIX = 'ingest/';
export const FAILED_PREFIX = 'ingest-failed/';

/** The drop zone: read, write and delete objects by key (the archive bucket under INGEST_PREFIX). */
export interface DropZone {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, bytes: Uint8Array, contentType: string): Promise<void>;
  delete(key: string): Promise<void>;
}

export type ImportOutcome =
  | { key: string; result: 'stored' | 'identical' | 'replaced'; sopInstanceUID: string }
  | { key: string; result: 'refused'; reason: string }
  | { key: string; result: 'already-imported' };

export interface ImportOptions {
  duplicatePolicy: DuplicatePolicy;
  maxInstanceBytes: number;
}

export async function importObject(storage: ArchiveStorage, zone: DropZone, key: string, options: ImportOptions): Promise<ImportOutcome> {
  if (!key.startsWith(INGEST_PREFIX) || key.endsWith('/')) return { key, result: 'refused', reason: `not a file under ${INGEST_PREFIX}` };
  const bytes = await zone.get(key);
  if (!bytes) return { key, result: 'already-imported' };
  const refuse = async (reason: string): Promise<ImportOutcome> => {
    const failedKey = FAILED_PREFIX + key.slice(INGEST_PREFIX.length);
    await zone.put(failedKey, bytes, 'application/octet-stream');
    await zone.put(`${failedKey}.reason.txt`, new TextEncoder().encode(`${reason}\n`), 'text/plain; charset=utf-8');
    await zone.delete(key);
    return { key, result: 'refused', reason };
  };
  if (bytes.length > options.maxInstanceBytes) return refuse(`${bytes.length} bytes is more than the ${options.maxInstanceBytes} bytes allowed per instance`);
  const outcome = await storeInstance(storage, bytes, { duplicatePolicy: options.duplicatePolicy });
  if (outcome.status === 'failed') return refuse(`FailureReason ${outcome.failureReason.toString(16).toUpperCase().padStart(4, '0')}: ${outcome.message}`);
  await zone.delete(key);
  return { key, result: outcome.status, sopInstanceUID: outcome.instance.sopInstanceUID };
}
