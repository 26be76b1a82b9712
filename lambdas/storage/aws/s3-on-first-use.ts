// The archive bucket as a blob store whose S3 client is loaded by the first call that needs it. Searches
// (most of a viewer's cold requests) and the AI pipeline's arrival and readiness stages are answered
// from DynamoDB alone; a cold start that does not parse the S3 client's schemas is about a fifth
// shorter (npm run bench:lambda).
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { blobStoreOnFirstUse } from '../blob-store-on-first-use.js';
import type { BlobStore } from '../ports.js';
import { REQUEST_PATH_RETRIES } from './compose.js';

export function s3OnFirstUse(
  bucket: string,
  clientConfig: S3ClientConfig = {},
  /** Called with the client once it exists (to trace its calls). */
  onClient?: (client: S3Client) => void,
): BlobStore {
  return blobStoreOnFirstUse(async () => {
    // Only this module is imported dynamically: importing the SDK package itself would keep every S3 command.
    const { s3BlobStoreWithClient } = await import('./s3-blob-store.js');
    return s3BlobStoreWithClient(bucket, { ...REQUEST_PATH_RETRIES, ...clientConfig }, onClient);
  });
}
