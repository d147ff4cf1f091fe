// A stream wrapper that frees a resource (a concurrency slot) exactly once when the stream ends, whichever way:
// it completes, the client unsubscribes or its socket drops (return()), or the producer fails (next() rejects).
// The end is reported only once the resource is free, so a client told "complete" may start again at once.

export function releaseOnEnd<T>(source: AsyncGenerator<T>, release: () => Promise<void>): AsyncGenerator<T> {
  let released: Promise<void> | undefined;
  const free = () => (released ??= release());
  const wrapper = {
    async next(...args: [] | [unknown]) {
      try {
        const r = await source.next(...args);
        if (r.done) await free();
        return r;
      } catch (err) {
        await free();
        throw err;
      }
    },
    async return(value?: unknown) {
      try {
        return await source.return(value);
      } finally {
        await free();
      }
    },
    async throw(err?: unknown) {
      try {
        return await source.throw(err);
      } finally {
        await free();
      }
    },
    [Symbol.asyncIterator]() {
      return wrapper;
    },
    async [Symbol.asyncDispose]() {
      await wrapper.return();
    },
  };
  return wrapper as AsyncGenerator<T>;
}
