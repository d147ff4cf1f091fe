// The process's place in its life: serving, or draining before exit. Shared through Services so the HTTP layer
// (health, refusals) and the completion stream (ends with SERVER_SHUTTING_DOWN) read the same state.
import { setMaxListeners } from 'node:events';

export interface Lifecycle {
  /** True from the moment shutdown begins: /healthz answers 503 and new operations are refused. */
  readonly draining: boolean;
  /** Aborted when the grace period ends: completions still running end with SERVER_SHUTTING_DOWN. */
  readonly shutdownSignal: AbortSignal;
  /** Completions currently streaming. */
  readonly inFlight: number;
  /** Counts a completion stream as in flight until it ends, however it ends. */
  track<T>(stream: AsyncGenerator<T>): AsyncGenerator<T>;
  /** Counts an answer's run (which may have no listener: detached) until it ends: the grace period waits for it too. */
  trackRun<T>(run: AsyncGenerator<T>): AsyncGenerator<T>;
  /** Streams in flight or runs still producing. */
  readonly busy: boolean;
}

export class ProcessLifecycle implements Lifecycle {
  draining = false;
  inFlight = 0;
  private runs = 0;
  private readonly cutoff = new AbortController();
  private idleWaiters: (() => void)[] = [];

  constructor() {
    // Every completion in flight listens on this process-long signal, and stops listening once it is settled
    // (ivy-stream.ts): the listeners are bounded by the completions in flight, not a leak. Node's default warning at
    // 11 listeners fired under any real load (issue 10: 64 in flight); a test checks they all go once settled.
    setMaxListeners(0, this.cutoff.signal);
  }

  get shutdownSignal(): AbortSignal {
    return this.cutoff.signal;
  }

  beginDrain(): void {
    this.draining = true;
  }

  /** Ends the grace period: running completions are told to stop. */
  cutOff(): void {
    this.cutoff.abort(new Error('server shutting down'));
  }

  get busy(): boolean {
    return this.inFlight > 0 || this.runs > 0;
  }

  /** Resolves when no completion is in flight and no answer is being produced. */
  idle(): Promise<void> {
    return !this.busy ? Promise.resolve() : new Promise((r) => this.idleWaiters.push(r));
  }

  trackRun<T>(run: AsyncGenerator<T>): AsyncGenerator<T> {
    return this.track(run, 'runs');
  }

  track<T>(stream: AsyncGenerator<T>, counter: 'inFlight' | 'runs' = 'inFlight'): AsyncGenerator<T> {
    this[counter]++;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      this[counter]--;
      if (!this.busy) this.idleWaiters.splice(0).forEach((wake) => wake());
    };
    const tracked: AsyncGenerator<T> = {
      next: (...args) =>
        stream.next(...args).then(
          (r) => (r.done && end(), r),
          (err) => (end(), Promise.reject(err)),
        ),
      return: (value) => stream.return(value).finally(end),
      throw: (err) => stream.throw(err).finally(end),
      [Symbol.asyncIterator]: () => tracked,
      [Symbol.asyncDispose]: async () => {
        await tracked.return(undefined);
      },
    } as AsyncGenerator<T>;
    return tracked;
  }
}
