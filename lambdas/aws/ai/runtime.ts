// The AI pipeline composed over the AWS adapters, as every AI function builds it once per execution
// environment: archive storage on S3/DynamoDB/SQS (given by the function: the workers use S3 from
// their first job, the events and readiness functions load it on first use), state in DynamoDB, one
// SQS FIFO queue per analyser, the shipped model registered in the archive's model store (S3) and
// loaded from there, and the pipeline's logs and per-analysis metrics going to Powertools.
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Analyser } from '../../ai/analysers/analyser.js';
import { aiConfigFromEnv, type AiConfig } from '../../ai/config.js';
import { composePipeline } from '../../ai/pipeline/compose.js';
import type { AiPipeline, PipelineObserver } from '../../ai/pipeline/pipeline.js';
import type { AnalysisJob } from '../../ai/ports.js';
import type { AwsClients } from '../../storage/aws/create.js';
import { awsStorageSettingsFromEnv, composeAwsStorage, REQUEST_PATH_RETRIES } from '../../storage/aws/compose.js';
import { s3OnFirstUse } from '../../storage/aws/s3-on-first-use.js';
import type { ArchiveStorage } from '../../storage/ports.js';
import { DynamoDbAiState } from '../../storage/aws/dynamodb-ai-state.js';
import { SqsWorkQueue } from '../../storage/aws/sqs-work-queue.js';
import { powertoolsLog, type Observability } from '../observability.js';
import { tracedClients } from '../tracing.js';
import { awsAiSettingsFromEnv, type AwsAiSettings } from './settings.js';

/** The clients the pipeline's own state and queues use (the archive's storage brings its own). */
export type AwsAiClients = Pick<AwsClients, 'dynamodb' | 'sqs'>;

/**
 * The archive and clients of the events and readiness functions, traced: DynamoDB and SQS from the
 * start, S3 loaded on first use. They read objects rarely (the model's first registration, metadata
 * too large for an index item), so their cold starts skip the S3 client; the workers, which read
 * instances and write results in every job, build theirs with createAwsStorage.
 */
export function coordinatorStorage(serviceName: string): { storage: ArchiveStorage; clients: AwsAiClients } {
  const clients = tracedClients(serviceName, { dynamodb: new DynamoDBClient(REQUEST_PATH_RETRIES), sqs: new SQSClient(REQUEST_PATH_RETRIES) });
  const settings = awsStorageSettingsFromEnv();
  const blobs = s3OnFirstUse(settings.bucket, {}, (s3) => tracedClients(serviceName, { s3 }));
  return { storage: composeAwsStorage(settings, blobs, clients.dynamodb, clients.sqs), clients };
}

export interface AwsAi {
  pipeline: AiPipeline;
  storage: ArchiveStorage;
  state: DynamoDbAiState;
  queue: SqsWorkQueue<AnalysisJob>;
  analysers: Analyser[];
  settings: AwsAiSettings;
  clients: AwsAiClients;
  config: AiConfig;
}

/** Sends the pipeline's logs to the Logger and one set of metrics per finished analysis, by analyser. */
export function powertoolsObserver({ logger, metrics }: Observability): PipelineObserver {
  return {
    log: powertoolsLog(logger),
    analysisFinished(result) {
      const m = metrics.singleMetric();
      m.addDimension('Analyser', result.analyserId);
      m.addMetric('AnalysisLatency', MetricUnit.Milliseconds, result.latencyMs);
      m.addMetric('AnalysisFailed', MetricUnit.Count, result.status === 'failed' ? 1 : 0);
      m.addMetric('AnalysisNotAnalysed', MetricUnit.Count, result.status === 'not-analysed' ? 1 : 0);
      m.addMetric('AnalysisPositive', MetricUnit.Count, result.positive ? 1 : 0);
    },
  };
}

export async function createAwsAi(
  observability: Observability,
  options: {
    /** The archive (handlers: composeAwsStorage over the function's clients). */
    storage: ArchiveStorage;
    clients: AwsAiClients;
    ai?: AwsAiSettings;
    config?: AiConfig;
    now?: () => Date;
    /** Replaces or wraps the shipped analysers (tests). */
    analysers?: (defaults: Analyser[]) => Analyser[];
  },
): Promise<AwsAi> {
  const { storage, clients } = options;
  const settings = options.ai ?? awsAiSettingsFromEnv();
  const config = options.config ?? aiConfigFromEnv();
  const state = new DynamoDbAiState(clients.dynamodb, settings.stateTable);
  const queue = new SqsWorkQueue<AnalysisJob>(clients.sqs, settings.queues, { maxAttempts: config.maxAttempts, backoffBaseMs: config.retryBackoffMs });
  // The model file ships inside the function's bundle; registering it is idempotent and verifies its hash.
  const { pipeline, analysers } = await composePipeline({
    storage,
    state,
    queue,
    config,
    observer: powertoolsObserver(observability),
    ...(options.analysers ? { analysers: options.analysers } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const unqueued = analysers.filter((a) => !settings.queues[a.id]).map((a) => a.id);
  if (unqueued.length) throw new Error(`AI_QUEUES has no queue for analyser(s) ${unqueued.join(', ')}; deploy the CDK app of this version`);
  return { pipeline, storage, state, queue, analysers, settings, clients, config };
}
