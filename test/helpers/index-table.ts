// Creates the archive's index and audit tables in DynamoDB Local with the schemas the CDK app deploys.
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AUDIT_TABLE_SCHEMA } from '../../lambdas/storage/aws/dynamodb-audit-log.js';
import { INDEX_TABLE_SCHEMA } from '../../lambdas/storage/aws/dynamodb-index.js';

let tables = 0;
export async function createIndexTable(client: DynamoDBClient): Promise<string> {
  const name = `archive-index-${process.pid}-${++tables}`;
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: INDEX_TABLE_SCHEMA.keySchema,
      AttributeDefinitions: INDEX_TABLE_SCHEMA.attributes,
      GlobalSecondaryIndexes: INDEX_TABLE_SCHEMA.indexes,
    }),
  );
  return name;
}

/** The audit trail's table, as the CDK app deploys it (with its stream, which the locked-bucket copy reads). */
export async function createAuditTable(client: DynamoDBClient): Promise<string> {
  const name = `archive-audit-${process.pid}-${++tables}`;
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: AUDIT_TABLE_SCHEMA.keySchema,
      AttributeDefinitions: AUDIT_TABLE_SCHEMA.attributes,
      GlobalSecondaryIndexes: AUDIT_TABLE_SCHEMA.indexes,
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  return name;
}
