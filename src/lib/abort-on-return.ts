// A stream wrapper for subscriptions whose producer awaits network I/O.

/**
 * Wraps a stream so that return() (client unsubscribed or disconnected) aborts the upstream request first. An async
 * generator suspended in an `await` would otherwise only notice at its next `yield`.
 */
export function abortOnReturn<T>(make: (signal: AbortSignal) => AsyncGenerator<T>, external?: AbortSignal): AsyncGenerator<T> {
  const controller = new AbortController();
  const onExternalAbort = () => controller.abort();
  external?.addEventListener('abort', onExternalAbort, { once: true });
  const inner = make(controller.signal);
  const cleanup = () => external?.removeEventListener('abort', onExternalAbort);
  const wrapper: AsyncGenerator<T> = {
    next: (...args) => inner.next(...args).then((r) => (r.done && cleanup(), r)),
    return: (value) => {
      controller.abort();
      cleanup();
      return inner.return(value as any);
    },
    throw: (err) => {
      controller.abort();
      cleanup();
      return inner.throw(err);
    },
    [Symbol.asyncIterator]() {
      return wrapper;
    },
    [Symbol.asyncDispose]: async () => {
      await wrapper.return(undefined as any);
    },
  } as AsyncGenerator<T>;
  return wrapper;
}
