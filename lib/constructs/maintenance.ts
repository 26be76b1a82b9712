// Housekeeping on a schedule: once a week, originals that no index entry references and that are older
// than a day (a store that failed between writing its original and committing it) are removed. With a
// disaster-recovery region, every 15 minutes the user pool's public signing keys are copied into the
// index table, whose replica there serves the DR read API's token checks (lambdas/aws/auth/token-keys.ts).
import { Duration, Validations } from 'aws-cdk-lib';
import type * as cognito from 'aws-cdk-lib/aws-cognito';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { TOKEN_KEYS_ITEM_KEY } from '../../lambdas/aws/auth/token-keys.js';
import { readWriteAccess } from './archive-access.js';
import { ArchiveFunction } from './archive-function.js';
import type { ArchiveStorage } from './archive-storage.js';

export interface MaintenanceProps {
  storage: ArchiveStorage;
  /** With a DR region: the user pool whose signing keys the replica's read API needs. */
  tokenKeysOf?: cognito.IUserPool;
}

export class Maintenance extends Construct {
  readonly sweepFunction: lambda.Function;
  readonly tokenKeysFunction?: lambda.Function;

  constructor(scope: Construct, id: string, props: MaintenanceProps) {
    super(scope, id);
    this.sweepFunction = new ArchiveFunction(this, 'SweepOrphans', {
      access: readWriteAccess(props.storage),
      entry: 'lambdas/aws/handlers/sweep-orphans.ts',
      description: 'Removes originals of stores that never committed (older than a day)',
      memorySize: 512,
      timeout: Duration.minutes(15),
      reservedConcurrency: 1,
      environment: { SWEEP_MIN_AGE_HOURS: '24' },
    }).function;
    new events.Rule(this, 'Weekly', {
      description: 'Weekly sweep of unreferenced originals',
      schedule: events.Schedule.cron({ weekDay: 'SUN', hour: '3', minute: '0' }),
      targets: [new targets.LambdaFunction(this.sweepFunction, { retryAttempts: 2 })],
    });
    Validations.of(this.sweepFunction).acknowledge(
      { id: 'HIPAA.Security-LambdaDLQ', reason: 'Invoked by a weekly schedule with retries; a failed sweep changes nothing and the next one covers the same originals.' },
      { id: 'HIPAA.Security-LambdaInsideVPC', reason: 'The function calls only S3 and DynamoDB over TLS with IAM; it has no VPC resources to reach.' },
    );
  
    if (props.tokenKeysOf) this.tokenKeysFunction = this.tokenKeysSnapshot(props.storage, props.tokenKeysOf);
  }

  private tokenKeysSnapshot(storage: ArchiveStorage, userPool: cognito.IUserPool): lambda.Function {
    const fn = new ArchiveFunction(this, 'TokenKeys', {
      // Only the one item it keeps, not the index.
      access: {
        logKey: storage.key,
        statements: [
          new iam.PolicyStatement({
            actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
            resources: [storage.index.tableArn],
            conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [TOKEN_KEYS_ITEM_KEY.pk] } },
          }),
        ],
        acknowledgements: [],
        environment: { INDEX_TABLE: storage.index.tableName },
      },
      entry: 'lambdas/aws/handlers/token-keys-snapshot.ts',
      description: 'Copies the user pool\'s public signing keys for the disaster-recovery read API',
      memorySize: 256,
      timeout: Duration.seconds(30),
      reservedConcurrency: 1,
      environment: { USER_POOL_ID: userPool.userPoolId },
    }).function;
    new events.Rule(this, 'TokenKeysSchedule', {
      description: 'Copies the user pool\'s signing keys for the DR read API every 15 minutes',
      schedule: events.Schedule.rate(Duration.minutes(15)),
      targets: [new targets.LambdaFunction(fn, { retryAttempts: 2 })],
    });
    Validations.of(fn).acknowledge(
      { id: 'HIPAA.Security-LambdaDLQ', reason: 'Invoked every 15 minutes with retries; a failed copy leaves the previous one in place, the next run repeats it, and an alarm reports failures.' },
      { id: 'HIPAA.Security-LambdaInsideVPC', reason: 'The function calls only Cognito\'s public JWKS endpoint and DynamoDB over TLS; it has no VPC resources to reach.' },
    );
    return fn;
  }
}
