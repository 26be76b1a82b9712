// One contract, every BlobStore: the local file store and the S3 store (against an S3 emulator).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3BlobStore } from '../../lambdas/storage/aws/s3-blob-store.js';
import { FsBlobStore } from '../../lambdas/storage/local/fs-blob-store.js';
import type { BlobStore } from '../../lambdas/storage/ports.js';
import { startAwsEmulators, type AwsEmulators } from '../helpers/aws-emulators.js';

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) % 251);

function contract(name: string, open: () => Promise<{ store: BlobStore; cleanup(): Promise<void> }>) {
  describe(`BlobStore contract: ${name}`, () => {
    let store: BlobStore;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ store, cleanup } = await open());
    });
    afterAll(async () => {
      await store?.close();
      await cleanup?.();
    });

    it('returns what was put, and nothing for an unknown key', async () => {
      const data = bytes(70_000);
      await store.put('originals/ab/one.dcm', data);
      expect(Buffer.from((await store.get('originals/ab/one.dcm'))!).equals(Buffer.from(data))).toBe(true);
      expect(await store.get('originals/ab/none.dcm')).toBeUndefined();
    });

    it('reads byte ranges in order', async () => {
      const data = bytes(100_000, 7);
      await store.put('originals/cd/ranges.dcm', data);
      const [a, b, c] = await store.getRanges('originals/cd/ranges.dcm', [
        { offset: 0, length: 10 },
        { offset: 99_990, length: 10 },
        { offset: 5_000, length: 20_000 },
      ]);
      expect(Buffer.from(a).equals(Buffer.from(data.subarray(0, 10)))).toBe(true);
      expect(Buffer.from(b).equals(Buffer.from(data.subarray(99_990)))).toBe(true);
      expect(Buffer.from(c).equals(Buffer.from(data.subarray(5_000, 25_000)))).toBe(true);
      await expect(store.getRanges('originals/cd/ranges.dcm', [{ offset: 99_000, length: 5_000 }])).rejects.toThrow();
    });

    it('keeps objects larger than one upload part whole', async () => {
      const data = bytes(20 * 1024 * 1024, 3);
      await store.put('originals/ef/large.dcm', data);
      const back = (await store.get('originals/ef/large.dcm'))!;
      expect(back.length).toBe(data.length);
      expect(Buffer.from(back).equals(Buffer.from(data))).toBe(true);
    });

    it('stores a file without loading it, larger than one upload part, and leaves the file to its owner', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'put-file-'));
      try {
        const data = bytes(20 * 1024 * 1024 + 17, 5);
        const path = join(dir, 'staged.part');
        writeFileSync(path, data);
        await store.putFile('originals/9a/from-file.dcm', path);
        await store.putFile('originals/9a/from-file.dcm', path); // again: the same object
        expect(Buffer.from((await store.get('originals/9a/from-file.dcm'))!).equals(Buffer.from(data))).toBe(true);
        const [range] = await store.getRanges('originals/9a/from-file.dcm', [{ offset: 20 * 1024 * 1024, length: 17 }]);
        expect(Buffer.from(range).equals(Buffer.from(data.subarray(20 * 1024 * 1024)))).toBe(true);
        expect(existsSync(path)).toBe(true);
        const pieces: Uint8Array[] = [];
        for await (const piece of store.stream('originals/9a/from-file.dcm')) pieces.push(piece);
        expect(pieces.length).toBeGreaterThan(1);
        expect(Buffer.concat(pieces).equals(Buffer.from(data))).toBe(true);
        await expect((async () => {
          for await (const piece of store.stream('originals/9a/none.dcm')) pieces.push(piece);
        })()).rejects.toThrow();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('stores the same key twice as one object (keys name their content)', async () => {
      const data = bytes(1000, 9);
      await Promise.all([store.put('originals/12/same.dcm', data), store.put('originals/12/same.dcm', data)]);
      const keys: string[] = [];
      for await (const { key } of store.list('originals/12/')) keys.push(key);
      expect(keys).toEqual(['originals/12/same.dcm']);
    });

    it('lists by prefix and deletes', async () => {
      await store.put('originals/34/a.dcm', bytes(10));
      await store.put('originals/34/b.dcm', bytes(10));
      await store.put('originals/35/c.dcm', bytes(10));
      const listed: string[] = [];
      const before = Date.now() - 60_000;
      for await (const { key, modifiedAt } of store.list('originals/34/')) {
        listed.push(key);
        // When each was written, for sweeps that must spare stores in flight.
        expect(modifiedAt.getTime()).toBeGreaterThan(before);
        expect(modifiedAt.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
      }
      expect(listed.sort()).toEqual(['originals/34/a.dcm', 'originals/34/b.dcm']);
      await store.delete(['originals/34/a.dcm', 'originals/34/missing.dcm']);
      expect(await store.get('originals/34/a.dcm')).toBeUndefined();
      expect(await store.get('originals/34/b.dcm')).toBeDefined();
    });
  });
}

contract('local files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'blobs-'));
  return { store: new FsBlobStore(dir), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

contract('S3 (fauxqs emulator)', async () => {
  const aws: AwsEmulators = await startAwsEmulators();
  aws.server.createBucket('archive');
  return { store: new S3BlobStore(aws.s3, 'archive'), cleanup: () => aws.stop() };
});
