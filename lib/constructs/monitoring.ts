// What operators watch: one CloudWatch dashboard for the request path, the index and the queues, and
// alarms (to an SNS topic, optionally e-mailed) for errors, throttling and dead letters.
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../../lambdas/aws/metrics-namespace.js';
import type { AiPipeline } from './ai-pipeline.js';
import type { ArchiveStorage } from './archive-storage.js';
import type { BulkImport } from './bulk-import.js';
import type { DicomWebApi } from './dicomweb-api.js';
import type { Maintenance } from './maintenance.js';
import type { StreamingRuntime } from './streaming-runtime.js';

export interface MonitoringProps {
  storage: ArchiveStorage;
  api: DicomWebApi;
  bulkImport?: BulkImport;
  ai?: AiPipeline;
  streaming?: StreamingRuntime;
  maintenance?: Maintenance;
  alarmEmail?: string;
}

export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { storage, api } = props;
    this.topic = new sns.Topic(this, 'Alarms', { masterKey: storage.key, enforceSSL: true, displayName: 'PACS alarms' });
    // CloudWatch publishes alarms to the encrypted topic, so it needs the key.
    storage.key.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey');
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    const fiveMinutes = Duration.minutes(5);
    const alarm = (name: string, metric: cloudwatch.IMetric, threshold: number, description: string) => {
      const a = new cloudwatch.Alarm(this, name, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      a.addAlarmAction(new actions.SnsAction(this.topic));
      this.alarms.push(a);
    };
    const fn = api.function;
    const ddb = (metricName: string) =>
      new cloudwatch.Metric({ namespace: 'AWS/DynamoDB', metricName, dimensionsMap: { TableName: storage.index.tableName }, statistic: 'Sum', period: fiveMinutes });
    alarm('ApiServerErrors', api.api.metricServerError({ period: fiveMinutes, statistic: 'Sum' }), 5, 'DICOMweb API answered 5xx five times or more in five minutes');
    alarm('FunctionErrors', fn.metricErrors({ period: fiveMinutes }), 1, 'The DICOMweb function failed (crash or timeout)');
    alarm('FunctionThrottles', fn.metricThrottles({ period: fiveMinutes }), 1, 'The DICOMweb function hit its reserved concurrency');
    alarm('IndexThrottles', new cloudwatch.MathExpression({ expression: 'r + w', usingMetrics: { r: ddb('ReadThrottleEvents'), w: ddb('WriteThrottleEvents') }, period: fiveMinutes }), 1, 'The index table throttled reads or writes');
    const { bulkImport } = props;
    if (bulkImport) {
      alarm('ImportDeadLetters', bulkImport.deadLetters.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: 'Maximum' }), 1, 'Files dropped for bulk import could not be imported and their notifications are in the dead-letter queue');
      alarm('ImportErrors', bulkImport.function.metricErrors({ period: fiveMinutes }), 1, 'The bulk-import function failed');
    }
    alarm('EventDeadLetters', storage.eventsDeadLetters.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: 'Maximum' }), 1, 'Archive events could not be processed and are in the dead-letter queue');

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: undefined, defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'DICOMweb requests', left: [api.api.metricCount({ period: Duration.minutes(1) })], right: [api.api.metricClientError({ period: Duration.minutes(1) }), api.api.metricServerError({ period: Duration.minutes(1) })] }),
      new cloudwatch.GraphWidget({ title: 'Latency (p50, p95)', left: [api.api.metricLatency({ statistic: 'p50' }), api.api.metricLatency({ statistic: 'p95' })] }),
      new cloudwatch.GraphWidget({ title: 'Function', left: [fn.metricInvocations(), fn.metricErrors(), fn.metricThrottles()], right: [fn.metricDuration({ statistic: 'p95' })] }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Index capacity', left: [ddb('ConsumedReadCapacityUnits'), ddb('ConsumedWriteCapacityUnits')], right: [ddb('ReadThrottleEvents'), ddb('WriteThrottleEvents')] }),
      new cloudwatch.GraphWidget({ title: 'Events', left: [storage.events.metricApproximateNumberOfMessagesVisible(), storage.eventsDeadLetters.metricApproximateNumberOfMessagesVisible()] }),
      ...(bulkImport
        ? [new cloudwatch.GraphWidget({ title: 'Bulk import', left: [bulkImport.queue.metricApproximateNumberOfMessagesVisible(), bulkImport.deadLetters.metricApproximateNumberOfMessagesVisible()], right: [bulkImport.function.metricInvocations(), bulkImport.function.metricErrors()] })]
        : []),
    );
    if (props.maintenance) alarm('SweepErrors', props.maintenance.sweepFunction.metricErrors({ period: Duration.hours(1) }), 1, 'The weekly sweep of unreferenced originals failed');
    if (props.maintenance?.tokenKeysFunction) {
      // Two failed runs in a row: the replica's copy of the signing keys may be going stale.
      alarm('TokenKeysErrors', props.maintenance.tokenKeysFunction.metricErrors({ period: Duration.minutes(30) }), 2, 'Copying the user pool\'s signing keys for the DR read API failed twice in 30 minutes');
    }
    if (props.streaming) {
      const lb = props.streaming.loadBalancer.metrics;
      alarm('StreamingServerErrors', lb.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: fiveMinutes, statistic: 'Sum' }), 5, 'The streaming runtime answered 5xx five times or more in five minutes');
      alarm('StreamingNoHealthyTask', new cloudwatch.MathExpression({ expression: 'IF(h < 1, 1, 0)', usingMetrics: { h: props.streaming.targetGroup.metrics.healthyHostCount({ period: Duration.minutes(1), statistic: 'Minimum' }) }, period: Duration.minutes(1) }), 1, 'No healthy streaming task: large uploads and retrievals fail');
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({ title: 'Streaming runtime', left: [lb.requestCount({ period: Duration.minutes(1) }), lb.activeConnectionCount({ period: Duration.minutes(1) })], right: [lb.processedBytes({ period: Duration.minutes(1) })] }),
        new cloudwatch.GraphWidget({ title: 'Streaming tasks', left: [props.streaming.service.metricCpuUtilization(), props.streaming.service.metricMemoryUtilization()] }),
      );
    }
    if (props.ai) this.watchAi(props.ai, alarm);
    this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 }));
  }

  /** Per analyser: dead letters, crashes, failures and drift alarm; latency and rates on the dashboard. */
  private watchAi(ai: AiPipeline, alarm: (name: string, metric: cloudwatch.IMetric, threshold: number, description: string) => void): void {
    const fifteenMinutes = Duration.minutes(15);
    const aiMetric = (metricName: string, analyser: string, statistic: string, period = fifteenMinutes) =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { Analyser: analyser, service: metricName === 'DriftDetected' ? 'ai-readiness' : 'ai-worker' }, statistic, period });
    alarm('AiEventErrors', ai.eventsFunction.metricErrors({ period: Duration.minutes(5) }), 1, 'The AI events function failed: arrivals may not be recorded');
    alarm('AiDispatchErrors', ai.readinessFunction.metricErrors({ period: Duration.minutes(5) }), 1, 'The AI dispatch function failed: ready studies may wait');
    alarm('AiReadinessDeadLetters', ai.readinessDeadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }), 1, 'Readiness checks failed repeatedly');
    for (const a of ai.analysers) {
      const name = a.id.replace(/(^|-)(\w)/g, (_m, _d: string, c: string) => c.toUpperCase());
      alarm(`Ai${name}DeadLetters`, a.deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }), 1, `Jobs of the ${a.id} analyser failed every attempt and are in its dead-letter queue`);
      alarm(`Ai${name}Crashes`, a.worker.metricErrors({ period: Duration.minutes(5) }), 1, `The ${a.id} worker crashed or timed out`);
      alarm(`Ai${name}Failures`, aiMetric('AnalysisFailed', a.id, 'Sum'), 3, `The ${a.id} analyser recorded three or more failed analyses in 15 minutes`);
      alarm(`Ai${name}Drift`, aiMetric('DriftDetected', a.id, 'Maximum', Duration.hours(1)), 1, `The ${a.id} analyser's recent outputs depart from its baseline (GET /ai/metrics says how)`);
    }
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'AI latency p95 (ms)', left: ai.analysers.map((a) => aiMetric('AnalysisLatency', a.id, 'p95', Duration.minutes(5)).with({ label: a.id })) }),
      new cloudwatch.GraphWidget({ title: 'AI positives', left: ai.analysers.map((a) => aiMetric('AnalysisPositive', a.id, 'Sum', Duration.hours(1)).with({ label: a.id })) }),
      new cloudwatch.GraphWidget({ title: 'AI failed / not analysed', left: ai.analysers.map((a) => aiMetric('AnalysisFailed', a.id, 'Sum', Duration.hours(1)).with({ label: a.id })), right: ai.analysers.map((a) => aiMetric('AnalysisNotAnalysed', a.id, 'Sum', Duration.hours(1)).with({ label: a.id })) }),
      new cloudwatch.GraphWidget({ title: 'AI queues', left: ai.analysers.map((a) => a.queue.metricApproximateNumberOfMessagesVisible({ label: a.id })) }),
    );
  }
}
