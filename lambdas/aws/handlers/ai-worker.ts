// One analyser's worker on AWS (the function is deployed once per analyser, ANALYSER_ID naming it):
// jobs arrive from the analyser's FIFO queue through the SQS event source, one at a time, and run
// through the same AiPipeline.process as in local mode. A job to be retried later is reported as a
// batch item failure, so Lambda leaves it in the queue hidden for its backoff; a job that used its
// attempts is moved to the dead-letter queue by the pipeline, with its reason.
import { SqsFifoPartialProcessorAsync, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Analyser } from '../../ai/analysers/analyser.js';
import { cachedUntilRejected } from '../../cached-until-rejected.js';
import { createAwsAi, type AwsAi } from '../ai/runtime.js';
import { awsStorageSettingsFromEnv, createAwsStorage, defaultAwsClients } from '../../storage/aws/create.js';
import { observability, type Observability } from '../observability.js';
import { tracedClients } from '../tracing.js';

export class RetryLater extends Error {}

export async function handleAnalysisJobs(event: SQSEvent, context: Context, ai: AwsAi, analyser: Analyser, obs: Observability): Promise<SQSBatchResponse> {
  obs.logger.addContext(context);
  const recordHandler = async (record: SQSRecord) => {
    const message = ai.queue.delivered({ body: record.body, receiptHandle: record.receiptHandle, approximateReceiveCount: record.attributes.ApproximateReceiveCount });
    const outcome = await ai.pipeline.process(analyser, message.body, message.attempts, message.receipt);
    if (outcome === 'retry') throw new RetryLater(`attempt ${message.attempts} failed; retried after its backoff`);
  };
  return processPartialResponse(event, recordHandler, new SqsFifoPartialProcessorAsync(), { context, throwOnFullBatchFailure: false });
}

const worker = cachedUntilRejected(async (): Promise<{ ai: AwsAi; analyser: Analyser; obs: Observability }> => {
  const id = process.env.ANALYSER_ID?.trim();
  if (!id) throw new Error('ANALYSER_ID is not set; the CDK app sets it on every worker');
  const obs = observability('ai-worker');
  const clients = tracedClients('ai-worker', defaultAwsClients());
  const ai = await createAwsAi(obs, { storage: createAwsStorage(awsStorageSettingsFromEnv(), clients), clients });
  const analyser = ai.analysers.find((a) => a.id === id);
  if (!analyser) throw new Error(`ANALYSER_ID "${id}" names no installed analyser (${ai.analysers.map((a) => a.id).join(', ')})`);
  return { ai, analyser, obs };
});
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  const { ai, analyser, obs } = await worker();
  return handleAnalysisJobs(event, context, ai, analyser, obs);
};
