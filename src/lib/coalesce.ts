// Coalesces "org X changed" signals: one delivery per burst of changes to an org, however many changes the burst had.
//
// Two layers. Inside one GraphQL operation (100 aliased mutations are one operation) every change is collected and
// counts once, when the operation ends: deterministic, whatever the database's speed. Across operations, a short
// trailing debounce merges a burst: an org is delivered once it has been quiet for `quietMs`, and never later than
// `maxDelayMs` after its first pending change, so a steady trickle still gets through.
import { AsyncLocalStorage } from 'node:async_hooks';

export interface CoalesceOptions {
  quietMs: number;
  maxDelayMs: number;
}

interface Pending {
  quiet: NodeJS.Timeout;
  deadline: number;
}

interface Batch {
  open: boolean;
  keys: Set<string>;
}

export class Coalescer {
  private readonly pending = new Map<string, Pending>();
  private readonly batches = new AsyncLocalStorage<Batch>();
  private idleWaiters: (() => void)[] = [];
  /** How many deliveries each key has had (test hook: "how many events did this burst cause?"). */
  readonly delivered = new Map<string, number>();

  constructor(
    private readonly deliver: (key: string) => void,
    private readonly opts: CoalesceOptions,
  ) {}

  /** Records a change; delivered later, once per burst. */
  changed(key: string): void {
    const batch = this.batches.getStore();
    if (batch?.open) {
      batch.keys.add(key);
      return;
    }
    const now = Date.now();
    const existing = this.pending.get(key);
    if (existing) clearTimeout(existing.quiet);
    const deadline = existing?.deadline ?? now + this.opts.maxDelayMs;
    const wait = Math.max(0, Math.min(this.opts.quietMs, deadline - now));
    this.pending.set(key, { deadline, quiet: setTimeout(() => this.flush(key), wait) });
  }

  /** Runs `fn` (one GraphQL operation), collecting its changes; they are scheduled once each when it ends. */
  async batch<T>(fn: () => T | Promise<T>): Promise<T> {
    const batch: Batch = { open: true, keys: new Set() };
    try {
      return await this.batches.run(batch, fn);
    } finally {
      batch.open = false;
      for (const key of batch.keys) this.changed(key);
    }
  }

  /** Delivers everything pending now (shutdown: an operator command must not exit with events unsent). */
  flushAll(): void {
    for (const key of [...this.pending.keys()]) this.flush(key);
  }

  /** Resolves when nothing is pending (test hook: the burst has been delivered). */
  idle(): Promise<void> {
    return this.pending.size === 0 ? Promise.resolve() : new Promise((r) => this.idleWaiters.push(r));
  }

  private flush(key: string): void {
    const p = this.pending.get(key);
    if (!p) return;
    clearTimeout(p.quiet);
    this.pending.delete(key);
    this.delivered.set(key, (this.delivered.get(key) ?? 0) + 1);
    this.deliver(key);
    if (this.pending.size === 0) this.idleWaiters.splice(0).forEach((w) => w());
  }
}
