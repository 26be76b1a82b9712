// Creates the AI pipeline's state table in DynamoDB Local with the schema the CDK app will deploy.
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AI_STATE_TABLE_SCHEMA } from '../../lambdas/storage/aws/dynamodb-ai-state.js';

let tables = 0;
export async function createAiStateTable(client: DynamoDBClient): Promise<string> {
  const name = `ai-state-${process.pid}-${++tables}`;
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: AI_STATE_TABLE_SCHEMA.keySchema,
      AttributeDefinitions: AI_STATE_TABLE_SCHEMA.attributes,
      GlobalSecondaryIndexes: AI_STATE_TABLE_SCHEMA.indexes,
    }),
  );
  return name;
}
