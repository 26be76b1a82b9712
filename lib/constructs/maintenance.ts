// Housekeeping on a schedule: once a week, originals that no index entry references and that are older
// than a day (a store that failed between writing its original and committing it) are removed.
import { Duration, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { ArchiveFunction } from './archive-function.js';
import type { ArchiveStorage } from './archive-storage.js';

export class Maintenance extends Construct {
  readonly sweepFunction: lambda.Function;

  constructor(scope: Construct, id: string, props: { storage: ArchiveStorage }) {
    super(scope, id);
    this.sweepFunction = new ArchiveFunction(this, 'SweepOrphans', {
      storage: props.storage,
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
  }
}
