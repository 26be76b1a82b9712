// Scheduled in the primary region when there is a DR region: copies the user pool's public signing keys
// into the archive bucket, from where S3 replication carries them to the replica's read API
// (auth/token-keys.ts). A failure is logged and rethrown, so the function's error alarm sees it; the
// previous copy stays in place.
import type { Context } from 'aws-lambda';
import { s3BlobStoreWithClient } from '../../storage/aws/s3-blob-store.js';
import { snapshotTokenKeys } from '../auth/token-keys.js';
import { observability } from '../observability.js';

const { logger } = observability('token-keys-snapshot');

export const handler = async (_event: unknown, context: Context): Promise<{ changed: boolean; keyIds: string[] }> => {
  logger.addContext(context);
  const userPoolId = process.env.USER_POOL_ID?.trim();
  const bucket = process.env.ARCHIVE_BUCKET?.trim();
  if (!userPoolId || !bucket) throw new Error('USER_POOL_ID and ARCHIVE_BUCKET must be set; the CDK app sets both');
  const blobs = s3BlobStoreWithClient(bucket, { maxAttempts: 6 });
  try {
    const result = await snapshotTokenKeys(userPoolId, blobs);
    logger.info(result.changed ? 'stored a new copy of the user pool\'s signing keys' : 'the stored signing keys are current', { ...result, userPoolId });
    return result;
  } catch (e) {
    logger.error('could not copy the user pool\'s signing keys', { error: e instanceof Error ? e.message : String(e), userPoolId });
    throw e;
  } finally {
    await blobs.close();
  }
};
