// Lazy, once-per-process set-up (a client, a module, a composed pipeline) that is tried again when it
// fails: a transient error during a cold start must not leave the execution environment broken for
// every later invocation, as a cached rejected promise would.
export function cachedUntilRejected<T>(make: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= make().catch((e: unknown) => {
      pending = undefined;
      throw e;
    });
    return pending;
  };
}
