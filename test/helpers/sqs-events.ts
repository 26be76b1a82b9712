// Playing Lambda's SQS event source in tests: messages received from an emulated queue, handed to a
// handler as the SQSEvent Lambda would build from them.
import { ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent } from 'aws-lambda';

/** What Lambda passes as context; only the remaining time is read. */
export const lambdaContext = { functionName: 'test', awsRequestId: 'req', getRemainingTimeInMillis: () => 300_000 } as unknown as Context;

export function sqsEvent(messages: Message[], queueArn: string): SQSEvent {
  return {
    Records: messages.map((m) => ({
      messageId: m.MessageId!,
      receiptHandle: m.ReceiptHandle!,
      body: m.Body!,
      attributes: {
        ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
        SentTimestamp: '0',
        SenderId: 'test',
        ApproximateFirstReceiveTimestamp: '0',
      },
      messageAttributes: {},
      md5OfBody: m.MD5OfBody ?? '',
      eventSource: 'aws:sqs',
      eventSourceARN: queueArn,
      awsRegion: 'us-east-1',
    })),
  };
}

export async function receive(sqs: SQSClient, url: string, waitSeconds = 0, max = 10): Promise<Message[]> {
  const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: max, WaitTimeSeconds: waitSeconds, MessageSystemAttributeNames: ['All'] }));
  return res.Messages ?? [];
}
