// The disaster-recovery region's read API behind API Gateway: replica/app.ts over the replica bucket
// (S3) and the index table's replica (DynamoDB) in this region, tokens checked against the copy of the
// user pool's keys that the index table's replica holds. Searches and token checks need DynamoDB only;
// S3 loads with the first request that reads an object, as in the primary's API function.
// Deployed by lib/constructs/replica-read-api.ts.
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { configFromEnv } from '../../dicomweb/config.js';
import { DynamoDbAuditLog } from '../../storage/aws/dynamodb-audit-log.js';
import { DynamoDbIndex } from '../../storage/aws/dynamodb-index.js';
import { DynamoDbWorkitemStore } from '../../storage/aws/dynamodb-workitems.js';
import { REQUEST_PATH_RETRIES } from '../../storage/aws/compose.js';
import type { ArchiveStorage } from '../../storage/ports.js';
import { indexTableTokenKeys, storedKeysVerifier, type TokenKeysStore } from '../auth/token-keys.js';
import { observability, powertoolsLog } from '../observability.js';
import { createReplicaApp, noEvents } from '../replica/app.js';
import { s3OnFirstUse } from '../../storage/aws/s3-on-first-use.js';
import { apiGatewayHandlerFor, type ApiHandler } from './dicomweb-api.js';

export function replicaStorage(
  settings: { bucket: string; table: string; auditTable: string },
  clientConfig: { s3?: S3ClientConfig; dynamodb?: DynamoDBClientConfig } = {},
): { storage: ArchiveStorage; tokenKeys: TokenKeysStore } {
  const blobs = s3OnFirstUse(settings.bucket, clientConfig.s3);
  const dynamodb = new DynamoDBClient({ ...REQUEST_PATH_RETRIES, ...clientConfig.dynamodb });
  return {
    storage: {
      blobs,
      index: new DynamoDbIndex(dynamodb, settings.table, blobs),
      events: noEvents,
      workitems: new DynamoDbWorkitemStore(dynamodb, settings.table),
      // The audit table is a global table: this region's replica takes the records of reads made here.
      audit: new DynamoDbAuditLog(dynamodb, settings.auditTable),
    },
    tokenKeys: indexTableTokenKeys(dynamodb, settings.table),
  };
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
    const { storage, tokenKeys } = replicaStorage({ bucket: need('ARCHIVE_BUCKET'), table: need('INDEX_TABLE'), auditTable: need('AUDIT_TABLE') });
    cached = apiGatewayHandlerFor(createReplicaApp(storage, configFromEnv(), storedKeysVerifier(tokenKeys), powertoolsLog(logger)));
    metrics.captureColdStartMetric();
  }
  return cached(event, context);
};
