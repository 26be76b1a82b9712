// Scheduled in the primary region when there is a DR region: copies the user pool's public signing keys
// into the index table, whose global-table replica carries them to the DR region's read API
// (auth/token-keys.ts). A failure is logged and rethrown, so the function's error alarm sees it; the
// previous copy stays in place.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { indexTableTokenKeys, snapshotTokenKeys } from '../auth/token-keys.js';
import { observability } from '../observability.js';

const { logger } = observability('token-keys-snapshot');

export const handler = async (_event: unknown, context: Context): Promise<{ changed: boolean; keyIds: string[] }> => {
  logger.addContext(context);
  const userPoolId = process.env.USER_POOL_ID?.trim();
  const table = process.env.INDEX_TABLE?.trim();
  if (!userPoolId || !table) throw new Error('USER_POOL_ID and INDEX_TABLE must be set; the CDK app sets both');
  const client = new DynamoDBClient({ maxAttempts: 6 });
  try {
    const result = await snapshotTokenKeys(userPoolId, indexTableTokenKeys(client, table));
    logger.info(result.changed ? 'stored a new copy of the user pool\'s signing keys' : 'the stored signing keys are current', { ...result, userPoolId });
    return result;
  } catch (e) {
    logger.error('could not copy the user pool\'s signing keys', { error: e instanceof Error ? e.message : String(e), userPoolId });
    throw e;
  } finally {
    client.destroy();
  }
};
