// What every runtime of the archive (Lambda functions, the streaming runtime's task) may do with its
// data: read and write originals and overflow metadata, use the archive key, read and write the index and
// announce events — named exactly, in one place.
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { INDEX_TABLE_SCHEMA } from '../../lambdas/storage/aws/dynamodb-index.js';
import type { ArchiveStorage } from './archive-storage.js';

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
    new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [storage.events.queueArn] }),
  ];
}

/** How cdk-nag writes the archive bucket's ARN in a finding: a reference to it, or its name when imported. */
export function archiveArnInFindings(storage: ArchiveStorage): string {
  const bucket = storage.archive.node.defaultChild as s3.CfnBucket | undefined;
  return bucket ? `<${Stack.of(storage).getLogicalId(bucket)}.Arn>` : `arn:<AWS::Partition>:s3:::${storage.archive.bucketName}`;
}

/** cdk-nag acknowledgements for the prefixes above, which are as narrow as content-addressed keys allow. */
export function archiveAccessAcknowledgements(storage: ArchiveStorage): Array<{ id: string; reason: string }> {
  const archiveArn = archiveArnInFindings(storage);
  return [
    { id: `AwsSolutions-IAM5[Resource::${archiveArn}/originals/*]`, reason: 'Originals are content-addressed (originals/<sha256>.dcm): their keys are not known when the policy is written; the prefix is the narrowest scope.' },
    { id: `AwsSolutions-IAM5[Resource::${archiveArn}/metadata/*]`, reason: 'Metadata too large for the index is stored under metadata/<sha256>; the prefix is the narrowest scope.' },
  ];
}
