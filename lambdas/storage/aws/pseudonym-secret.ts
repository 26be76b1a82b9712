// The secret de-identified exports derive replacement UIDs and pseudonyms from, kept in the index table
// (encrypted at rest, replicated to the DR region with it): made once, by whichever task needs it first —
// a conditional put, so two tasks never make two — and read by every later export, which is what lets
// exports of the same patient link up.
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';

const KEY = { pk: 'GOVERNANCE', sk: 'PSEUDONYM-SECRET' };

export async function pseudonymSecret(client: DynamoDBClient, table: string): Promise<Uint8Array> {
  const doc = DynamoDBDocumentClient.from(client);
  const read = async () => (await doc.send(new GetCommand({ TableName: table, Key: KEY, ConsistentRead: true }))).Item?.secret as string | undefined;
  const existing = await read();
  if (existing) return Buffer.from(existing, 'base64');
  try {
    await doc.send(new PutCommand({ TableName: table, Item: { ...KEY, secret: randomBytes(32).toString('base64') }, ConditionExpression: 'attribute_not_exists(pk)' }));
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error; // another task made it first
  }
  return Buffer.from((await read())!, 'base64');
}
