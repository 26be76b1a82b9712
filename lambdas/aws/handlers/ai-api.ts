// The AI pipeline's JSON API (worklist, results and feedback, registry, metrics, dead letters) behind
// API Gateway under /ai: the same Hono application as local mode, over DynamoDB and SQS. It loads no
// analyser or model code.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { Hono } from 'hono';
import { handle } from 'hono/aws-lambda';
import { createAiApp } from '../../ai/http/ai-app.js';
import type { AnalysisJob } from '../../ai/ports.js';
import { aiConfigFromEnv } from '../../ai/config.js';
import { REQUEST_PATH_RETRIES } from '../../storage/aws/compose.js';
import { DynamoDbAiState } from '../../storage/aws/dynamodb-ai-state.js';
import { SqsWorkQueue } from '../../storage/aws/sqs-work-queue.js';
import { awsAiSettingsFromEnv, type AwsAiSettings } from '../ai/settings.js';
import type { AwsClients } from '../../storage/aws/create.js';
import type { StructuredLog } from '../../logging.js';
import { observability, powertoolsLog } from '../observability.js';

export type AiApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export const AI_BASE_PATH = '/ai';

/** It needs no S3 client, and does not load one: a cold start does not parse the S3 client's schemas. */
export function createAiApiHandler(settings: AwsAiSettings, clients: Pick<AwsClients, 'dynamodb' | 'sqs'>, log?: StructuredLog): AiApiHandler {
  const config = aiConfigFromEnv();
  const state = new DynamoDbAiState(clients.dynamodb, settings.stateTable);
  const queue = new SqsWorkQueue<AnalysisJob>(clients.sqs, settings.queues, { maxAttempts: config.maxAttempts, backoffBaseMs: config.retryBackoffMs });
  const app = new Hono().route(AI_BASE_PATH, createAiApp(state, queue, Object.keys(settings.queues), log));
  return handle(app) as unknown as AiApiHandler;
}

const { logger } = observability('ai-api');
let cached: AiApiHandler | undefined;
export const handler: AiApiHandler = (event, context) => {
  logger.addContext(context);
  cached ??= createAiApiHandler(awsAiSettingsFromEnv(), { dynamodb: new DynamoDBClient(REQUEST_PATH_RETRIES), sqs: new SQSClient(REQUEST_PATH_RETRIES) }, powertoolsLog(logger));
  return cached(event, context);
};
