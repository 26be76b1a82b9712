// The DICOMweb application behind API Gateway (REST API, binary media types): the same Hono app as
// `npm start`, over S3, DynamoDB and SQS. Bodies arrive and leave base64-encoded. Errors are logged by
// Powertools' Logger with the request id; invocations are traced by Lambda (active tracing).
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { Hono } from 'hono';
import { handle } from 'hono/aws-lambda';
import { createDicomWebApp } from '../../dicomweb/app.js';
import { configFromEnv, type DicomWebConfig } from '../../dicomweb/config.js';
import type { StructuredLog } from '../../logging.js';
import { awsStorageSettingsFromEnv, composeAwsStorage, REQUEST_PATH_RETRIES, type AwsStorageSettings } from '../../storage/aws/compose.js';
import { s3OnFirstUse } from '../../storage/aws/s3-on-first-use.js';
import type { ArchiveStorage } from '../../storage/ports.js';
import { apiGatewayRequester } from '../auth/audit-requester.js';
import { observability, powertoolsLog } from '../observability.js';

export type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** DICOM JSON is text; everything else the archive serves (DICOM, frames, images, multipart) is binary. */
const isBinary = (contentType: string) => !/^application\/(dicom\+)?json\b/i.test(contentType) && !/^text\//i.test(contentType);

export function createApiHandler(storage: ArchiveStorage, config: DicomWebConfig, log?: StructuredLog): ApiHandler {
  return apiGatewayHandlerFor(createDicomWebApp(storage, config, log, { requester: apiGatewayRequester }));
}

/** A Hono application behind API Gateway (REST API, binary media types), with the public URL prefix it must use. */
export function apiGatewayHandlerFor(app: Hono): ApiHandler {
  const handler = handle(app, { isContentTypeBinary: isBinary }) as unknown as ApiHandler;
  return (event, context) => handler(withPublicPrefix(event), context);
}

/**
 * Behind CloudFront (which names the site in X-Forwarded-Host) URLs start at the site's root. Called on
 * API Gateway's own address, they must keep the stage the caller used (…/prod/dicomweb/studies/…), or
 * RetrieveURLs would lead nowhere. Only this handler decides the prefix; a caller's own is dropped.
 */
function withPublicPrefix(event: APIGatewayProxyEvent): APIGatewayProxyEvent {
  const headers = Object.fromEntries(Object.entries(event.headers ?? {}).filter(([name]) => name.toLowerCase() !== 'x-forwarded-prefix'));
  const forwarded = Object.keys(headers).some((name) => name.toLowerCase() === 'x-forwarded-host');
  const stage = event.requestContext?.stage;
  if (!forwarded && stage && event.requestContext.path?.startsWith(`/${stage}/`)) headers['X-Forwarded-Prefix'] = `/${stage}`;
  const multiValueHeaders = event.multiValueHeaders
    ? Object.fromEntries(Object.entries(event.multiValueHeaders).filter(([name]) => name.toLowerCase() !== 'x-forwarded-prefix'))
    : event.multiValueHeaders;
  return { ...event, headers, multiValueHeaders };
}

/**
 * The function's storage. S3 is loaded on the first request that reads or writes an object: searches,
 * the requests a viewer makes first, are answered from DynamoDB alone, and a cold start that does not
 * parse the S3 client's schemas is about a fifth shorter (npm run bench:lambda).
 */
export function apiStorage(
  settings: AwsStorageSettings,
  /** SDK client settings beyond the function's own (tests point the clients at emulators). */
  clientConfig: { s3?: S3ClientConfig; dynamodb?: DynamoDBClientConfig; sqs?: SQSClientConfig } = {},
): ArchiveStorage {
  const blobs = s3OnFirstUse(settings.bucket, clientConfig.s3);
  return composeAwsStorage(settings, blobs, new DynamoDBClient({ ...REQUEST_PATH_RETRIES, ...clientConfig.dynamodb }), new SQSClient({ ...REQUEST_PATH_RETRIES, ...clientConfig.sqs }));
}

const { logger, metrics } = observability('dicomweb-api');
let cached: ApiHandler | undefined;
export const handler: ApiHandler = async (event, context) => {
  logger.addContext(context);
  if (!cached) {
    // Built on first use, so that importing this module (tests, bundling checks) needs no environment.
    cached = createApiHandler(apiStorage(awsStorageSettingsFromEnv()), configFromEnv(), powertoolsLog(logger));
    metrics.captureColdStartMetric();
  }
  return cached(event, context);
};
