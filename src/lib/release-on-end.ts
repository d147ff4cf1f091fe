// A stream wrapper that frees a resource (a concurrency slot) exactly once when the stream ends, whichever way:
// it completes, the client unsubscribes or its socket drops (return()), or the producer fails (next() rejects).

export function releaseOnEnd<T>(source: AsyncGenerator<T>, release: () => void): AsyncGenerator<T> {
  let released = false;
  const free = () => {
    if (released) return;
    released = true;
    release();
  };
  const wrapper = {
    async next(...args: [] | [unknown]) {
      try {
        const r = await source.next(...args);
        if (r.done) free();
        return r;
      } catch (err) {
        free();
        throw err;
      }
    },
    async return(value?: unknown) {
      try {
        return await source.return(value as any);
      } finally {
        free();
      }
    },
    async throw(err?: unknown) {
      try {
        return await source.throw(err);
      } finally {
        free();
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
