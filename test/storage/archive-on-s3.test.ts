// The unchanged DICOMweb application over the AWS storage adapters (S3 originals, SQS events) that
// issue 3 builds on: what is stored comes back byte for byte and every store is announced.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInstance } from '../../lambdas/dicom/instance.js';
import { createDicomWebApp } from '../../lambdas/dicomweb/app.js';
import { S3BlobStore } from '../../lambdas/storage/aws/s3-blob-store.js';
import { SqsEventPublisher } from '../../lambdas/storage/aws/sqs-events.js';
import { SqliteIndex } from '../../lambdas/storage/local/sqlite-index.js';
import { SqliteAuditLog } from '../../lambdas/storage/local/sqlite-audit-log.js';
import { SqliteWorkitemStore } from '../../lambdas/storage/local/sqlite-workitems.js';
import type { ArchiveStorage } from '../../lambdas/storage/ports.js';
import { getMultipart, stow, testConfig } from '../helpers/archive.js';
import { startAwsEmulators, type AwsEmulators } from '../helpers/aws-emulators.js';
import { sampleBytes } from '../helpers/samples.js';
import { serveApp, type ServedApp } from '../helpers/serve.js';

const FILES = ['pydicom-data/693_UNCI.dcm', 'dicomParser/CT1_UNC.fragmented_bot_jpeg_ls.80.dcm', 'orthanc-tests/SCSH32', 'pydicom-data/emri_small_RLE.dcm'];
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('DICOMweb over S3 and SQS', () => {
  let aws: AwsEmulators;
  let storage: ArchiveStorage;
  let server: ServedApp;
  let url: string;
  let dir: string;
  let queueUrl: string;
  beforeAll(async () => {
    aws = await startAwsEmulators();
    aws.server.createBucket('archive');
    ({ queueUrl } = aws.server.createQueue('ingest'));
    dir = mkdtempSync(join(tmpdir(), 'index-'));
    storage = {
      blobs: new S3BlobStore(aws.s3, 'archive'),
      index: new SqliteIndex(join(dir, 'index.sqlite')),
      events: new SqsEventPublisher(aws.sqs, queueUrl),
      workitems: new SqliteWorkitemStore(join(dir, 'workitems.sqlite')),
      audit: new SqliteAuditLog(join(dir, 'audit.sqlite')),
    };
    const app = createDicomWebApp(storage, testConfig());
    server = await serveApp(app);
    url = `${server.origin}/dicomweb`;
  });
  afterAll(async () => {
    await server?.close();
    await storage?.index.close();
    await storage?.workitems.close();
    await aws?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores, announces, retrieves identical bytes and frames, and deletes', async () => {
    expect((await stow(url, FILES.map(sampleBytes))).status).toBe(200);
    const res = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    expect(res.Messages?.length).toBe(FILES.length);
    for (const file of FILES) {
      const i = readInstance(sampleBytes(file));
      const base = `${url}/studies/${i.studyInstanceUID}/series/${i.seriesInstanceUID}/instances/${i.sopInstanceUID}`;
      const { parts } = await getMultipart(base, 'multipart/related; type="application/dicom"; transfer-syntax=*');
      expect(sha(parts[0].body), file).toBe(sha(sampleBytes(file)));
      const frames = await getMultipart(`${base}/frames/1`, 'multipart/related; type="application/octet-stream"; transfer-syntax=*');
      expect(frames.status, file).toBe(200);
    }
    const first = readInstance(sampleBytes(FILES[0]));
    expect((await fetch(`${url}/studies/${first.studyInstanceUID}`, { method: 'DELETE' })).status).toBe(204);
    const keys: string[] = [];
    for await (const { key } of storage.blobs.list('originals/')) keys.push(key);
    expect(keys).toHaveLength(FILES.length - 1);
  });
});
