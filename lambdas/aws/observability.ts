// Structured logs, metrics and traces for the archive's Lambda functions, by Powertools for AWS Lambda:
// JSON logs with the request id, CloudWatch metrics in the embedded metric format (no API calls) and
// X-Ray subsegments for every AWS SDK call.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { AwsClients } from '../storage/aws/create.js';
import { METRICS_NAMESPACE } from './metrics-namespace.js';


export interface Observability {
  logger: Logger;
  metrics: Metrics;
  tracer: Tracer;
}

export function observability(serviceName: string): Observability {
  return {
    logger: new Logger({ serviceName }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName }),
    tracer: new Tracer({ serviceName }),
  };
}

/** Traces every call the clients make (a no-op outside Lambda). */
export function traced<C extends AwsClients>(tracer: Tracer, clients: C): C {
  for (const client of Object.values(clients)) tracer.captureAWSv3Client(client);
  return clients;
}
