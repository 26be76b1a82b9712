// Entry point of the streaming runtime on ECS Fargate: the DICOMweb application on a Node server over
// S3, DynamoDB and SQS, checking Cognito access tokens itself, and the DIMSE listener when configured.
// Bundled by the CDK app into one file that a stock Node.js image runs (no Docker build).
import { CognitoJwtVerifier } from 'aws-jwt-verify';
import { configFromEnv } from '../../dicomweb/config.js';
import { serveOnNode } from '../../node-server.js';
import { awsStorageSettingsFromEnv, createAwsStorage, defaultAwsClients } from '../../storage/aws/create.js';
import { observability, powertoolsLog } from '../observability.js';
import { createStreamingApp } from './app.js';
import { startAwsDimse } from './dimse.js';
import { startAwsExports } from './exports.js';

const userPoolId = process.env.USER_POOL_ID?.trim();
if (!userPoolId) throw new Error('USER_POOL_ID is not set; the CDK app sets it on the task');
const { logger } = observability('dicomweb-streaming');
const log = powertoolsLog(logger);
const verifier = CognitoJwtVerifier.create({ userPoolId, tokenUse: 'access', clientId: null });
const clients = defaultAwsClients();
const config = configFromEnv();
const storage = createAwsStorage(awsStorageSettingsFromEnv(), clients);
const dimse = await startAwsDimse(storage, config, clients.sqs, log);
const exportsBucket = process.env.EXPORTS_BUCKET?.trim();
const exports = exportsBucket ? startAwsExports(storage, config, { table: awsStorageSettingsFromEnv().table, exportsBucket }, clients, verifier, log) : undefined;
const app = createStreamingApp(dimse?.storage ?? storage, config, verifier, log, { ...(exports ? { exports: exports.app } : {}), ...(dimse?.forwardingApp ? { forwarding: dimse.forwardingApp } : {}) });
const port = Number(process.env.PORT ?? 8080);
const server = serveOnNode(app.fetch, port, '0.0.0.0', () => log('info', 'streaming runtime ready', { port }));
// ECS stops a task with SIGTERM: finish the requests in flight, then exit.
process.on('SIGTERM', () => {
  void dimse?.close();
  void exports?.interrupt();
  server.close(() => process.exit(0));
});
