// Where the archive keeps its data: originals in a KMS-encrypted, versioned S3 bucket that tiers to
// Standard-IA and Glacier Instant Retrieval (retrieval stays instant, so clients never notice); the index
// in DynamoDB with point-in-time recovery and deletion protection; the audit trail in a table of its own,
// protected the same way; archive events in SQS with a dead-letter queue. In a recovery (`restore`), the bucket and the index are the replicas that the
// primary deployment kept in this region, and only the rest is new.
import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { accessLogBucket } from './access-log-bucket.js';
import { AUDIT_TABLE_SCHEMA } from '../../lambdas/storage/aws/dynamodb-audit-log.js';
import { INDEX_TABLE_SCHEMA } from '../../lambdas/storage/aws/dynamodb-index.js';
import { allowLogGroupsToUse } from './log-encryption.js';
import { protectedTable } from './protected-table.js';
import type { ArchiveNames } from './names.js';

export interface ArchiveStorageProps {
  names: ArchiveNames;
  infrequentAccessAfterDays: number;
  archiveAfterDays: number;
  /** Region of the DynamoDB replica for disaster recovery. */
  drRegion?: string;
  /** Run on the replicated data in this region (a recovery): the replica bucket's name and its key. */
  restore?: { bucketName: string; key: kms.Key };
}


export class ArchiveStorage extends Construct {
  /** Encrypts queues, topics and logs (and, outside a recovery, the originals). */
  readonly key: kms.Key;
  /** Encrypts the originals. */
  readonly archiveKey: kms.Key;
  readonly archive: s3.IBucket;
  readonly accessLogs: s3.Bucket;
  readonly index: dynamodb.ITableV2;
  /** The audit trail: the archive's functions may only put and query items in it (archive-access.ts). */
  readonly audit: dynamodb.ITableV2;
  /** The audit table when this deployment made it (not in a recovery, which runs on its replica). */
  readonly auditTable?: dynamodb.TableV2;
  /** The archive's name in its audit records (AUDIT_SOURCE_ID). */
  readonly auditSourceId: string;
  /** Where de-identified exports are written (not in a recovery deployment). */
  readonly exports?: s3.Bucket;
  readonly events: sqs.Queue;
  readonly eventsDeadLetters: sqs.Queue;

