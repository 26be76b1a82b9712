// The DICOMweb API: the archive's Hono application as one arm64 Lambda function (bundled by esbuild,
// no Docker) behind an API Gateway REST API that passes binary bodies, checks a Cognito token with the
// right scope on every method, and logs every request.
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { INDEX_TABLE_SCHEMA } from '../../lambdas/storage/aws/dynamodb-index.js';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';
import type { ArchiveStorage } from './archive-storage.js';
import type { Auth } from './auth.js';

export interface DicomWebApiProps {
  storage: ArchiveStorage;
  auth: Auth;
  reservedConcurrency: number;
}

export const DICOMWEB_BASE_PATH = '/dicomweb';
const repoFile = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

export class DicomWebApi extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly api: apigateway.RestApi;

  constructor(scope: Construct, id: string, props: DicomWebApiProps) {
    super(scope, id);
    const { storage, auth } = props;
    const stack = Stack.of(this);
    const functionLogs = new logs.LogGroup(this, 'FunctionLogs', { retention: logs.RetentionDays.ONE_YEAR, encryptionKey: storage.key });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'The DICOMweb function: its own objects, index, events queue and logs, nothing else',
    });
    // A customer managed policy with the exact actions and resources (no inline policy, no AWS managed policy).
    const indexArns = [storage.index.tableArn, ...INDEX_TABLE_SCHEMA.indexes.map((i) => `${storage.index.tableArn}/index/${i.IndexName}`)];
    const policy = new iam.ManagedPolicy(this, 'Policy', {
      statements: [
        new iam.PolicyStatement({
          actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
          resources: [storage.archive.arnForObjects('originals/*'), storage.archive.arnForObjects('metadata/*')],
        }),
        new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [storage.archive.bucketArn] }),
        new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [storage.key.keyArn] }),
        new iam.PolicyStatement({
          actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem'],
          resources: indexArns,
        }),
        new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [storage.events.queueArn] }),
        new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [`${functionLogs.logGroupArn}:*`] }),
        new iam.PolicyStatement({ actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], resources: ['*'] }),
      ],
    });
    role.addManagedPolicy(policy);
    Validations.of(policy).acknowledge(
      { id: 'AwsSolutions-IAM5[Resource::<StorageArchiveEF4C9845.Arn>/originals/*]', reason: 'Originals are content-addressed (originals/<sha256>.dcm): their keys are not known when the policy is written; the prefix is the narrowest scope.' },
      { id: 'AwsSolutions-IAM5[Resource::<StorageArchiveEF4C9845.Arn>/metadata/*]', reason: 'Metadata too large for the index is stored under metadata/<sha256>; the prefix is the narrowest scope.' },
      { id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(functionLogs.node.defaultChild as logs.CfnLogGroup)}.Arn>:*]`, reason: 'Lambda creates one log stream per execution environment, named at run time, in this one log group.' },
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'X-Ray PutTraceSegments and PutTelemetryRecords do not support resource-level permissions.' },
    );
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: repoFile('lambdas/aws/handlers/dicomweb-api.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 1769, // one full vCPU
      timeout: Duration.seconds(29), // API Gateway's integration timeout
      reservedConcurrentExecutions: props.reservedConcurrency,
      tracing: lambda.Tracing.ACTIVE,
      // The role's permissions are all in the managed policy above; nothing may add an inline policy.
      role: role.withoutPolicyUpdates(),
      logGroup: functionLogs,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: {
        ARCHIVE_BUCKET: storage.archive.bucketName,
        INDEX_TABLE: storage.index.tableName,
        EVENTS_QUEUE_URL: storage.events.queueUrl,
        DICOMWEB_BASE_PATH,
        // Requests above this go to the streaming runtime before they reach the function.
        MAX_REQUEST_BYTES: String(6 * 1024 * 1024),
      },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: 'node22',
        minify: true,
        sourceMap: true,
        mainFields: ['module', 'main'],
        // The SDK is bundled, not taken from the runtime: the version the tests ran, and a minified bundle
        // loads in about half the time of the runtime's node_modules copy (npm run bench:lambda).
        externalModules: [],
        // Bundled CommonJS dependencies still call require().
        banner: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
        tsconfig: repoFile('tsconfig.json'),
      },
    });

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: logs.RetentionDays.ONE_YEAR, encryptionKey: storage.key });
    this.api = new apigateway.RestApi(this, 'Api', {
      description: 'DICOMweb (PS3.18): STOW-RS, QIDO-RS, WADO-RS and delete',
      binaryMediaTypes: ['*/*'],
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      cloudWatchRole: true,
      deployOptions: {
        stageName: 'prod',
        accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        tracingEnabled: true,
        metricsEnabled: true,
      },
      defaultCorsPreflightOptions: {
        allowOrigins: apigateway.Cors.ALL_ORIGINS,
        allowMethods: ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS'],
        allowHeaders: ['Authorization', 'Content-Type', 'Accept', 'If-None-Match'],
        exposeHeaders: ['Warning', 'ETag', 'Content-Location', 'Content-Type'],
        maxAge: Duration.minutes(10),
      },
    });
    const authorizer = new apigateway.CognitoUserPoolsAuthorizer(this, 'Authorizer', { cognitoUserPools: [auth.userPool] });
    const validator = this.api.addRequestValidator('Parameters', { validateRequestParameters: true, validateRequestBody: true });
    const integration = new apigateway.LambdaIntegration(this.function, { proxy: true });
    const proxy = this.api.root.addResource('dicomweb').addResource('{proxy+}');
    const method = (verb: string, scope: keyof Auth['scopes']) =>
      proxy.addMethod(verb, integration, {
        authorizer,
        authorizationType: apigateway.AuthorizationType.COGNITO,
        authorizationScopes: [auth.scopes[scope].scopeName],
        requestValidator: validator,
        requestParameters: { 'method.request.path.proxy': true },
      });
    method('GET', 'read');
    method('HEAD', 'read');
    method('POST', 'write');
    method('DELETE', 'delete');

    Validations.of(this.api).acknowledge(
      { id: 'AwsSolutions-APIG4', reason: 'Only the CORS preflight (OPTIONS, a mock integration that returns headers) is unauthenticated; browsers send it without credentials.' },
      { id: 'AwsSolutions-COG4', reason: 'Only the CORS preflight (OPTIONS) has no Cognito authorizer; every DICOMweb method has one.' },
      { id: 'AwsSolutions-APIG3', reason: 'A WAF web ACL is attached at the CloudFront distribution in front of this API (planned; see docs/aws.md).' },
      { id: 'HIPAA.Security-APIGWCacheEnabledAndEncrypted', reason: 'Responses carry patient data and are cached only at CloudFront for immutable resources; the API Gateway cache stays off.' },
      { id: 'HIPAA.Security-APIGWSSLEnabled', reason: 'Client certificates to the backend are for HTTP integrations; this API invokes Lambda through AWS, not over HTTP.' },
      { id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]', reason: 'The account-wide role API Gateway writes execution logs with; this AWS managed policy is the one AWS documents for it and grants only CloudWatch Logs.' },
    );
    Validations.of(this.function).acknowledge(
      { id: 'HIPAA.Security-LambdaDLQ', reason: 'API Gateway invokes the function synchronously; a dead-letter queue only applies to asynchronous invocations.' },
      { id: 'HIPAA.Security-LambdaInsideVPC', reason: 'The function calls only S3, DynamoDB and SQS over TLS with IAM; it has no VPC resources to reach.' },
    );
  }
}
