// Content-addressed originals are shared by every store of the same bytes, so a blob may be removed
// only when no index entry references it and no store of it is under way. Stores of a key run
// together (shared); a removal waits for them and runs alone (exclusive). In one process — the local
// archive — this is exact; a multi-process deployment needs the same rule from its own storage.
// sweepOrphans removes what interrupted stores left; it lives here, apart from the DICOM parser, so that
// the scheduled sweep function does not carry the parser and its dictionary.
import type { ArchiveStorage } from '../../storage/ports.js';

interface KeyState {
  shared: number;
  exclusive: boolean;
  waiters: Array<() => void>;
}

const states = new Map<string, KeyState>();

async function acquire(key: string, exclusive: boolean): Promise<() => void> {
  for (;;) {
    let s = states.get(key);
    if (!s) {
      s = { shared: 0, exclusive: false, waiters: [] };
      states.set(key, s);
    }
    if (!s.exclusive && (!exclusive || s.shared === 0)) {
      if (exclusive) s.exclusive = true;
      else s.shared++;
      const state = s;
      return () => {
        if (exclusive) state.exclusive = false;
        else state.shared--;
        const waiters = state.waiters.splice(0);
        if (!state.exclusive && state.shared === 0 && waiters.length === 0) states.delete(key);
        waiters.forEach((wake) => wake());
      };
    }
    await new Promise<void>((resolve) => s.waiters.push(resolve));
  }
}

/** Runs a write of `key` and the index commit that references it, so no removal of `key` interleaves. */
export async function whileWritingBlob<T>(key: string, work: () => Promise<T>): Promise<T> {
  const release = await acquire(key, false);
  try {
    return await work();
  } finally {
    release();
  }
}

/** Removes a blob that no index entry references (any more). */
export async function removeIfUnreferenced(storage: ArchiveStorage, key: string): Promise<void> {
  const release = await acquire(key, true);
  try {
    if (!(await storage.index.referencesBlob(key))) await storage.blobs.delete([key]);
  } finally {
    release();
  }
}

/**
 * Removes blobs that no index entry references: the leftovers of stores interrupted before their commit.
 * With `writtenBefore`, only blobs last written before then: a store still in flight (its blob written,
 * its index entry not yet) must not lose its blob, so where stores may run during the sweep (AWS), the
 * cut-off lies well beyond the longest request.
 */
export async function sweepOrphans(storage: ArchiveStorage, options: { writtenBefore?: Date } = {}): Promise<{ examined: number; removed: number }> {
  let examined = 0;
  let removed = 0;
  for await (const { key, modifiedAt } of storage.blobs.list('originals/')) {
    if (options.writtenBefore && modifiedAt >= options.writtenBefore) continue;
    examined++;
    if (!(await storage.index.referencesBlob(key))) {
      await storage.blobs.delete([key]);
      removed++;
    }
  }
  return { examined, removed };
}
