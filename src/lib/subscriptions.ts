// Helpers for subscription streams.

/**
 * Passes events through while `allowed(event)` holds, checked again before each event. Once it no longer holds, emits
 * `revoked` once (so the resolver can tell the client why) and ends the stream, releasing the source.
 */
export function whileAllowed<T, R>(
  source: AsyncIterable<T>,
  allowed: (event: T) => Promise<boolean>,
  revoked: R,
): AsyncIterableIterator<T | R> {
  const it = source[Symbol.asyncIterator]();
  let finished = false;
  const end = (): IteratorReturnResult<undefined> => ({ done: true, value: undefined });
  const stop = async () => {
    finished = true;
    await it.return?.();
  };
  return {
    async next(): Promise<IteratorResult<T | R, undefined>> {
      if (finished) return end();
      const r = await it.next();
      if (r.done) {
        finished = true;
        return end();
      }
      if (await allowed(r.value)) return r;
      await stop();
      return { done: false, value: revoked };
    },
    async return() {
      await stop();
      return end();
    },
    async throw(err?: unknown) {
      await stop();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
