// EventPublisher implementations deliver every archive event: in-process (local mode) and SQS (emulator).
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsEventPublisher } from '../../lambdas/storage/aws/sqs-events.js';
import { InProcessEvents } from '../../lambdas/storage/local/in-process-events.js';
import type { ArchiveEvent } from '../../lambdas/storage/ports.js';
import { startAwsEmulators, type AwsEmulators } from '../helpers/aws-emulators.js';

const events: ArchiveEvent[] = Array.from({ length: 23 }, (_, i) => ({
  type: 'InstanceStored',
  studyInstanceUID: '1.2.3',
  seriesInstanceUID: '1.2.3.4',
  sopInstanceUID: `1.2.3.4.${i + 1}`,
  sopClassUID: '1.2.840.10008.5.1.4.1.1.2',
  at: new Date(0).toISOString(),
}));

describe('events', () => {
  let aws: AwsEmulators;
  beforeAll(async () => {
    aws = await startAwsEmulators();
  });
  afterAll(() => aws?.stop());

  it('in-process: every subscriber gets every event, after the publisher returns', async () => {
    const bus = new InProcessEvents();
    const seen: string[] = [];
    bus.subscribe((e) => {
      if (e.type === 'InstanceStored') seen.push(e.sopInstanceUID);
    });
    await bus.publish(events);
    expect(seen).toEqual([]); // delivery never delays the store that published
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(events.map((e) => (e as { sopInstanceUID: string }).sopInstanceUID));
  });

  it('SQS: batches of ten, each event one message with its type as an attribute', async () => {
    const { queueUrl } = aws.server.createQueue('ingest-events');
    await new SqsEventPublisher(aws.sqs, queueUrl).publish(events);
    const received: ArchiveEvent[] = [];
    for (let i = 0; i < 10 && received.length < events.length; i++) {
      const res = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], WaitTimeSeconds: 1 }));
      for (const m of res.Messages ?? []) {
        expect(m.MessageAttributes?.type?.StringValue).toBe('InstanceStored');
        received.push(JSON.parse(m.Body!) as ArchiveEvent);
      }
    }
    expect(received.map((e) => (e as { sopInstanceUID: string }).sopInstanceUID).sort()).toEqual(events.map((e) => (e as { sopInstanceUID: string }).sopInstanceUID).sort());
  });

  it('SQS: a queue that does not exist is an error, not a silent loss', async () => {
    await expect(new SqsEventPublisher(aws.sqs, `http://127.0.0.1:${aws.server.port}/000000000000/missing`).publish(events.slice(0, 1))).rejects.toThrow();
  });
});
