// The bucket S3 server access logs go to (one per region): SSE-S3, private, TLS only, kept a year.
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';

export function accessLogBucket(scope: Construct, id: string): s3.Bucket {
  const bucket = new s3.Bucket(scope, id, {
    // S3 server access logs can only be delivered to SSE-S3 buckets.
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    versioned: true,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
    lifecycleRules: [{ id: 'expire-logs', expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30) }],
    removalPolicy: RemovalPolicy.RETAIN,
  });
  Validations.of(bucket).acknowledge(
    { id: 'AwsSolutions-S1', reason: 'This is the access-log bucket; logging it into itself would loop.' },
    { id: 'HIPAA.Security-S3BucketLoggingEnabled', reason: 'This is the access-log bucket; logging it into itself would loop.' },
    { id: 'HIPAA.Security-S3BucketReplicationEnabled', reason: 'Access logs stay in their region; the archive bucket itself is replicated when a DR region is set.' },
    { id: 'HIPAA.Security-S3DefaultEncryptionKMS', reason: 'S3 delivers server access logs only to buckets encrypted with SSE-S3.' },
  );
  return bucket;
}
