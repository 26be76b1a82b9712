// The AWS storage trio: S3 for originals (and metadata too large for an index item), DynamoDB for the
// index, SQS for archive events.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { ArchiveStorage } from '../ports.js';
import { DynamoDbIndex } from './dynamodb-index.js';
import { S3BlobStore } from './s3-blob-store.js';
import { SqsEventPublisher } from './sqs-events.js';

export interface AwsStorageSettings {
  bucket: string;
  table: string;
  eventsQueueUrl: string;
}

export interface AwsClients {
  s3: S3Client;
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
}

/** SDK clients with retries suited to a request path: adaptive backoff on throttling and 5xx. */
export function defaultAwsClients(): AwsClients {
  const common = { maxAttempts: 6, retryMode: 'adaptive' as const };
  return { s3: new S3Client(common), dynamodb: new DynamoDBClient(common), sqs: new SQSClient(common) };
}

export function createAwsStorage(settings: AwsStorageSettings, clients: AwsClients = defaultAwsClients()): ArchiveStorage {
  const blobs = new S3BlobStore(clients.s3, settings.bucket);
  return {
    blobs,
    index: new DynamoDbIndex(clients.dynamodb, settings.table, blobs),
    events: new SqsEventPublisher(clients.sqs, settings.eventsQueueUrl),
  };
}

export function awsStorageSettingsFromEnv(): AwsStorageSettings {
  const need = (name: string): string => {
    const v = process.env[name]?.trim();
    if (!v) throw new Error(`${name} is not set; the CDK app sets it on every function`);
    return v;
  };
  return { bucket: need('ARCHIVE_BUCKET'), table: need('INDEX_TABLE'), eventsQueueUrl: need('EVENTS_QUEUE_URL') };
}
