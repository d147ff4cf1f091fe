// An answer being produced on this instance: its run goes on whether or not anyone listens. A client that presses Stop
// cancels it at once; a client that goes away only detaches, and the run is cancelled RESUME_WINDOW_MS after the
// last listener left (here or, through Redis, on another instance) unless someone comes back.
import { AnswerLog, type IndexedEvent } from './answer-log.ts';
import type { AcceptedCompletion } from './ivy.ts';
import type { Services } from './services.ts';

/** Why a reader's read of the log is aborted: it left. */
const LEFT = new Error('the reader left');

export interface AttachOptions {
  /** Aborted when the client goes away (an SSE request closed): it detaches. */
  clientGone?: AbortSignal;
  /** Asked when the consumer calls return(): true when that means Stop (graphql-ws `complete` on an open socket). */
  stopOnReturn?: () => boolean;
}

export class LiveAnswer {
  readonly log = new AnswerLog();
  private listeners = 0;
  private detachedAt = 0;
  private timer?: NodeJS.Timeout;
  private stopping = false;
  /** Last time a reader on another instance said it listens (Date.now()). */
  remoteSeenAt = 0;

  constructor(
    private readonly s: Services,
    readonly c: AcceptedCompletion,
    private readonly cancelRun: () => Promise<unknown>,
  ) {}

  /** Stop: the upstream request is aborted at once and the answer billed for what it produced. */
  stop(): Promise<unknown> {
    this.stopping = true;
    clearTimeout(this.timer);
    return this.cancelRun();
  }

  /** The run appended its last event: no window to keep. */
  ended(): void {
    clearTimeout(this.timer);
  }

  /** Reads the events after `after`, then the live rest; counts as a listener until it ends or leaves. */
  attach(after: number, opts: AttachOptions = {}): AsyncGenerator<IndexedEvent> {
    this.count(+1);
    const reading = new AbortController();
    const inner = this.log.read(after, reading.signal);
    let left = false;
    const leave = () => {
      if (left) return;
      left = true;
      reading.abort(LEFT); // a reason of our own: no DOMException (and its stack trace) per reader
      opts.clientGone?.removeEventListener('abort', leave);
      this.count(-1);
    };
    if (opts.clientGone?.aborted) leave();
    else opts.clientGone?.addEventListener('abort', leave, { once: true });
    const wrapper: AsyncGenerator<IndexedEvent> = {
      next: (...args) =>
        inner.next(...args).then((r) => {
          if (r.done) leave();
          return r;
        }),
      return: async (value) => {
        const stop = !left && !this.log.ended && opts.stopOnReturn?.() === true;
        if (stop) this.stopping = true;
        leave();
        await Promise.all([stop ? this.stop() : undefined, inner.return(value)]);
        return { done: true, value };
      },
      throw: async (err) => {
        leave();
        await inner.return(undefined);
        throw err;
      },
      [Symbol.asyncIterator]: () => wrapper,
    } as AsyncGenerator<IndexedEvent>;
    return wrapper;
  }

  private count(delta: number) {
    this.listeners += delta;
    const { completionId, requestId } = this.c;
    if (delta > 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.s.events.emit('answer-attached', { completionId, requestId });
    } else if (this.listeners === 0 && !this.log.ended && !this.stopping) {
      this.detachedAt = Date.now();
      this.arm(this.s.config.resumeWindowMs);
      this.s.events.emit('answer-detached', { completionId, requestId });
    }
  }

  /** The window runs from the moment the last listener left, here or on another instance. */
  private arm(ms: number) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.listeners > 0 || this.log.ended) return;
      const lastRemote = this.remoteSeenAt ? this.remoteSeenAt + 2 * this.s.config.resumeOwnerCheckMs : 0;
      const deadline = Math.max(this.detachedAt, lastRemote) + this.s.config.resumeWindowMs;
      if (Date.now() < deadline) return this.arm(deadline - Date.now());
      this.s.log.info('nobody came back for a detached answer: cancelled', { completionId: this.c.completionId });
      void this.stop();
    }, ms);
    this.timer.unref();
  }
}
