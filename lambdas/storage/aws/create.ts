// The AWS storage trio from SDK clients (see compose.ts).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { ArchiveStorage } from '../ports.js';
import { composeAwsStorage, REQUEST_PATH_RETRIES, type AwsStorageSettings } from './compose.js';
import { S3BlobStore } from './s3-blob-store.js';

export { awsStorageSettingsFromEnv, type AwsStorageSettings } from './compose.js';

export interface AwsClients {
  s3: S3Client;
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
}

/** SDK clients with retries suited to a request path: adaptive backoff on throttling and 5xx. */
export function defaultAwsClients(): AwsClients {
  return { s3: new S3Client(REQUEST_PATH_RETRIES), dynamodb: new DynamoDBClient(REQUEST_PATH_RETRIES), sqs: new SQSClient(REQUEST_PATH_RETRIES) };
}

export function createAwsStorage(settings: AwsStorageSettings, clients: AwsClients = defaultAwsClients()): ArchiveStorage {
  return composeAwsStorage(settings, new S3BlobStore(clients.s3, settings.bucket), clients.dynamodb, clients.sqs);
}
