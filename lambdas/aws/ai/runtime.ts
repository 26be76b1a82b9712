// The AI pipeline composed over the AWS adapters, as every AI function builds it once per execution
// environment: archive storage on S3/DynamoDB/SQS, state in DynamoDB, one SQS FIFO queue per analyser,
// the shipped model registered in the archive's model store (S3) and loaded from there, and the
// pipeline's logs and per-analysis metrics going to Powertools.
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Analyser } from '../../ai/analysers/analyser.js';
import { aiConfigFromEnv, type AiConfig } from '../../ai/config.js';
import { composePipeline } from '../../ai/pipeline/compose.js';
import type { AiPipeline, PipelineObserver } from '../../ai/pipeline/pipeline.js';
import type { AnalysisJob } from '../../ai/ports.js';
import { awsStorageSettingsFromEnv, createAwsStorage, defaultAwsClients, type AwsClients, type AwsStorageSettings } from '../../storage/aws/create.js';
import type { ArchiveStorage } from '../../storage/ports.js';
import { DynamoDbAiState } from '../../storage/aws/dynamodb-ai-state.js';
import { SqsWorkQueue } from '../../storage/aws/sqs-work-queue.js';
import { powertoolsLog, type Observability } from '../observability.js';
import { awsAiSettingsFromEnv, type AwsAiSettings } from './settings.js';

export interface AwsAi {
  pipeline: AiPipeline;
  storage: ArchiveStorage;
  state: DynamoDbAiState;
  queue: SqsWorkQueue<AnalysisJob>;
  analysers: Analyser[];
  settings: AwsAiSettings;
  clients: AwsClients;
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
    storage?: AwsStorageSettings;
    ai?: AwsAiSettings;
    config?: AiConfig;
    clients?: AwsClients;
    now?: () => Date;
    /** Replaces or wraps the shipped analysers (tests). */
    analysers?: (defaults: Analyser[]) => Analyser[];
  } = {},
): Promise<AwsAi> {
  const clients = options.clients ?? defaultAwsClients();
  const settings = options.ai ?? awsAiSettingsFromEnv();
  const config = options.config ?? aiConfigFromEnv();
  const storage = createAwsStorage(options.storage ?? awsStorageSettingsFromEnv(), clients);
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
