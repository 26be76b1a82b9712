// What every runtime of the archive (Lambda functions, the streaming runtime's task) may do with its
// data: read and write originals and overflow metadata, use the archive key, read and write the index,
// add to and search the audit trail (never change it) and announce events — named exactly, in one place.
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { AUDIT_TABLE_SCHEMA } from '../../lambdas/storage/aws/dynamodb-audit-log.js';
import { INDEX_TABLE_SCHEMA } from '../../lambdas/storage/aws/dynamodb-index.js';
import type { ArchiveStorage } from './archive-storage.js';

/** What a function may do with the archive's data, and how it finds it (its environment). */
export interface ArchiveAccess {
  /** Encrypts the function's logs. */
  logKey: kms.IKey;
  statements: iam.PolicyStatement[];
  /** cdk-nag acknowledgements for the wildcards in `statements`, each with its reason. */
  acknowledgements: Array<{ id: string; reason: string }>;
  environment: Record<string, string>;
}

/** The archive's functions in the primary region: read and write originals, the index and events. */
export function readWriteAccess(storage: ArchiveStorage): ArchiveAccess {
  return {
    logKey: storage.key,
    statements: archiveAccessStatements(storage),
    acknowledgements: archiveAccessAcknowledgements(storage),
    environment: { ARCHIVE_BUCKET: storage.archive.bucketName, INDEX_TABLE: storage.index.tableName, EVENTS_QUEUE_URL: storage.events.queueUrl, AUDIT_TABLE: storage.audit.tableName, AUDIT_SOURCE_ID: storage.auditSourceId },
  };
}

export function archiveAccessStatements(storage: ArchiveStorage): iam.PolicyStatement[] {
  const indexArns = [storage.index.tableArn, ...INDEX_TABLE_SCHEMA.indexes.map((i) => `${storage.index.tableArn}/index/${i.IndexName}`)];
  return [
    new iam.PolicyStatement({
      actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
      resources: [storage.archive.arnForObjects('originals/*'), storage.archive.arnForObjects('metadata/*')],
    }),
    new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [storage.archive.bucketArn] }),
    new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [...new Set([storage.key.keyArn, storage.archiveKey.keyArn])] }),
    new iam.PolicyStatement({
      actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem'],
      resources: indexArns,
    }),
    auditTrailStatement(storage.audit.tableArn),
    new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [storage.events.queueArn] }),
  ];
}

/** The audit trail is append-only to the archive: records are put (each under a new key) and searched, never updated or deleted. */
export function auditTrailStatement(tableArn: string): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions: ['dynamodb:PutItem', 'dynamodb:Query'],
    resources: [tableArn, ...AUDIT_TABLE_SCHEMA.indexes.map((i) => `${tableArn}/index/${i.IndexName}`)],
  });
}

/** How cdk-nag writes the archive bucket's ARN in a finding: a reference to it, or its name when imported. */
export function archiveArnInFindings(storage: ArchiveStorage): string {
  return bucketArnInFindings(storage.archive);
}

export function bucketArnInFindings(bucket: s3.IBucket): string {
  const cfn = bucket.node.defaultChild as s3.CfnBucket | undefined;
  return cfn ? `<${Stack.of(bucket).getLogicalId(cfn)}.Arn>` : `arn:<AWS::Partition>:s3:::${bucket.bucketName}`;
}

/** cdk-nag acknowledgements for the prefixes above, which are as narrow as content-addressed keys allow. */
export function archiveAccessAcknowledgements(storage: ArchiveStorage): Array<{ id: string; reason: string }> {
  return objectPrefixAcknowledgements(storage.archive);
}

/** The same, for any bucket that holds the archive's objects (the primary's, or its replica). */
export function objectPrefixAcknowledgements(bucket: s3.IBucket): Array<{ id: string; reason: string }> {
  const arn = bucketArnInFindings(bucket);
  return [
    { id: `AwsSolutions-IAM5[Resource::${arn}/originals/*]`, reason: 'Originals are content-addressed (originals/<sha256>.dcm): their keys are not known when the policy is written; the prefix is the narrowest scope.' },
    { id: `AwsSolutions-IAM5[Resource::${arn}/metadata/*]`, reason: 'Metadata too large for the index is stored under metadata/<sha256>; the prefix is the narrowest scope.' },
  ];
}
