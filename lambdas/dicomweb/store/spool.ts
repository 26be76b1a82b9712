// Where an arriving instance waits while it arrives: in memory while it is small (most are), in a
// temporary file once it passes a threshold, hashed as it is written, so that a whole-slide image of
// gigabytes is never held in memory. The file is deleted once the instance is stored or refused.
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** An instance written to a temporary file as it arrived. */
export interface StagedFile {
  path: string;
  size: number;
  /** SHA-256 of its bytes, hex. */
  sha256: string;
}

/** The bytes of one arriving instance: whole in memory, or staged in a file. */
export type InstanceSource = { bytes: Uint8Array } | { staged: StagedFile };

export interface SpoolSettings {
  /** Instances up to this size stay in memory; larger ones go to a file. */
  inMemoryBytes: number;
  /** Directory of the temporary files (on the blob store's file system locally, so storing is a link). */
  stagingDir?: string;
}

export class InstanceSpool {
  private chunks: Uint8Array[] = [];
  private size = 0;
  private file?: FileHandle;
  private path?: string;
  private hash?: Hash;

  constructor(private readonly settings: SpoolSettings) {}

  async write(bytes: Uint8Array): Promise<void> {
    this.size += bytes.length;
    if (!this.file && this.size <= this.settings.inMemoryBytes) {
      this.chunks.push(bytes);
      return;
    }
    if (!this.file) {
      const dir = this.settings.stagingDir ?? join(tmpdir(), 'cloud-pacs-staging');
      await mkdir(dir, { recursive: true });
      this.path = join(dir, `${randomUUID()}.part`);
      this.file = await open(this.path, 'wx', 0o600);
      this.hash = createHash('sha256');
      const held = this.chunks;
      this.chunks = [];
      for (const chunk of held) await this.append(chunk);
    }
    await this.append(bytes);
  }

  private async append(bytes: Uint8Array): Promise<void> {
    this.hash!.update(bytes);
    for (let at = 0; at < bytes.length; ) at += (await this.file!.write(bytes, at)).bytesWritten;
  }

  /** The instance as received. A staged file stays until `discard()`. */
  async finish(): Promise<InstanceSource> {
    if (!this.file) {
      const bytes = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
      this.chunks = [];
      return { bytes };
    }
    await this.file.close();
    this.file = undefined;
    return { staged: { path: this.path!, size: this.size, sha256: this.hash!.digest('hex') } };
  }

  /** Removes the temporary file, if any (after the instance is stored or refused, or the request failed). */
  async discard(): Promise<void> {
    this.chunks = [];
    await this.file?.close().catch(() => undefined);
    this.file = undefined;
    if (this.path) await rm(this.path, { force: true });
  }
}

/** Removes temporary files left by a process that stopped while instances were arriving. */
export async function clearStaging(stagingDir: string): Promise<void> {
  await rm(stagingDir, { recursive: true, force: true });
}
