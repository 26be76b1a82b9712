// AWS storage put together: S3 for originals (and metadata too large for an index item), DynamoDB for
// the index and UPS workitems, SQS for archive events, a table of its own for the audit trail. This
// module imports no S3 code, so that a function may load its blob store on first use
// (handlers/dicomweb-api.ts); create.ts builds it from clients.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { ArchiveStorage, BlobStore } from '../ports.js';
import { DynamoDbAuditLog } from './dynamodb-audit-log.js';
import { DynamoDbIndex } from './dynamodb-index.js';
import { DynamoDbWorkitemStore } from './dynamodb-workitems.js';
import { SqsEventPublisher } from './sqs-events.js';

export interface AwsStorageSettings {
  bucket: string;
  table: string;
  eventsQueueUrl: string;
  /** The audit trail's own table (append-only). */
  auditTable: string;
}

/** Retries suited to a request path: adaptive backoff on throttling and 5xx. */
export const REQUEST_PATH_RETRIES = { maxAttempts: 6, retryMode: 'adaptive' as const };

export function composeAwsStorage(settings: AwsStorageSettings, blobs: BlobStore, dynamodb: DynamoDBClient, sqs: SQSClient): ArchiveStorage {
  return {
    blobs,
    index: new DynamoDbIndex(dynamodb, settings.table, blobs),
    events: new SqsEventPublisher(sqs, settings.eventsQueueUrl),
    workitems: new DynamoDbWorkitemStore(dynamodb, settings.table),
    audit: new DynamoDbAuditLog(dynamodb, settings.auditTable),
  };
}

export function awsStorageSettingsFromEnv(): AwsStorageSettings {
  const need = (name: string): string => {
    const v = process.env[name]?.trim();
    if (!v) throw new Error(`${name} is not set; the CDK app sets it on every function`);
    return v;
  };
  return { bucket: need('ARCHIVE_BUCKET'), table: need('INDEX_TABLE'), eventsQueueUrl: need('EVENTS_QUEUE_URL'), auditTable: need('AUDIT_TABLE') };
}
