// The DICOMweb application behind API Gateway (REST API, binary media types): the same Hono app as
// `npm start`, over S3, DynamoDB and SQS. Bodies arrive and leave base64-encoded. Errors are logged by
// Powertools' Logger with the request id; invocations are traced by Lambda (active tracing).
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { handle } from 'hono/aws-lambda';
import { createDicomWebApp } from '../../dicomweb/app.js';
import { configFromEnv, type DicomWebConfig } from '../../dicomweb/config.js';
import type { StructuredLog } from '../../logging.js';
import { awsStorageSettingsFromEnv, createAwsStorage } from '../../storage/aws/create.js';
import type { ArchiveStorage } from '../../storage/ports.js';
import { observability, powertoolsLog } from '../observability.js';

export type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** DICOM JSON is text; everything else the archive serves (DICOM, frames, images, multipart) is binary. */
const isBinary = (contentType: string) => !/^application\/(dicom\+)?json\b/i.test(contentType) && !/^text\//i.test(contentType);

export function createApiHandler(storage: ArchiveStorage, config: DicomWebConfig, log?: StructuredLog): ApiHandler {
  return handle(createDicomWebApp(storage, config, log), { isContentTypeBinary: isBinary }) as unknown as ApiHandler;
}

const { logger, metrics } = observability('dicomweb-api');
let cached: ApiHandler | undefined;
export const handler: ApiHandler = async (event, context) => {
  logger.addContext(context);
  if (!cached) {
    // Built on first use, so that importing this module (tests, bundling checks) needs no environment.
    cached = createApiHandler(createAwsStorage(awsStorageSettingsFromEnv()), configFromEnv(), powertoolsLog(logger));
    metrics.captureColdStartMetric();
  }
  return cached(event, context);
};
