// Lets CloudWatch Logs in the key's region encrypt this account's log groups with a KMS key (log
// groups can hold patient identifiers, so the archive's are all KMS-encrypted).
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';

export function allowLogGroupsToUse(key: kms.Key): void {
  const here = Stack.of(key);
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal(`logs.${here.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${here.partition}:logs:${here.region}:${here.account}:log-group:*` } },
    }),
  );
}
