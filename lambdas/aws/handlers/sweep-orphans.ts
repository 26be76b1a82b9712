// A scheduled sweep of originals that no index entry references: what a store leaves behind when it
// fails between writing the original and committing the index (and its cleanup fails too). Only
// originals last written more than SWEEP_MIN_AGE_HOURS ago are examined, so stores in flight keep theirs.
import type { Context } from 'aws-lambda';
import { sweepOrphans } from '../../dicomweb/store/blob-lifecycle.js';
import { awsStorageSettingsFromEnv, createAwsStorage, defaultAwsClients } from '../../storage/aws/create.js';
import { observability } from '../observability.js';
import { tracedClients } from '../tracing.js';

const { logger } = observability('sweep-orphans');

export const handler = async (_event: unknown, context: Context): Promise<{ examined: number; removed: number }> => {
  logger.addContext(context);
  const hours = Number(process.env.SWEEP_MIN_AGE_HOURS ?? 24);
  if (!Number.isFinite(hours) || hours < 1) throw new Error(`SWEEP_MIN_AGE_HOURS must be at least 1, got "${process.env.SWEEP_MIN_AGE_HOURS}"`);
  const storage = createAwsStorage(awsStorageSettingsFromEnv(), tracedClients('sweep-orphans', defaultAwsClients()));
  const result = await sweepOrphans(storage, { writtenBefore: new Date(Date.now() - hours * 3_600_000) });
  logger.info('swept originals', { ...result, minAgeHours: hours });
  return result;
};
