// The AI pipeline on AWS: the same pipeline code as local mode, driven by Lambda event sources.
//   archive events queue ─► events function ─► AI state (DynamoDB) + a delayed "look again" message
//   readiness queue (+ a 5-minute schedule) ─► readiness function ─► one SQS FIFO queue per analyser
//   analyser queue ─► that analyser's worker function ─► SR/SEG stored into the archive, state updated
// Each analyser has its own queue, dead-letter queue, function (memory, concurrency, logs, alarms) and
// CloudWatch metrics; the /ai JSON API is one more function behind the archive's API Gateway.
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as eventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { join } from 'node:path';
import { BUILT_IN_ANALYSER_IDS, MODEL_ANALYSER_IDS, PIXEL_ANALYSER_IDS, type BuiltInAnalyserId } from '../../lambdas/ai/analysers/built-in-ids.js';
import { AI_STATE_TABLE_SCHEMA } from '../../lambdas/storage/aws/dynamodb-ai-state.js';
import { archiveArnInFindings } from './archive-access.js';
import { readWriteAccess } from './archive-access.js';
import { ArchiveFunction } from './archive-function.js';
import { codecModules } from './codec-modules.js';
import type { ArchiveNames } from './names.js';
import { protectedTable } from './protected-table.js';
import type { ArchiveStorage } from './archive-storage.js';
import type { DicomWebApi } from './dicomweb-api.js';

export interface AiPipelineProps {
  storage: ArchiveStorage;
  api: DicomWebApi;
  /** A study is analysed once no instance has arrived for this long. */
  quietPeriodSeconds: number;
  /** Most concurrent executions of each analyser's worker. */
  workerConcurrency: number;
  /** Ages of the storage tiers, so that the missing-priors analyser knows where a prior sits. */
  infrequentAccessAfterDays: number;
  archiveAfterDays: number;
  drRegion?: string;
  /** A recovery in the DR region: the state table is the primary's replica here. */
  restore?: boolean;
  names: ArchiveNames;
  /** DIMSE forwarding: the events function, the events queue's consumer, queues what the rules match. */
  forwarding?: { queue: sqs.IQueue; deadLetters: sqs.IQueue; rules: string; peers: string };
}

/** Attempts per job before it is dead-lettered with its reason (the pipeline's own count). */
const MAX_ATTEMPTS = 3;
const WORKER_TIMEOUT = Duration.minutes(10);
/** Image-based analysers hold a volume in memory; memory also buys CPU on Lambda. */
const WORKER_MEMORY_MB: Record<BuiltInAnalyserId, number> = {
  'missing-priors': 1024,
  'protocol-check': 1024,
  'threshold-segmentation': 3008,
  'image-noise': 2048,
  triage: 1024,
};
/** The shipped model, which every function that builds the pipeline registers in the model store. */
export const SHIPPED_MODEL_FILES = ['lambdas/ai/models/image-noise.onnx'];
/** onnxruntime-web's WebAssembly build (14 MB), for the workers of the analysers that run a model. */
export const MODEL_RUNTIME_FILES = ['node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.mjs', 'node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm'];

export interface AnalyserResources {
  id: BuiltInAnalyserId;
  queue: sqs.Queue;
  deadLetters: sqs.Queue;
  worker: lambda.Function;
}

export class AiPipeline extends Construct {
  readonly state: dynamodb.ITableV2;
  readonly readinessQueue: sqs.Queue;
  readonly readinessDeadLetters: sqs.Queue;
  readonly eventsFunction: lambda.Function;
  readonly readinessFunction: lambda.Function;
  readonly apiFunction: lambda.Function;
  readonly analysers: AnalyserResources[] = [];

