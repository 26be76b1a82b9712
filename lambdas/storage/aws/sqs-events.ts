// EventPublisher on Amazon SQS: ingest events for the AI pipeline and other consumers. The SDK retries
// throttling and 5xx with backoff; a batch entry SQS still refuses is an error, never silently dropped.
import { SQSClient, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { ArchiveEvent, EventPublisher } from '../ports.js';

export class SqsEventPublisher implements EventPublisher {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async publish(events: ArchiveEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += 10) {
      const batch = events.slice(i, i + 10);
      const res = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: batch.map((event, n) => ({
            Id: String(n),
            MessageBody: JSON.stringify(event),
            MessageAttributes: { type: { DataType: 'String', StringValue: event.type } },
          })),
        }),
      );
      if (res.Failed?.length) {
        throw new Error(`SQS refused ${res.Failed.length} event(s): ${res.Failed.map((f) => `${f.Code} ${f.Message}`).join('; ')}`);
      }
    }
  }
}
