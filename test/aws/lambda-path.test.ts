// The deployment's request paths: small requests reach the Lambda handler through API Gateway events
// (base64 bodies), requests that may exceed Lambda's 6 MB go to the streaming runtime, and both serve
// the same data from S3, DynamoDB and SQS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { LAMBDA_MAX_BODY_BYTES, runtimeFor } from '../../lambdas/aws/edge/route.js';
import { createApiHandler } from '../../lambdas/aws/handlers/dicomweb-api.js';
import { testConfig, stow, getMultipart } from '../helpers/archive.js';
import { startLambdaArchive } from '../helpers/lambda-archive.js';
import { syntheticInstance, uid } from '../helpers/synthetic.js';

describe('edge routing', () => {
  it('sends bodies that fit Lambda to Lambda, and the rest and whole-object retrieval to the streaming runtime', () => {
    expect(runtimeFor('POST', '/dicomweb/studies', String(LAMBDA_MAX_BODY_BYTES))).toBe('lambda');
    expect(runtimeFor('POST', '/dicomweb/studies', String(LAMBDA_MAX_BODY_BYTES + 1))).toBe('streaming');
    expect(runtimeFor('POST', '/dicomweb/studies', undefined)).toBe('streaming');
    expect(runtimeFor('GET', '/dicomweb/studies', undefined)).toBe('lambda');
    expect(runtimeFor('GET', '/dicomweb/studies/1.2.3/series', undefined)).toBe('lambda');
    expect(runtimeFor('GET', '/dicomweb/studies/1.2.3/metadata', undefined)).toBe('streaming');
    expect(runtimeFor('GET', '/dicomweb/studies/1.2.3/series/4.5/metadata', undefined)).toBe('streaming');
    expect(runtimeFor('GET', '/dicomweb/studies/1.2.3/series/4.5/instances/6.7/metadata', undefined)).toBe('streaming');
    expect(runtimeFor('GET', '/dicomweb/studies/1.2.3', undefined)).toBe('streaming');
    expect(runtimeFor('GET', '/dicomweb/studies/1.2.3/series/4.5/instances/6.7', undefined)).toBe('streaming');
    expect(runtimeFor('GET', '/dicomweb/studies/1.2.3/series/4.5/instances/6.7/frames/1,2', undefined)).toBe('streaming');
    expect(runtimeFor('GET', '/dicomweb/studies/1.2.3/series/4.5/instances/6.7/rendered', undefined)).toBe('streaming');
    expect(runtimeFor('GET', '/dicomweb/studies/1.2.3/series/4.5/instances/6.7/frames/1/rendered', undefined)).toBe('streaming');
    expect(runtimeFor('GET', '/dicomweb/studies/1.2.3/thumbnail', undefined)).toBe('streaming');
    expect(runtimeFor('DELETE', '/dicomweb/studies/1.2.3', undefined)).toBe('lambda');
  });
});

describe('Lambda and streaming runtime over the AWS emulators', () => {
  let archive: Awaited<ReturnType<typeof startLambdaArchive>>;
  beforeAll(async () => {
    archive = await startLambdaArchive(testConfig());
  });
  afterAll(async () => archive?.close());

  it('stores small requests through Lambda and large ones through the streaming runtime', async () => {
    const study = uid();
    const small = syntheticInstance({ StudyInstanceUID: study, SeriesInstanceUID: uid(), Rows: 16, Columns: 16, BitsAllocated: 16, BitsStored: 16, HighBit: 15, PixelRepresentation: 0, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2' }, new Uint16Array(256));
    const before = { ...archive.served };
    expect((await stow(archive.url, [small])).status).toBe(200);
    expect(archive.served.lambda).toBe(before.lambda + 1);
    // 5 MB of pixels: more than Lambda takes in one invocation once base64-encoded.
    const large = syntheticInstance({ StudyInstanceUID: study, SeriesInstanceUID: uid(), Rows: 1600, Columns: 1600, BitsAllocated: 16, BitsStored: 16, HighBit: 15, PixelRepresentation: 0, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2' }, new Uint16Array(1600 * 1600).map((_, i) => i % 4096));
    expect((await stow(archive.url, [large])).status).toBe(200);
    expect(archive.served.streaming).toBe(before.streaming + 1);
    const listed = (await (await fetch(`${archive.url}/studies/${study}/instances`)).json()) as unknown[];
    expect(listed).toHaveLength(2);
    const { status, parts } = await getMultipart(`${archive.url}/studies/${study}`, 'multipart/related; type="application/dicom"');
    expect(status).toBe(200);
    expect(parts.map((p) => p.body.length).sort((a, b) => a - b)).toEqual([small.length, large.length].sort((a, b) => a - b));
  });

  it('names the site in RetrieveURLs behind CloudFront, and keeps the stage when API Gateway is called directly', async () => {
    const study = uid();
    expect((await stow(archive.url, [syntheticInstance({ StudyInstanceUID: study, SeriesInstanceUID: uid() })])).status).toBe(200);
    const handler = createApiHandler(archive.storage, testConfig());
    const query = async (headers: Record<string, string>): Promise<string> => {
      const event = {
        resource: '/{proxy+}',
        path: '/dicomweb/studies',
        httpMethod: 'GET',
        headers: { 'X-Forwarded-Proto': 'https', ...headers },
        multiValueHeaders: {},
        queryStringParameters: { StudyInstanceUID: study },
        multiValueQueryStringParameters: { StudyInstanceUID: [study] },
        pathParameters: { proxy: 'dicomweb/studies' },
        stageVariables: null,
        body: null,
        isBase64Encoded: false,
        requestContext: { path: '/prod/dicomweb/studies', stage: 'prod', requestId: 'r', httpMethod: 'GET' },
      } as unknown as APIGatewayProxyEvent;
      const result = await handler(event, { awsRequestId: 'r' } as Context);
      expect(result.statusCode).toBe(200);
      const [match] = JSON.parse(result.body) as Array<Record<string, { Value: string[] }>>;
      return match['00081190'].Value[0];
    };
    const direct = 'abc123.execute-api.eu-west-1.amazonaws.com';
    expect(await query({ Host: direct })).toBe(`https://${direct}/prod/dicomweb/studies/${study}`);
    expect(await query({ Host: direct, 'X-Forwarded-Host': 'pacs.example.org' })).toBe(`https://pacs.example.org/dicomweb/studies/${study}`);
    // A caller cannot choose the prefix.
    expect(await query({ Host: direct, 'X-Forwarded-Host': 'pacs.example.org', 'X-Forwarded-Prefix': '/elsewhere' })).toBe(`https://pacs.example.org/dicomweb/studies/${study}`);
  });
});
