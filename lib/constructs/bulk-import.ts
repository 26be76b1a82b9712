// Bulk import of an existing archive: Part 10 files copied to s3://<archive>/ingest/ are announced by S3
// to an SQS queue and stored by a function running the same code as STOW-RS; refused files land in
// ingest-failed/ with their reason, and messages that keep failing end in a dead-letter queue.
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as eventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FAILED_PREFIX, INGEST_PREFIX } from '../../lambdas/ingest/bulk-import.js';
import { archiveArnInFindings } from './archive-access.js';
import { readWriteAccess } from './archive-access.js';
import { ArchiveFunction } from './archive-function.js';
import type { ArchiveStorage } from './archive-storage.js';

const FUNCTION_TIMEOUT = Duration.minutes(5);

export class BulkImport extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetters: sqs.Queue;
  readonly function: lambda.Function;

  constructor(scope: Construct, id: string, props: { storage: ArchiveStorage }) {
    super(scope, id);
    const { storage } = props;
    // Its own key: S3 must be allowed to use the queue's key for this bucket, and the archive key already
    // depends on the bucket's settings the other way round.
    const key = new kms.Key(this, 'Key', { description: 'Encrypts bulk-import notifications', enableKeyRotation: true, removalPolicy: RemovalPolicy.RETAIN });
    this.deadLetters = new sqs.Queue(this, 'DeadLetters', { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: key, enforceSSL: true, retentionPeriod: Duration.days(14) });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: key,
      enforceSSL: true,
      // Six times the function timeout, as Lambda's SQS event source recommends.
      visibilityTimeout: Duration.minutes(30),
      retentionPeriod: Duration.days(14),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: 5 },
    });
    Validations.of(this.deadLetters).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This is the dead-letter queue of the bulk-import queue.' });
    // SqsDestination lets S3 use the queue's key for this bucket's notifications.
    storage.archive.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(this.queue), { prefix: INGEST_PREFIX });
    const stack = Stack.of(this);
    // CDK configures bucket notifications with a function of its own (one per stack).
    for (const child of stack.node.children) {
      if (!child.node.id.startsWith('BucketNotificationsHandler')) continue;
      Validations.of(child).acknowledge(
        { id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', reason: 'CDK\'s own bucket-notification function, which runs only at deployment; its role is created by CDK.' },
      );
    }
    const notifications = storage.archive.node.tryFindChild('Notifications');
    if (notifications) {
      Validations.of(notifications).acknowledge({ id: 'HIPAA.Security-IAMNoInlinePolicy', reason: 'CDK attaches s3:PutBucketNotification for its deployment-time notification function as an inline policy.' });
    }

    const archive = storage.archive;
    const archiveArn = archiveArnInFindings(storage);
    this.function = new ArchiveFunction(this, 'Import', {
      access: readWriteAccess(storage),
      entry: 'lambdas/aws/handlers/s3-ingest.ts',
      description: 'Bulk import: stores Part 10 files dropped under ingest/',
      memorySize: 3008, // instances of up to about 1 GB are read whole
      timeout: FUNCTION_TIMEOUT,
      reservedConcurrency: 20,
      statements: [
        new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:DeleteObject'], resources: [archive.arnForObjects(`${INGEST_PREFIX}*`)] }),
        new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [archive.arnForObjects(`${FAILED_PREFIX}*`)] }),
        new iam.PolicyStatement({ actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'], resources: [this.queue.queueArn] }),
        // Granted in the role's policy, not the key's, so that the key does not depend on the role.
        new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [key.keyArn] }),
      ],
      acknowledgements: [
        { id: `AwsSolutions-IAM5[Resource::${archiveArn}/${INGEST_PREFIX}*]`, reason: 'Files to import are named by whoever drops them under ingest/; the prefix is the narrowest scope.' },
        { id: `AwsSolutions-IAM5[Resource::${archiveArn}/${FAILED_PREFIX}*]`, reason: 'Refused files keep their names under ingest-failed/.' },
      ],
    }).function;
    this.function.addEventSource(new eventSources.SqsEventSource(this.queue, { batchSize: 5, reportBatchItemFailures: true }));
    Validations.of(this.function).acknowledge(
      { id: 'HIPAA.Security-LambdaDLQ', reason: 'The function is invoked by an SQS event source; failed messages go to the queue\'s dead-letter queue (redrive after 5 receives), which is where a DLQ applies.' },
      { id: 'HIPAA.Security-LambdaInsideVPC', reason: 'The function calls only S3, DynamoDB and SQS over TLS with IAM; it has no VPC resources to reach.' },
    );

  }
}
