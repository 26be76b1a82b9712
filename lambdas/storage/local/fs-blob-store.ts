// BlobStore on the local file system. A put is durable when it resolves: the file is written, flushed
// (fdatasync) and its directory flushed (shared between concurrent puts).
import { constants, createReadStream } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { ByteRange } from '../../dicom/frames.js';
import type { BlobStore, ListedBlob } from '../ports.js';
import { GroupFsync } from './group-fsync.js';

/** Pieces a stored file is streamed in. */
const STREAM_CHUNK = 1024 * 1024;

export class FsBlobStore implements BlobStore {
  private readonly knownDirs = new Set<string>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly dirSyncs = new Map<string, GroupFsync>();

  constructor(private readonly root: string) {}

  private path(key: string): string {
    if (!/^[A-Za-z0-9._/-]+$/.test(key) || key.split('/').some((p) => p === '..' || p === '.' || p === '')) {
      throw new Error(`invalid blob key: ${key}`);
    }
    return join(this.root, ...key.split('/'));
  }

  /**
   * Objects are immutable and keys name their content, so a key that exists already holds these bytes:
   * written by an earlier put of this process (durable, or still in flight and joined here). A file
   * left half-written by a crash is never referenced by the index and is removed by the start-up sweep
   * before anything is served, so writing straight to the final name is safe.
   */
  put(key: string, data: Uint8Array): Promise<void> {
    return this.once(key, () => this.write(key, data));
  }

  /**
   * A staged file becomes the object by a hard link when it is on this file system (no copy, however large),
   * by a copy otherwise; then flushed like any put.
   */
  putFile(key: string, path: string): Promise<void> {
    return this.once(key, () => this.link(key, path));
  }

  private once(key: string, write: () => Promise<void>): Promise<void> {
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = write().finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async link(key: string, source: string): Promise<void> {
    const target = this.path(key);
    const dir = await this.directoryOf(target);
    try {
      await link(source, target);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return;
      if (code !== 'EXDEV') throw e;
      try {
        await copyFile(source, target, constants.COPYFILE_EXCL);
      } catch (copyError) {
        if ((copyError as NodeJS.ErrnoException).code === 'EEXIST') return;
        throw copyError;
      }
    }
    const file = await open(target, 'r');
    try {
      await file.chmod(0o644);
      await file.datasync();
    } finally {
      await file.close();
    }
    await this.dirSync(dir).sync();
  }

  private async directoryOf(target: string): Promise<string> {
    const dir = dirname(target);
    if (!this.knownDirs.has(dir)) {
      const created = await mkdir(dir, { recursive: true });
      // A new directory is durable once its parent is synced, up to the first one that existed.
      for (let d = dir; created && d.length >= created.length; d = dirname(d)) await this.dirSync(dirname(d)).sync();
      this.knownDirs.add(dir);
    }
    return dir;
  }

  private async write(key: string, data: Uint8Array): Promise<void> {
    const target = this.path(key);
    const dir = await this.directoryOf(target);
    let file;
    try {
      file = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return;
      throw e;
    }
    try {
      await file.writeFile(data);
      await file.datasync();
    } finally {
      await file.close();
    }
    await this.dirSync(dir).sync();
  }

  /** Renames into a directory become durable with a directory fsync, shared by concurrent puts. */
  private dirSync(dir: string): GroupFsync {
    let s = this.dirSyncs.get(dir);
    if (!s) {
      s = new GroupFsync(dir);
      this.dirSyncs.set(dir, s);
    }
    return s;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const file = await open(this.path(key), 'r');
      try {
        return await file.readFile();
      } finally {
        await file.close();
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async *stream(key: string): AsyncIterable<Uint8Array> {
    yield* createReadStream(this.path(key), { highWaterMark: STREAM_CHUNK });
  }

  async getRanges(key: string, ranges: ByteRange[]): Promise<Uint8Array[]> {
    const file = await open(this.path(key), 'r');
    try {
      return await Promise.all(
        ranges.map(async (r) => {
          const buffer = Buffer.allocUnsafe(r.length);
          const { bytesRead } = await file.read(buffer, 0, r.length, r.offset);
          if (bytesRead !== r.length) throw new Error(`blob ${key} is shorter than its recorded frame ranges`);
          return buffer;
        }),
      );
    } finally {
      await file.close();
    }
  }

  async delete(keys: string[]): Promise<void> {
    await Promise.all(keys.map((k) => rm(this.path(k), { force: true })));
  }

  async *list(prefix: string): AsyncIterable<ListedBlob> {
    const start = join(this.root, ...prefix.split('/').filter(Boolean));
    try {
      await stat(start);
    } catch {
      return;
    }
    for (const entry of await readdir(start, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const full = join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
      const { mtime } = await stat(full);
      yield { key: relative(this.root, full).split(sep).join('/'), modifiedAt: mtime };
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.dirSyncs.values()].map((s) => s.close()));
    this.dirSyncs.clear();
  }
}
