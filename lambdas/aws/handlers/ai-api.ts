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
import { configFromEnv } from '../../dicomweb/config.js';
import type { AuditSetup } from '../../governance/audit/http-audit.js';
import { StudyPatients } from '../../governance/audit/study-patients.js';
import { awsStorageSettingsFromEnv, REQUEST_PATH_RETRIES, type AwsStorageSettings } from '../../storage/aws/compose.js';
import { DynamoDbAuditLog } from '../../storage/aws/dynamodb-audit-log.js';
import { DynamoDbIndex } from '../../storage/aws/dynamodb-index.js';
import { s3OnFirstUse } from '../../storage/aws/s3-on-first-use.js';
import { apiGatewayRequester } from '../auth/audit-requester.js';
import { DynamoDbAiState } from '../../storage/aws/dynamodb-ai-state.js';
import { SqsWorkQueue } from '../../storage/aws/sqs-work-queue.js';
import { awsAiSettingsFromEnv, type AwsAiSettings } from '../ai/settings.js';
import type { AwsClients } from '../../storage/aws/create.js';
import type { StructuredLog } from '../../logging.js';
import { observability, powertoolsLog } from '../observability.js';

export type AiApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export const AI_BASE_PATH = '/ai';

/** It needs no S3 client, and does not load one: a cold start does not parse the S3 client's schemas. */
export function createAiApiHandler(settings: AwsAiSettings, clients: Pick<AwsClients, 'dynamodb' | 'sqs'>, log: StructuredLog | undefined, audit: AuditSetup): AiApiHandler {
  const config = aiConfigFromEnv();
  const state = new DynamoDbAiState(clients.dynamodb, settings.stateTable);
  const queue = new SqsWorkQueue<AnalysisJob>(clients.sqs, settings.queues, { maxAttempts: config.maxAttempts, backoffBaseMs: config.retryBackoffMs });
  const app = new Hono().route(AI_BASE_PATH, createAiApp(state, queue, Object.keys(settings.queues), log, audit));
  return handle(app) as unknown as AiApiHandler;
}

/** The audit trail of the API's requests: the archive's audit table, patients looked up in its index (S3 loaded only if ever needed). */
export function aiApiAudit(storageSettings: AwsStorageSettings, dynamodb: DynamoDBClient, sourceID: string): AuditSetup {
  const index = new DynamoDbIndex(dynamodb, storageSettings.table, s3OnFirstUse(storageSettings.bucket));
  return { log: new DynamoDbAuditLog(dynamodb, storageSettings.auditTable), sourceID, requester: apiGatewayRequester, patients: new StudyPatients(index) };
}

const { logger } = observability('ai-api');
let cached: AiApiHandler | undefined;
export const handler: AiApiHandler = (event, context) => {
  logger.addContext(context);
  if (!cached) {
    const dynamodb = new DynamoDBClient(REQUEST_PATH_RETRIES);
    const audit = aiApiAudit(awsStorageSettingsFromEnv(), dynamodb, configFromEnv().auditSourceId);
    cached = createAiApiHandler(awsAiSettingsFromEnv(), { dynamodb, sqs: new SQSClient(REQUEST_PATH_RETRIES) }, powertoolsLog(logger), audit);
  }
  return cached(event, context);
};
