// Bulk import on AWS: S3 announces every object created under ingest/ to an SQS queue, and this function
// imports them (lambdas/ingest/bulk-import.ts). Messages whose import hit a transient error are reported
// as batch item failures, so SQS redelivers only those and dead-letters them after the redrive limit.
import { DeleteObjectCommand, GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SQSBatchResponse, SQSEvent, S3Event } from 'aws-lambda';
import { configFromEnv } from '../../dicomweb/config.js';
import { importObject, type DropZone, type ImportOptions, type ImportOutcome } from '../../ingest/bulk-import.js';
import { awsStorageSettingsFromEnv, createAwsStorage, defaultAwsClients } from '../../storage/aws/create.js';
import type { ArchiveStorage } from '../../storage/ports.js';

export function s3DropZone(s3: S3Client, bucket: string): DropZone {
  return {
    async get(key) {
      try {
        const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return await res.Body!.transformToByteArray();
      } catch (e) {
        if (e instanceof NoSuchKey || (e as { name?: string }).name === 'NoSuchKey') return undefined;
        throw e;
      }
    },
    async put(key, bytes, contentType) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentType: contentType }));
    },
    async delete(key) {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },
  };
}

/** Object keys in S3 event notifications are URL-encoded, with "+" for spaces. */
const objectKey = (encoded: string) => decodeURIComponent(encoded.replace(/\+/g, ' '));

export async function handleIngestEvent(event: SQSEvent, storage: ArchiveStorage, zone: DropZone, options: ImportOptions): Promise<SQSBatchResponse> {
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const message of event.Records) {
    let notification: Partial<S3Event> & { Event?: string };
    try {
      notification = JSON.parse(message.body) as Partial<S3Event> & { Event?: string };
    } catch {
      console.error(JSON.stringify({ level: 'error', message: 'ingest message is not JSON; dropped', messageId: message.messageId }));
      continue;
    }
    if (notification.Event === 's3:TestEvent') continue; // sent once when the notification is configured
    try {
      const outcomes: ImportOutcome[] = [];
      for (const record of notification.Records ?? []) {
        if (!record.eventName?.startsWith('ObjectCreated:')) continue;
        outcomes.push(await importObject(storage, zone, objectKey(record.s3.object.key), options));
      }
      for (const o of outcomes) console.log(JSON.stringify({ level: o.result === 'refused' ? 'warn' : 'info', message: 'ingest', ...o }));
    } catch (e) {
      console.error(JSON.stringify({ level: 'error', message: 'ingest failed; the message will be redelivered', messageId: message.messageId, error: String(e) }));
      batchItemFailures.push({ itemIdentifier: message.messageId });
    }
  }
  return { batchItemFailures };
}

let cached: { storage: ArchiveStorage; zone: DropZone; options: ImportOptions } | undefined;
export const handler = (event: SQSEvent): Promise<SQSBatchResponse> => {
  if (!cached) {
    const clients = defaultAwsClients();
    const settings = awsStorageSettingsFromEnv();
    const config = configFromEnv();
    cached = {
      storage: createAwsStorage(settings, clients),
      zone: s3DropZone(clients.s3, settings.bucket),
      options: { duplicatePolicy: config.duplicatePolicy, maxInstanceBytes: config.maxInstanceBytes },
    };
  }
  return handleIngestEvent(event, cached.storage, cached.zone, cached.options);
};
