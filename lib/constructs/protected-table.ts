// A DynamoDB table holding what the archive cannot rebuild: on demand, point-in-time recovery,
// deletion protection, retained on stack deletion, replicated to the DR region when there is one, and
// encrypted with the AWS-owned key (a table with replicas in other regions would need a customer key in
// each; the AWS-owned key keeps encryption at rest without that). cdk-nag does not check TableV2, so
// test/cdk/stack.test.ts asserts these settings.
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { GlobalSecondaryIndex } from '@aws-sdk/client-dynamodb';
import type { Construct } from 'constructs';

export function protectedTable(scope: Construct, id: string, props: { tableName: string; indexes: GlobalSecondaryIndex[]; drRegion?: string; stream?: dynamodb.StreamViewType }): dynamodb.TableV2 {
  const attribute = (name: string): dynamodb.Attribute => ({ name, type: dynamodb.AttributeType.STRING });
  return new dynamodb.TableV2(scope, id, {
    tableName: props.tableName,
    partitionKey: attribute('pk'),
    sortKey: attribute('sk'),
    billing: dynamodb.Billing.onDemand(),
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: true,
    encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
    globalSecondaryIndexes: props.indexes.map((index) => ({
      indexName: index.IndexName!,
      partitionKey: attribute(index.KeySchema![0].AttributeName!),
      sortKey: attribute(index.KeySchema![1].AttributeName!),
      projectionType: index.Projection?.ProjectionType === 'KEYS_ONLY' ? dynamodb.ProjectionType.KEYS_ONLY : dynamodb.ProjectionType.ALL,
    })),
    replicas: props.drRegion ? [{ region: props.drRegion, deletionProtection: true }] : [],
    ...(props.stream ? { dynamoStream: props.stream } : {}),
    removalPolicy: RemovalPolicy.RETAIN,
  });
}
