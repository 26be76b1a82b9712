// X-Ray subsegments for every AWS SDK call a function makes (Powertools Tracer; a no-op outside Lambda).
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { AwsClients } from '../storage/aws/create.js';

export function tracedClients<C extends Partial<AwsClients>>(serviceName: string, clients: C): C {
  const tracer = new Tracer({ serviceName });
  for (const client of Object.values(clients)) if (client) tracer.captureAWSv3Client(client);
  return clients;
}
