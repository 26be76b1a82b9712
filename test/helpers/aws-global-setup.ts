// Global setup of the test projects that run against the AWS implementations: DynamoDB Local and
// fauxqs (S3, SQS) are started once and shared; each archive gets its own table, bucket and queue.
import type { TestProject } from 'vitest/node';
import { startFauxqs } from 'fauxqs';
import { startDynamoDbLocal } from './dynamodb-local.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoDbEndpoint: string;
    fauxqsEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [dynamo, fauxqs] = await Promise.all([startDynamoDbLocal(), startFauxqs({ port: 0, host: '127.0.0.1', logger: false })]);
  project.provide('dynamoDbEndpoint', dynamo.endpoint);
  project.provide('fauxqsEndpoint', `http://127.0.0.1:${fauxqs.port}`);
  // Each emulator gets 10 s to stop: one that hangs on a connection a test left open must not keep the
  // test run from ending (vitest waits for this teardown before it exits).
  const bounded = (name: string, stop: () => Promise<void>) =>
    Promise.race([stop(), new Promise<void>((resolve) => setTimeout(() => (console.error(`${name} did not stop within 10 s; left to the process's exit`), resolve()), 10_000).unref())]);
  return async () => {
    await Promise.all([bounded('fauxqs', () => fauxqs.stop()), bounded('DynamoDB Local', () => dynamo.stop())]);
  };
}
