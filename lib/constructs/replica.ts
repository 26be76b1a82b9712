// The disaster-recovery copy of the archive, in a second region: a KMS key and a bucket that S3
// replication fills from the primary bucket. Both have fixed names so that the primary stack can refer
// to them without cross-region references.
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { accessLogBucket } from './access-log-bucket.js';
import { allowLogGroupsToUse } from './log-encryption.js';
import type { ArchiveNames } from './names.js';


export class ArchiveReplica extends Construct {
  readonly bucket: s3.Bucket;
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: { names: ArchiveNames }) {
    super(scope, id);
    const { account, region } = Stack.of(this);
    const key = (this.key = new kms.Key(this, 'Key', { alias: props.names.replicaKeyAlias, enableKeyRotation: true, removalPolicy: RemovalPolicy.RETAIN, description: 'Encrypts the PACS archive replica and its read API\'s logs' }));
    // The read API's log groups (replica-read-api.ts) are encrypted with it too.
    allowLogGroupsToUse(key);
    const logs = accessLogBucket(this, 'AccessLogs');
    this.bucket = new s3.Bucket(this, 'Archive', {
      bucketName: props.names.replicaBucket(account, region),
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      versioned: true, // replication needs versioning on both sides
      serverAccessLogsBucket: logs,
      serverAccessLogsPrefix: 'replica/',
      lifecycleRules: [{ id: 'noncurrent', noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.bucket).acknowledge({ id: 'HIPAA.Security-S3BucketReplicationEnabled', reason: 'This bucket is the replica: it is the destination of the primary bucket\'s replication.' });
  }
}
