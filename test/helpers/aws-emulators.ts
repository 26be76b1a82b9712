// Local emulators of the AWS services the archive uses, started by the tests themselves on 127.0.0.1:
// fauxqs (from the npm registry) for S3 and SQS; and the SDK clients that talk to them.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs, type FauxqsServer } from 'fauxqs';

export interface AwsEmulators {
  s3: S3Client;
  sqs: SQSClient;
  server: FauxqsServer;
  stop(): Promise<void>;
}

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

/** Retry settings (or anything else) every client of one emulatorClients() call shares. */
export interface ClientOptions {
  maxAttempts?: number;
  retryMode?: 'standard' | 'adaptive';
}

/** SDK client settings for fauxqs (S3, SQS) and, when its endpoint is given, DynamoDB Local. */
export function emulatorClientConfigs(endpoints: { fauxqs: string; dynamodb?: string }, options: ClientOptions = {}) {
  const common = { region: 'us-east-1', credentials, ...options };
  return {
    s3: {
      ...common,
      endpoint: endpoints.fauxqs,
      forcePathStyle: true,
      // Emulators do not speak the SDK's default streaming checksums.
      requestChecksumCalculation: 'WHEN_REQUIRED' as const,
      responseChecksumValidation: 'WHEN_REQUIRED' as const,
    },
    sqs: { ...common, endpoint: endpoints.fauxqs },
    dynamodb: { ...common, endpoint: endpoints.dynamodb ?? 'http://127.0.0.1:9' },
  };
}

/** SDK clients for fauxqs (S3, SQS) and, when its endpoint is given, DynamoDB Local. */
export function emulatorClients(endpoints: { fauxqs: string; dynamodb?: string }, options: ClientOptions = {}): { s3: S3Client; sqs: SQSClient; dynamodb: DynamoDBClient } {
  const config = emulatorClientConfigs(endpoints, options);
  return { s3: new S3Client(config.s3), sqs: new SQSClient(config.sqs), dynamodb: new DynamoDBClient(config.dynamodb) };
}

/**
 * The SDK's own environment variables that point a bundled function (configured only by its environment)
 * at the emulators: credentials, region, endpoints and checksums. An IP address as endpoint makes the S3
 * client use path-style addressing by itself.
 */
export function emulatorEnvironment(endpoints: { fauxqs: string; dynamodb: string }): Record<string, string> {
  return {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_S3: endpoints.fauxqs,
    AWS_ENDPOINT_URL_SQS: endpoints.fauxqs,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
  };
}

export async function startAwsEmulators(): Promise<AwsEmulators> {
  const server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
  const { s3, sqs } = emulatorClients({ fauxqs: `http://127.0.0.1:${server.port}` });
  return {
    s3,
    sqs,
    server,
    stop: async () => {
      s3.destroy();
      sqs.destroy();
      await server.stop();
    },
  };
}
