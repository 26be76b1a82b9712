// The disaster-recovery region's read API, running all the time: the DICOMweb application
// (lambdas/aws/handlers/dicomweb-replica.ts) behind a REST API, over the replica bucket and the index
// table's replica in this region, with read-only permissions. CloudFront fails reads over to it when the
// primary region answers 5xx or not at all (lib/constructs/front-door.ts). Tokens are checked by the
// function against the copy of the user pool's keys that the index table's replica holds (a Cognito
// authorizer would depend on the primary region's user pool, the very thing this API must do without).
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { INDEX_TABLE_SCHEMA } from '../../lambdas/storage/aws/dynamodb-index.js';
import { auditTrailStatement, objectPrefixAcknowledgements, type ArchiveAccess } from './archive-access.js';
import { ArchiveFunction } from './archive-function.js';
import { dicomWebRestApi } from './dicomweb-api.js';
import type { ArchiveNames } from './names.js';
import type { ArchiveReplica } from './replica.js';

export interface ReplicaReadApiProps {
  replica: ArchiveReplica;
  names: ArchiveNames;
  basePath: string;
  reservedConcurrency: number;
}

/**
 * Read the replica's originals and metadata; read and query the index table's replica (with the copied
 * token keys); add to and search the audit table's replica (reads made here are recorded here).
 */
function replicaReadAccess(scope: Construct, replica: ArchiveReplica, names: ArchiveNames): ArchiveAccess {
  const { partition, region, account } = Stack.of(scope);
  const table = `arn:${partition}:dynamodb:${region}:${account}:table/${names.indexTable}`;
  const audit = `arn:${partition}:dynamodb:${region}:${account}:table/${names.auditTable}`;
  return {
    logKey: replica.key,
    statements: [
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [replica.bucket.arnForObjects('originals/*'), replica.bucket.arnForObjects('metadata/*')],
      }),
      new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [replica.key.keyArn] }),
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'],
        resources: [table, ...INDEX_TABLE_SCHEMA.indexes.map((i) => `${table}/index/${i.IndexName}`)],
      }),
      auditTrailStatement(audit),
    ],
    acknowledgements: objectPrefixAcknowledgements(replica.bucket),
    environment: { ARCHIVE_BUCKET: replica.bucket.bucketName, INDEX_TABLE: names.indexTable, AUDIT_TABLE: names.auditTable, AUDIT_SOURCE_ID: `${names.archiveName}@${region}` },
  };
}

export class ReplicaReadApi extends Construct {
  readonly function: lambda.Function;
  readonly api: apigateway.RestApi;

  constructor(scope: Construct, id: string, props: ReplicaReadApiProps) {
    super(scope, id);
    this.function = new ArchiveFunction(this, 'Handler', {
      access: replicaReadAccess(this, props.replica, props.names),
      entry: 'lambdas/aws/handlers/dicomweb-replica.ts',
      description: 'DICOMweb read API of the disaster-recovery replica: QIDO-RS and WADO-RS, read-only',
      memorySize: 1769,
      timeout: Duration.seconds(29),
      reservedConcurrency: props.reservedConcurrency,
      environment: { DICOMWEB_BASE_PATH: props.basePath, CACHE_SCOPE: 'private' },
    }).function;
    this.api = dicomWebRestApi(this, 'Api', { description: 'DICOMweb of the disaster-recovery replica: searches and retrievals (read-only)', logKey: props.replica.key });
    const integration = new apigateway.LambdaIntegration(this.function, { proxy: true });
    const validator = this.api.addRequestValidator('Parameters', { validateRequestParameters: true, validateRequestBody: true });
    const proxy = this.api.root.addResource(props.basePath.replace(/^\//, '')).addResource('{proxy+}');
    // Writes reach the function too, so that they get its explanation (503, read-only replica) rather
    // than API Gateway's "Missing Authentication Token".
    for (const verb of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE']) {
      proxy.addMethod(verb, integration, { authorizationType: apigateway.AuthorizationType.NONE, requestValidator: validator, requestParameters: { 'method.request.path.proxy': true } });
    }
    // The audit trail's read API (the function checks for the scope dicomweb/audit).
    const audit = this.api.root.addResource('audit').addResource('{proxy+}');
    for (const verb of ['GET', 'HEAD']) {
      audit.addMethod(verb, integration, { authorizationType: apigateway.AuthorizationType.NONE, requestValidator: validator, requestParameters: { 'method.request.path.proxy': true } });
    }
    Validations.of(this.api).acknowledge(
      { id: 'AwsSolutions-APIG4', reason: 'Every method checks a Cognito access token in the function, against the copy of the user pool\'s keys in the index table\'s replica: an API Gateway Cognito authorizer would need the primary region\'s user pool, which this API must outlive.' },
      { id: 'AwsSolutions-COG4', reason: 'Tokens are checked in the function against the replicated keys (see AwsSolutions-APIG4); the user pool itself lives in the primary region.' },
    );
    Validations.of(this.function).acknowledge(
      { id: 'HIPAA.Security-LambdaDLQ', reason: 'API Gateway invokes the function synchronously; a dead-letter queue only applies to asynchronous invocations.' },
      { id: 'HIPAA.Security-LambdaInsideVPC', reason: 'The function calls only S3 and DynamoDB over TLS with IAM; it has no VPC resources to reach.' },
    );
  }
}
