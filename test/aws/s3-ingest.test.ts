// Bulk import through S3: files dropped under ingest/ arrive as S3 event notifications on SQS and are
// stored by the same code as STOW-RS; refused files move to ingest-failed/ with their reason; transient
// errors are retried per message; a redelivered message imports nothing twice.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { handleIngestEvent, s3DropZone } from '../../lambdas/aws/handlers/s3-ingest.js';
import { readInstance } from '../../lambdas/dicom/instance.js';
import { createAwsStorage } from '../../lambdas/storage/aws/create.js';
import type { ArchiveStorage } from '../../lambdas/storage/ports.js';
import { injectFaults, type FaultCounter } from '../helpers/fault-injection.js';
import { createAuditTable, createIndexTable } from '../helpers/index-table.js';
import { sampleBytes } from '../helpers/samples.js';
import { emulatorClients } from '../helpers/aws-emulators.js';

const FILES = ['pydicom-data/693_UNCI.dcm', 'dicomParser/CT1_UNC.fragmented_bot_jpeg_ls.80.dcm', 'pydicom-data/emri_small_RLE.dcm'];
const options = { duplicatePolicy: 'reject' as const, maxInstanceBytes: 64 * 1024 * 1024 };

function s3Notification(bucket: string, keys: string[], n: number): SQSEvent['Records'][number] {
  const body = {
    Records: keys.map((key) => ({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      eventTime: new Date().toISOString(),
      eventName: 'ObjectCreated:Put',
      s3: { s3SchemaVersion: '1.0', bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` }, object: { key: encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+'), size: 1 } },
    })),
  };
  return { messageId: `m${n}`, receiptHandle: `r${n}`, body: JSON.stringify(body), attributes: {} as never, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:ingest', awsRegion: 'us-east-1' };
}

describe('bulk import from S3', () => {
  let s3: S3Client;
  let storage: ArchiveStorage;
  let bucket: string;
  const counter: FaultCounter = { injected: 0, afterSuccess: 0, enabled: false };
  let dynamodb: DynamoDBClient;
  beforeAll(async () => {
    const fauxqs = inject('fauxqsEndpoint');
    const clients = emulatorClients({ fauxqs, dynamodb: inject('dynamoDbEndpoint') });
    s3 = clients.s3;
    const sqs = clients.sqs;
    // No SDK retries on the index: the injected fault must reach the import.
    dynamodb = emulatorClients({ fauxqs, dynamodb: inject('dynamoDbEndpoint') }, { maxAttempts: 1 }).dynamodb;
    bucket = `ingest-${process.pid}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const queue = await sqs.send(new CreateQueueCommand({ QueueName: bucket }));
    injectFaults(dynamodb, { rate: 1, seed: 5 }, counter);
    storage = createAwsStorage({ bucket, table: await createIndexTable(dynamodb), eventsQueueUrl: queue.QueueUrl!, auditTable: await createAuditTable(clients.dynamodb) }, { s3, sqs, dynamodb });
  });
  afterAll(() => s3?.destroy());

  const keysUnder = async (prefix: string) => ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!).sort();

  it('imports dropped files, refuses what is not DICOM with a reason, and retries transient failures', async () => {
    const keys = FILES.map((f, i) => `ingest/batch 1/file ${i}.dcm`);
    for (const [i, f] of FILES.entries()) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: keys[i], Body: sampleBytes(f) }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'ingest/notes.txt', Body: 'not an image' }));
    const zone = s3DropZone(s3, bucket);

    // The index is unreachable for the first message: it is reported for redelivery and its file stays.
    counter.enabled = true;
    const first = await handleIngestEvent({ Records: [s3Notification(bucket, [keys[0]], 1)] }, storage, zone, options);
    counter.enabled = false;
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
    expect(await keysUnder('ingest/')).toContain(keys[0]);

    const event: SQSEvent = { Records: [s3Notification(bucket, [keys[0]], 1), s3Notification(bucket, [keys[1], keys[2]], 2), s3Notification(bucket, ['ingest/notes.txt'], 3)] };
    expect(await handleIngestEvent(event, storage, zone, options)).toEqual({ batchItemFailures: [] });
    expect(await keysUnder('ingest/')).toEqual([]);
    expect(await keysUnder('ingest-failed/')).toEqual(['ingest-failed/notes.txt', 'ingest-failed/notes.txt.reason.txt']);
    const reason = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'ingest-failed/notes.txt.reason.txt' }))).Body!.transformToString();
    expect(reason).toMatch(/^FailureReason C000: not a storable DICOM instance/);
    for (const f of FILES) {
      const i = readInstance(sampleBytes(f));
      const stored = await storage.index.listInstances({ studyInstanceUID: i.studyInstanceUID, seriesInstanceUID: i.seriesInstanceUID, sopInstanceUID: i.sopInstanceUID });
      expect(stored, f).toHaveLength(1);
    }

    // Redelivery of everything: the files are gone, nothing is stored again, nothing fails.
    expect(await handleIngestEvent(event, storage, zone, options)).toEqual({ batchItemFailures: [] });
    const originals = await keysUnder('originals/');
    expect(originals).toHaveLength(FILES.length);
    expect(await handleIngestEvent({ Records: [{ ...s3Notification(bucket, [], 9), body: '{"Event":"s3:TestEvent"}' }] }, storage, zone, options)).toEqual({ batchItemFailures: [] });
    // A message that is no notification at all is handed back to SQS, which dead-letters it after the redrive limit.
    expect(await handleIngestEvent({ Records: [{ ...s3Notification(bucket, [], 10), body: 'garbage' }] }, storage, zone, options)).toEqual({ batchItemFailures: [{ itemIdentifier: 'm10' }] });
  });
});
