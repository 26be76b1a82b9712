// The audit trail made immutable: the audit table's stream feeds a function that copies every record into
// a bucket with S3 Object Lock in compliance mode, retained `retentionDays` (context `auditRetentionDays`,
// 7 years by default) — no one, not the account's root user, can change or delete a copy before then.
// Batches that keep failing end in a dead-letter queue (their stream positions, to copy again by hand).
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { AUDIT_ARCHIVE_PREFIX, TAMPERING_PREFIX } from '../../lambdas/aws/handlers/audit-archive.js';
import { ArchiveFunction } from './archive-function.js';
import type { ArchiveStorage } from './archive-storage.js';

export interface AuditArchiveProps {
  storage: ArchiveStorage;
  /** The audit table, with its stream. */
  table: dynamodb.TableV2;
  retentionDays: number;
}

export class AuditArchive extends Construct {
  readonly bucket: s3.Bucket;
  readonly function: lambda.Function;
  readonly deadLetters: sqs.Queue;

  constructor(scope: Construct, id: string, props: AuditArchiveProps) {
    super(scope, id);
    const { storage, table } = props;
    this.bucket = new s3.Bucket(this, 'Bucket', {
      objectLockEnabled: true,
      objectLockDefaultRetention: s3.ObjectLockRetention.compliance(Duration.days(props.retentionDays)),
      versioned: true,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: storage.key,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      serverAccessLogsBucket: storage.accessLogs,
      serverAccessLogsPrefix: 'audit-archive/',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'HIPAA.Security-S3BucketReplicationEnabled',
      reason: 'The audit table itself is a global table replicated to the DR region; this bucket is its locked copy in the primary region.',
    });
    this.deadLetters = new sqs.Queue(this, 'DeadLetters', { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: storage.key, enforceSSL: true, retentionPeriod: Duration.days(14) });
    Validations.of(this.deadLetters).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This is the dead-letter queue of the audit copy (stream positions of batches that could not be copied).' });
    this.function = new ArchiveFunction(this, 'Copier', {
      access: { logKey: storage.key, statements: [], acknowledgements: [], environment: {} },
      entry: 'lambdas/aws/handlers/audit-archive.ts',
      description: 'Copies the audit trail into a bucket with S3 Object Lock (compliance mode)',
      memorySize: 256,
      timeout: Duration.minutes(1),
      reservedConcurrency: 4,
      environment: { AUDIT_ARCHIVE_BUCKET: this.bucket.bucketName },
      statements: [
        new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects(`${AUDIT_ARCHIVE_PREFIX}*`), this.bucket.arnForObjects(`${TAMPERING_PREFIX}*`)] }),
        new iam.PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [storage.key.keyArn] }),
        new iam.PolicyStatement({ actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'], resources: [table.tableStreamArn!] }),
        new iam.PolicyStatement({ actions: ['dynamodb:ListStreams'], resources: [table.tableArn] }),
        new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.deadLetters.queueArn] }),
      ],
      acknowledgements: [
        { id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket)}.Arn>/${AUDIT_ARCHIVE_PREFIX}*]`, reason: 'One object per batch of records, named by its stream positions; the prefix is the narrowest scope.' },
        { id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket)}.Arn>/${TAMPERING_PREFIX}*]`, reason: 'Copies of audit items changed or removed, named by stream positions.' },
      ],
    }).function;
    // A plain mapping: CDK's DynamoEventSource and SqsDlq would grant their permissions in an inline policy.
    new lambda.CfnEventSourceMapping(this, 'Stream', {
      functionName: this.function.functionName,
      eventSourceArn: table.tableStreamArn!,
      startingPosition: 'TRIM_HORIZON',
      batchSize: 1000,
      maximumBatchingWindowInSeconds: 60,
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: 20,
      functionResponseTypes: ['ReportBatchItemFailures'],
      destinationConfig: { onFailure: { destination: this.deadLetters.queueArn } },
    });
    Validations.of(this.function).acknowledge(
      { id: 'HIPAA.Security-LambdaDLQ', reason: 'Invoked by a DynamoDB stream event source, whose on-failure destination is the dead-letter queue.' },
      { id: 'HIPAA.Security-LambdaInsideVPC', reason: 'The function reads a DynamoDB stream and writes to S3 over TLS with IAM; it has no VPC resources to reach.' },
    );
  }
}
