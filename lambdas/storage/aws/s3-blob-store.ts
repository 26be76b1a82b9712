// BlobStore on Amazon S3. A put resolves once S3 has acknowledged the object (durable across AZs);
// large objects go up in parts. Keys are content-addressed, so writing one again is harmless.
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  NoSuchKey,
  S3Client,
  paginateListObjectsV2,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { ByteRange } from '../../dicom/frames.js';
import type { BlobStore, ListedBlob } from '../ports.js';

/** Objects above this size are uploaded in parts (S3 allows 5 GiB in one PUT; parts keep memory and retries small). */
const PART_SIZE = 8 * 1024 * 1024;

export class S3BlobStore implements BlobStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    /** Whether closing the store releases the client (one made for this store alone). */
    private readonly ownsClient = false,
  ) {}

  async put(key: string, data: Uint8Array): Promise<void> {
    await this.upload(key, data);
  }

  /** A multipart upload read from the file as it goes: at most queueSize parts in memory. */
  async putFile(key: string, path: string): Promise<void> {
    const body = createReadStream(path, { highWaterMark: 1024 * 1024 });
    try {
      await this.upload(key, body);
    } finally {
      body.destroy();
    }
  }

  private async upload(key: string, body: Uint8Array | Readable): Promise<void> {
    await new Upload({
      client: this.s3,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/dicom' },
      partSize: PART_SIZE,
      queueSize: 4,
    }).done();
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await res.Body!.transformToByteArray();
    } catch (e) {
      if (e instanceof NoSuchKey || (e as { name?: string }).name === 'NoSuchKey') return undefined;
      throw e;
    }
  }

  async *stream(key: string): AsyncIterable<Uint8Array> {
    const res = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    // In Node the SDK's body is a Readable: read as it is consumed.
    yield* res.Body as Readable;
  }

  async getRanges(key: string, ranges: ByteRange[]): Promise<Uint8Array[]> {
    return Promise.all(
      ranges.map(async (r) => {
        const res = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${r.offset}-${r.offset + r.length - 1}` }));
        const bytes = await res.Body!.transformToByteArray();
        if (bytes.length !== r.length) throw new Error(`object ${key} is shorter than its recorded frame ranges`);
        return bytes;
      }),
    );
  }

  async delete(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const res = await this.s3.send(
        new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }),
      );
      if (res.Errors?.length) throw new Error(`S3 could not delete ${res.Errors.length} object(s), first ${res.Errors[0].Key}: ${res.Errors[0].Message}`);
    }
  }

  async *list(prefix: string): AsyncIterable<ListedBlob> {
    for await (const page of paginateListObjectsV2({ client: this.s3 }, { Bucket: this.bucket, Prefix: prefix })) {
      for (const object of page.Contents ?? []) if (object.Key) yield { key: object.Key, modifiedAt: object.LastModified ?? new Date(0) };
    }
  }

  async close(): Promise<void> {
    // A shared client belongs to the process (Lambda reuses it across invocations).
    if (this.ownsClient) this.s3.destroy();
  }
}

/** A store with its own client, for code that loads this module on demand (it then imports only this module). */
export function s3BlobStoreWithClient(bucket: string, config: S3ClientConfig, onClient?: (client: S3Client) => void): S3BlobStore {
  const client = new S3Client(config);
  onClient?.(client);
  return new S3BlobStore(client, bucket, true);
}
