// The archive as a deployment runs it: the Lambda handler behind an API Gateway stand-in, and the
// streaming runtime for requests Lambda cannot take, over S3 and SQS (fauxqs) and DynamoDB (DynamoDB
// Local), each archive with its own bucket, table and queue.
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { inject } from 'vitest';
import { createDicomWebApp } from '../../lambdas/dicomweb/app.js';
import { apiStorage, createApiHandler } from '../../lambdas/aws/handlers/dicomweb-api.js';
import type { DicomWebConfig } from '../../lambdas/dicomweb/config.js';
import { createAwsStorage } from '../../lambdas/storage/aws/create.js';
import type { ArchiveStorage } from '../../lambdas/storage/ports.js';
import { startApiGateway } from './api-gateway.js';
import { serveApp } from './serve.js';
import { createAuditTable, createIndexTable } from './index-table.js';
import { emulatorClientConfigs, emulatorClients } from './aws-emulators.js';

let archives = 0;

export async function startLambdaArchive(
  config: DicomWebConfig,
): Promise<{ url: string; storage: ArchiveStorage; served: { lambda: number; streaming: number }; close(): Promise<void> }> {
  const endpoints = { fauxqs: inject('fauxqsEndpoint'), dynamodb: inject('dynamoDbEndpoint') };
  const clients = emulatorClients(endpoints);
  const name = `archive-${process.pid}-${++archives}`;
  await clients.s3.send(new CreateBucketCommand({ Bucket: name }));
  const queue = await clients.sqs.send(new CreateQueueCommand({ QueueName: name }));
  const table = await createIndexTable(clients.dynamodb);
  const settings = { bucket: name, table, eventsQueueUrl: queue.QueueUrl!, auditTable: await createAuditTable(clients.dynamodb) };
  const storage = createAwsStorage(settings, clients);
  // The Lambda function's own storage, as its handler builds it: S3 loaded on the first request that needs it.
  const lambdaStorage = apiStorage(settings, emulatorClientConfigs(endpoints));
  // The streaming runtime: the same application on a Node server, as the Fargate task runs it (its token
  // check, which the API Gateway stand-in does not model either, is tested in streaming-runtime.test.ts).
  const app = createDicomWebApp(storage, config);
  const streaming = await serveApp(app);
  const gateway = await startApiGateway(createApiHandler(lambdaStorage, config), streaming.origin);
  return {
    url: `${gateway.url}${config.basePath}`,
    storage,
    served: gateway.served,
    close: async () => {
      await gateway.close();
      await streaming.close();
      await storage.index.close();
      await lambdaStorage.index.close();
      await lambdaStorage.blobs.close();
      clients.s3.destroy();
      clients.sqs.destroy();
      clients.dynamodb.destroy();
    },
  };
}
