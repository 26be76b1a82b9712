// Local emulators of the AWS services the archive uses, started by the tests themselves on 127.0.0.1:
// fauxqs (from the npm registry) for S3 and SQS.
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

export async function startAwsEmulators(): Promise<AwsEmulators> {
  const server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
  const endpoint = `http://127.0.0.1:${server.port}`;
  const s3 = new S3Client({
    endpoint,
    region: 'us-east-1',
    credentials,
    forcePathStyle: true,
    // Emulators do not speak the SDK's default streaming checksums.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const sqs = new SQSClient({ endpoint, region: 'us-east-1', credentials });
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