  constructor(scope: Construct, id: string, props: ArchiveStorageProps) {
    super(scope, id);
    this.auditSourceId = `${props.names.archiveName}@${Stack.of(this).region}`;
    this.key = new kms.Key(this, 'Key', {
      description: 'Encrypts the PACS archive: originals, events',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // CloudWatch Logs encrypts the archive's log groups with this key too.
    allowLogGroupsToUse(this.key);
    this.archiveKey = props.restore?.key ?? this.key;

    this.accessLogs = accessLogBucket(this, 'AccessLogs');
    if (props.restore) {
      // By name (it is fixed), so that policies name it exactly.
      this.archive = s3.Bucket.fromBucketAttributes(this, 'Archive', { bucketName: props.restore.bucketName, encryptionKey: props.restore.key });
      // The primary's global table has a replica here under the same name.
      this.index = dynamodb.TableV2.fromTableName(this, 'Index', props.names.indexTable);
      this.audit = dynamodb.TableV2.fromTableName(this, 'Audit', props.names.auditTable);
    } else {
      this.archive = this.primaryArchive(props);
      this.index = this.primaryIndex(props);
      // Its stream feeds the copy in a bucket with Object Lock (audit-archive.ts).
      this.auditTable = protectedTable(this, 'Audit', { tableName: props.names.auditTable, indexes: AUDIT_TABLE_SCHEMA.indexes, stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES, ...(props.drRegion ? { drRegion: props.drRegion } : {}) });
      this.audit = this.auditTable;
      this.exports = this.exportsBucket();
    }
    this.eventsDeadLetters = new sqs.Queue(this, 'EventsDeadLetters', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.events = new sqs.Queue(this, 'Events', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
      visibilityTimeout: Duration.minutes(5),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.eventsDeadLetters, maxReceiveCount: 5 },
    });
    Validations.of(this.eventsDeadLetters).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This is the dead-letter queue of the events queue.' });
  }

  private primaryArchive(props: ArchiveStorageProps): s3.Bucket {
    const stack = Stack.of(this);
    const replica = props.drRegion
      ? {
          bucket: props.names.replicaBucket(stack.account, props.drRegion),
          keyAliasArn: `arn:${stack.partition}:kms:${props.drRegion}:${stack.account}:${props.names.replicaKeyAlias}`,
        }
      : undefined;
    // Replication runs as its own role with exactly the permissions S3 replication needs.
    const replicationRole = replica
      ? new iam.Role(this, 'ReplicationRole', { assumedBy: new iam.ServicePrincipal('s3.amazonaws.com'), description: 'Replicates the archive to the DR region' })
      : undefined;
    const archive = new s3.Bucket(this, 'Archive', {
      ...(replica && replicationRole
        ? {
            replicationRole: replicationRole.withoutPolicyUpdates(),
            replicationRules: [
              {
                destination: s3.Bucket.fromBucketName(this, 'Replica', replica.bucket),
                kmsKey: kms.Key.fromKeyArn(this, 'ReplicaKey', replica.keyAliasArn),
                sseKmsEncryptedObjects: true,
                deleteMarkerReplication: true,
                priority: 1,
                // Replication Time Control: 99.99 % of objects replicated within 15 minutes (the RPO of
                // originals), with metrics and events for those that are late.
                replicationTimeControl: s3.ReplicationTimeValue.FIFTEEN_MINUTES,
                metrics: s3.ReplicationTimeValue.FIFTEEN_MINUTES,
                // The copy is read only in a disaster: the cheapest class that still answers in milliseconds.
                storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
              },
            ],
          }
        : {}),
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      versioned: true,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'archive/',
      lifecycleRules: [
        {
          id: 'tiering',
          prefix: 'originals/',
          transitions: [
            { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(props.infrequentAccessAfterDays) },
            { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(props.archiveAfterDays) },
          ],
        },
        // Deleted or replaced originals stay recoverable for 30 days, then go.
        { id: 'noncurrent', noncurrentVersionExpiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(2) },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    if (replica && replicationRole) {
      const replicaBucketArn = `arn:${stack.partition}:s3:::${replica.bucket}`;
      // Attached from the policy's side: the role must not depend on the policy, which names the bucket,
      // which names the role.
      const policy = new iam.ManagedPolicy(this, 'ReplicationPolicy', {
        roles: [replicationRole],
        statements: [
          new iam.PolicyStatement({ actions: ['s3:GetReplicationConfiguration', 's3:ListBucket'], resources: [archive.bucketArn] }),
          new iam.PolicyStatement({
            actions: ['s3:GetObjectVersionForReplication', 's3:GetObjectVersionAcl', 's3:GetObjectVersionTagging'],
            resources: [archive.arnForObjects('*')],
          }),
          new iam.PolicyStatement({ actions: ['s3:ReplicateObject', 's3:ReplicateDelete', 's3:ReplicateTags'], resources: [`${replicaBucketArn}/*`] }),
          new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [this.key.keyArn] }),
          new iam.PolicyStatement({ actions: ['kms:Encrypt', 'kms:GenerateDataKey'], resources: [`arn:${stack.partition}:kms:${props.drRegion}:${stack.account}:key/*`], conditions: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': props.names.replicaKeyAlias } } }),
        ],
      });
      Validations.of(policy).acknowledge(
        { id: 'AwsSolutions-IAM5[Resource::<StorageArchiveEF4C9845.Arn>/*]', reason: 'Replication reads every object version of the archive bucket.' },
        { id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${replica.bucket}/*]`, reason: 'Replication writes every object into the replica bucket.' },
        { id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:${props.drRegion}:${Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account}:key/*]`, reason: 'The replica key is named by its alias (condition kms:ResourceAliases); its key id is only known in the DR region.' },
      );
    } else {
      Validations.of(archive).acknowledge({
        id: 'HIPAA.Security-S3BucketReplicationEnabled',
        reason: 'Replication is configured when the drRegion context value names a second region; this deployment has none.',
      });
    }
    return archive;
  }

  /** De-identified copies for research, under <export id>/: no patient data, but the archive's key still encrypts them. */
  private exportsBucket(): s3.Bucket {
    const bucket = new s3.Bucket(this, 'Exports', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      versioned: true,
      lifecycleRules: [{ id: 'old-versions', noncurrentVersionExpiration: Duration.days(30) }],
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'exports/',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(bucket).acknowledge({ id: 'HIPAA.Security-S3BucketReplicationEnabled', reason: 'De-identified exports can be made again from the archive (the same pseudonyms: the secret is replicated with the index).' });
    return bucket;
  }

  private primaryIndex(props: ArchiveStorageProps): dynamodb.TableV2 {
    return protectedTable(this, 'Index', { tableName: props.names.indexTable, indexes: INDEX_TABLE_SCHEMA.indexes, ...(props.drRegion ? { drRegion: props.drRegion } : {}) });
  }
}
