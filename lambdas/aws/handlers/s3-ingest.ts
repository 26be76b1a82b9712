// Bulk import on AWS: S3 announces every object created under ingest/ to an SQS queue, and this function
// imports them (lambdas/ingest/bulk-import.ts). Messages whose import hit a transient error, and messages
// that are not notifications at all, are reported as batch item failures (Powertools' batch processor),
// so SQS redelivers only those and dead-letters them after the redrive limit; the reason is logged.
import { DeleteObjectCommand, GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord, S3Event } from 'aws-lambda';
import { configFromEnv } from '../../dicomweb/config.js';
import { importObject, type DropZone, type ImportOptions } from '../../ingest/bulk-import.js';
import { consoleLog, type StructuredLog } from '../../logging.js';
import { awsStorageSettingsFromEnv, createAwsStorage, defaultAwsClients } from '../../storage/aws/create.js';
import type { ArchiveStorage } from '../../storage/ports.js';
import { observability, powertoolsLog } from '../observability.js';
import { tracedClients } from '../tracing.js';

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

export async function handleIngestEvent(event: SQSEvent, storage: ArchiveStorage, zone: DropZone, options: ImportOptions, log: StructuredLog = consoleLog('bulk-import')): Promise<SQSBatchResponse> {
  const recordHandler = async (message: SQSRecord) => {
    try {
      let notification: Partial<S3Event> & { Event?: string };
      try {
        notification = JSON.parse(message.body) as Partial<S3Event> & { Event?: string };
      } catch {
        throw new Error('the message is not an S3 event notification (not JSON)');
      }
      if (notification.Event === 's3:TestEvent') return; // sent once when the notification is configured
      for (const record of notification.Records ?? []) {
        if (!record.eventName?.startsWith('ObjectCreated:')) continue;
        const outcome = await importObject(storage, zone, objectKey(record.s3.object.key), options);
        log(outcome.result === 'refused' ? 'warn' : 'info', 'ingest', { ...outcome });
      }
    } catch (e) {
      log('error', 'ingest failed; SQS will redeliver the message, then dead-letter it', { messageId: message.messageId, error: String(e) });
      throw e;
    }
  };
  // One message at a time: each may carry instances of up to a gigabyte.
  return processPartialResponse(event, recordHandler, new BatchProcessor(EventType.SQS), { processInParallel: false, throwOnFullBatchFailure: false });
}

const { logger } = observability('bulk-import');
let cached: { storage: ArchiveStorage; zone: DropZone; options: ImportOptions } | undefined;
export const handler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  if (!cached) {
    const clients = tracedClients('bulk-import', defaultAwsClients());
    const settings = awsStorageSettingsFromEnv();
    const config = configFromEnv();
    cached = {
      storage: createAwsStorage(settings, clients),
      zone: s3DropZone(clients.s3, settings.bucket),
      options: { duplicatePolicy: config.duplicatePolicy, maxInstanceBytes: config.maxInstanceBytes },
    };
  }
  return handleIngestEvent(event, cached.storage, cached.zone, cached.options, powertoolsLog(logger));
};