  constructor(scope: Construct, id: string, props: AiPipelineProps) {
    super(scope, id);
    const { storage } = props;
    const stack = Stack.of(this);
    // Results, reader feedback and the registry's change log are records worth keeping through a region's loss.
    this.state = props.restore
      ? dynamodb.TableV2.fromTableName(this, 'State', props.names.aiStateTable)
      : protectedTable(this, 'State', { tableName: props.names.aiStateTable, indexes: AI_STATE_TABLE_SCHEMA.indexes, ...(props.drRegion ? { drRegion: props.drRegion } : {}) });

    const queueDefaults = { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: storage.key, enforceSSL: true } as const;
    this.readinessDeadLetters = new sqs.Queue(this, 'ReadinessDeadLetters', { ...queueDefaults, retentionPeriod: Duration.days(14) });
    this.readinessQueue = new sqs.Queue(this, 'Readiness', {
      ...queueDefaults,
      visibilityTimeout: Duration.minutes(10),
      retentionPeriod: Duration.days(1),
      deadLetterQueue: { queue: this.readinessDeadLetters, maxReceiveCount: 5 },
    });
    Validations.of(this.readinessDeadLetters).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This is the dead-letter queue of the readiness queue.' });

    const queues: Record<string, { url: string; deadLetterUrl: string }> = {};
    const analyserQueues: Array<{ id: BuiltInAnalyserId; queue: sqs.Queue; deadLetters: sqs.Queue }> = [];
    for (const analyserId of BUILT_IN_ANALYSER_IDS) {
      const name = pascal(analyserId);
      const deadLetters = new sqs.Queue(this, `${name}DeadLetters`, { ...queueDefaults, fifo: true, retentionPeriod: Duration.days(14) });
      const queue = new sqs.Queue(this, `${name}Jobs`, {
        ...queueDefaults,
        fifo: true,
        // At least the worker's timeout, so that a running job is not delivered twice.
        visibilityTimeout: WORKER_TIMEOUT.plus(Duration.minutes(5)),
        retentionPeriod: Duration.days(14),
        // The pipeline dead-letters a job itself after MAX_ATTEMPTS, with its reason; the redrive is the
        // safety net for a worker that dies (timeout, out of memory) before it can.
        deadLetterQueue: { queue: deadLetters, maxReceiveCount: MAX_ATTEMPTS + 2 },
      });
      Validations.of(deadLetters).acknowledge({ id: 'AwsSolutions-SQS3', reason: `This is the dead-letter queue of the ${analyserId} analyser's job queue.` });
      queues[analyserId] = { url: queue.queueUrl, deadLetterUrl: deadLetters.queueUrl };
      analyserQueues.push({ id: analyserId, queue, deadLetters });
    }

    const environment = {
      AI_STATE_TABLE: this.state.tableName,
      AI_QUEUES: stack.toJsonString(queues),
      AI_READINESS_QUEUE_URL: this.readinessQueue.queueUrl,
      AI_QUIET_PERIOD_SECONDS: String(props.quietPeriodSeconds),
      AI_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      AI_RETRY_BACKOFF_MS: '30000',
      STORAGE_INFREQUENT_ACCESS_AFTER_DAYS: String(props.infrequentAccessAfterDays),
      STORAGE_ARCHIVE_AFTER_DAYS: String(props.archiveAfterDays),
    };
    const stateArns = [this.state.tableArn, `${this.state.tableArn}/index/*`];
    const allJobQueues = analyserQueues.flatMap((q) => [q.queue.queueArn, q.deadLetters.queueArn]);
    const stateAccess = new iam.PolicyStatement({
      actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem'],
      resources: stateArns,
    });
    const modelStore = new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: [storage.archive.arnForObjects('models/*')] });
    const archiveArn = archiveArnInFindings(storage);
    const stateArnInFindings = props.restore
      ? `arn:<AWS::Partition>:dynamodb:${stack.region}:${stack.account}:table/${props.names.aiStateTable}`
      : `<${stack.getLogicalId(this.state.node.defaultChild as dynamodb.CfnGlobalTable)}.Arn>`;
    const acknowledgements = [
      { id: `AwsSolutions-IAM5[Resource::${stateArnInFindings}/index/*]`, reason: 'The AI state table\'s own secondary indexes (collecting, unfinished, worklist, byAnalyser), queried by the pipeline.' },
      { id: `AwsSolutions-IAM5[Resource::${archiveArn}/models/*]`, reason: 'Model files are content-addressed (models/<sha256>.onnx); the prefix is the narrowest scope.' },
    ];
    const aiFunction = (
      fid: string,
      entry: string,
      description: string,
      options: { memorySize: number; timeout: Duration; reservedConcurrency: number; statements: iam.PolicyStatement[]; extra?: Record<string, string>; shippedModel?: boolean; modelRuntime?: boolean; imageCodecs?: boolean },
    ) =>
      new ArchiveFunction(this, fid, {
        access: readWriteAccess(storage),
        entry,
        description,
        memorySize: options.memorySize,
        timeout: options.timeout,
        reservedConcurrency: options.reservedConcurrency,
        environment: { ...environment, ...options.extra },
        statements: options.statements,
        acknowledgements,
        assetFiles: [...(options.shippedModel ? SHIPPED_MODEL_FILES : []), ...(options.modelRuntime ? MODEL_RUNTIME_FILES : [])],
        // Compressed frames (JPEG, JPEG-LS, JPEG 2000, RLE…) decode with WebAssembly packages loaded by require().
        ...(options.imageCodecs ? { assetDirectories: () => [join(codecModules(), 'node_modules')] } : {}),
      }).function;

    // Every function that builds the pipeline registers the shipped model (idempotent) and may queue jobs.
    const pipelineStatements = [stateAccess, modelStore, new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: analyserQueues.map((q) => q.queue.queueArn) })];
    this.eventsFunction = aiFunction('Events', 'lambdas/aws/handlers/ai-events.ts', 'AI pipeline: records archive events as study activity', {
      memorySize: 1024,
      timeout: Duration.minutes(1),
      reservedConcurrency: 5,
      statements: [
        ...pipelineStatements,
        new iam.PolicyStatement({ actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'], resources: [storage.events.queueArn] }),
        new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.readinessQueue.queueArn] }),
        ...(props.forwarding ? [new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [props.forwarding.queue.queueArn] })] : []),
      ],
      ...(props.forwarding
        ? {
            extra: {
              DIMSE_FORWARD: props.forwarding.rules,
              DIMSE_PEERS: props.forwarding.peers,
              DIMSE_FORWARD_QUEUE_URL: props.forwarding.queue.queueUrl,
              DIMSE_FORWARD_DEAD_LETTER_URL: props.forwarding.deadLetters.queueUrl,
            },
          }
        : {}),
      shippedModel: true,
    });
    this.eventsFunction.addEventSource(new eventSources.SqsEventSource(storage.events, { batchSize: 100, maxBatchingWindow: Duration.seconds(2), reportBatchItemFailures: true }));

    this.readinessFunction = aiFunction('Dispatch', 'lambdas/aws/handlers/ai-readiness.ts', 'AI pipeline: dispatches studies whose quiet period has passed', {
      memorySize: 1024,
      timeout: Duration.minutes(5),
      reservedConcurrency: 2,
      statements: [...pipelineStatements, new iam.PolicyStatement({ actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'], resources: [this.readinessQueue.queueArn] })],
      shippedModel: true,
    });
    this.readinessFunction.addEventSource(new eventSources.SqsEventSource(this.readinessQueue, { batchSize: 10, maxBatchingWindow: Duration.seconds(1) }));
    new events.Rule(this, 'Schedule', {
      description: 'Safety net of the AI pipeline: quiet studies, lost jobs, drift metrics',
      schedule: events.Schedule.rate(Duration.minutes(5)),
      targets: [new targets.LambdaFunction(this.readinessFunction, { retryAttempts: 2 })],
    });

    for (const { id: analyserId, queue, deadLetters } of analyserQueues) {
      const worker = aiFunction(`${pascal(analyserId)}Worker`, 'lambdas/aws/handlers/ai-worker.ts', `AI analyser ${analyserId}: runs its jobs`, {
        memorySize: WORKER_MEMORY_MB[analyserId],
        timeout: WORKER_TIMEOUT,
        reservedConcurrency: props.workerConcurrency,
        extra: { ANALYSER_ID: analyserId },
        imageCodecs: PIXEL_ANALYSER_IDS.has(analyserId),
        statements: [
          ...pipelineStatements,
          new iam.PolicyStatement({ actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'], resources: [queue.queueArn] }),
          new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [deadLetters.queueArn] }),
        ],
        shippedModel: true,
        modelRuntime: MODEL_ANALYSER_IDS.has(analyserId),
      });
      worker.addEventSource(new eventSources.SqsEventSource(queue, { batchSize: 1, reportBatchItemFailures: true }));
      this.analysers.push({ id: analyserId, queue, deadLetters, worker });
    }

    this.apiFunction = aiFunction('Api', 'lambdas/aws/handlers/ai-api.ts', 'AI pipeline API: worklist, results, feedback, registry, metrics', {
      memorySize: 1024,
      timeout: Duration.seconds(29),
      reservedConcurrency: 20,
      // Dead letters are listed by receiving them with a zero visibility timeout.
      statements: [stateAccess, new iam.PolicyStatement({ actions: ['sqs:ReceiveMessage'], resources: allJobQueues })],
    });
    props.api.addProxy('/ai', this.apiFunction, { GET: 'read', POST: 'feedback', PATCH: 'govern' });

    for (const fn of [this.eventsFunction, this.readinessFunction, ...this.analysers.map((a) => a.worker)]) {
      Validations.of(fn).acknowledge(
        { id: 'HIPAA.Security-LambdaDLQ', reason: 'Invoked by SQS event sources (and a schedule with retries); failed messages go to the queues\' dead-letter queues, which is where a DLQ applies.' },
        { id: 'HIPAA.Security-LambdaInsideVPC', reason: 'The function calls only S3, DynamoDB and SQS over TLS with IAM; it has no VPC resources to reach.' },
      );
    }
    Validations.of(this.apiFunction).acknowledge(
      { id: 'HIPAA.Security-LambdaDLQ', reason: 'API Gateway invokes the function synchronously; a dead-letter queue only applies to asynchronous invocations.' },
      { id: 'HIPAA.Security-LambdaInsideVPC', reason: 'The function calls only DynamoDB and SQS over TLS with IAM; it has no VPC resources to reach.' },
    );
  }
}

const pascal = (id: string) => id.replace(/(^|-)(\w)/g, (_m, _d: string, c: string) => c.toUpperCase());
