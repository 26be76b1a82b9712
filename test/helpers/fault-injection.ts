// SDK middleware that makes AWS calls fail the way AWS does under load: throttling and 5xx, either
// before the request is sent (nothing happened) or after it was carried out (the answer is lost).
// It sits inside the SDK's retry loop, so the SDK's own retries see every injected fault.
import type { FinalizeRequestMiddleware, MetadataBearer, MiddlewareStack } from '@smithy/types';

export interface FaultPlan {
  /** Share of calls (0–1) that fail. */
  rate: number;
  /** Operation names (e.g. PutObjectCommand) that may fail; all when unset. */
  operations?: string[];
  seed: number;
}

export interface FaultCounter {
  injected: number;
  afterSuccess: number;
  enabled: boolean;
}

function randomFrom(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

function fault(kind: number): Error {
  const throttle = kind < 0.5;
  return Object.assign(new Error(throttle ? 'Rate exceeded (injected)' : 'We encountered an internal error (injected)'), {
    name: throttle ? 'ThrottlingException' : 'InternalServerError',
    $fault: throttle ? 'client' : 'server',
    $metadata: { httpStatusCode: throttle ? 400 : 500 },
    ...(throttle ? { $retryable: { throttling: true } } : {}),
  });
}

/** The part of an SDK client this needs: every v3 client has a middleware stack. */
interface WithMiddleware {
  middlewareStack: MiddlewareStack<object, MetadataBearer>;
}

export function injectFaults(client: WithMiddleware, plan: FaultPlan, counter: FaultCounter): void {
  const random = randomFrom(plan.seed);
  const middleware: FinalizeRequestMiddleware<object, MetadataBearer> = (next, context) => async (args) => {
    const operation = (context as { commandName?: string }).commandName ?? '';
    if (!counter.enabled || (plan.operations && !plan.operations.includes(operation)) || random() >= plan.rate) return next(args);
    counter.injected++;
    const kind = random();
    if (random() < 0.5) throw fault(kind);
    // The call is carried out, and then its answer is lost.
    await next(args);
    counter.afterSuccess++;
    throw fault(kind);
  };
  client.middlewareStack.add(middleware, { step: 'finalizeRequest', priority: 'low', name: 'injectFaults' });
}
