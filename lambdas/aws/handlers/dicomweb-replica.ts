// The disaster-recovery region's read API behind API Gateway: replica/app.ts over the replica bucket
// (S3) and the index table's replica (DynamoDB) in this region, tokens checked against the replicated
// copy of the user pool's keys. Deployed by lib/constructs/replica-read-api.ts.
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { configFromEnv } from '../../dicomweb/config.js';
import { DynamoDbIndex } from '../../storage/aws/dynamodb-index.js';
import { REQUEST_PATH_RETRIES } from '../../storage/aws/compose.js';
import { s3BlobStoreWithClient } from '../../storage/aws/s3-blob-store.js';
import type { ArchiveStorage } from '../../storage/ports.js';
import { storedKeysVerifier } from '../auth/token-keys.js';
import { observability, powertoolsLog } from '../observability.js';
import { createReplicaApp, noEvents } from '../replica/app.js';
import { apiGatewayHandlerFor, type ApiHandler } from './dicomweb-api.js';

export function replicaStorage(settings: { bucket: string; table: string }, clientConfig: { s3?: S3ClientConfig; dynamodb?: DynamoDBClientConfig } = {}): ArchiveStorage {
  const blobs = s3BlobStoreWithClient(settings.bucket, { ...REQUEST_PATH_RETRIES, ...clientConfig.s3 });
  return { blobs, index: new DynamoDbIndex(new DynamoDBClient({ ...REQUEST_PATH_RETRIES, ...clientConfig.dynamodb }), settings.table, blobs), events: noEvents };
}

const { logger, metrics } = observability('dicomweb-replica');
let cached: ApiHandler | undefined;
export const handler: ApiHandler = async (event, context) => {
  logger.addContext(context);
  if (!cached) {
    const need = (name: string) => {
      const v = process.env[name]?.trim();
      if (!v) throw new Error(`${name} is not set; the CDK app sets it on the function`);
      return v;
    };
    const storage = replicaStorage({ bucket: need('ARCHIVE_BUCKET'), table: need('INDEX_TABLE') });
    const log = powertoolsLog(logger);
    cached = apiGatewayHandlerFor(createReplicaApp(storage, configFromEnv(), storedKeysVerifier(storage.blobs), log));
    metrics.captureColdStartMetric();
  }
  return cached(event, context);
};
