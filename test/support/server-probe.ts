// What a test server reports from inside: subscribers per topic, events published and delivered, background sweep
// rounds. Tests wait on these instead of sleeping, and ask them when they must show that something did not happen.
import type { PubSubObserver } from '../../src/lib/pubsub-observer.ts';

/** The pubsub topic of an org's settings events (what `orgAiSettingsChanged(orgId)` subscribes to). */
export const settingsTopic = (orgId: string) => `orgAiSettingsChanged:${orgId}`;

/** A failing wait says what it waited for, well before the test's own timeout. */
const GIVE_UP_MS = 15_000;

export class ServerProbe implements PubSubObserver {
  private readonly live = new Map<string, number>();
  private readonly publishedByTopic = new Map<string, unknown[]>();
  private readonly deliveredByTopic = new Map<string, unknown[]>();
  private sweepRounds = 0;
  private readonly waiters = new Set<() => void>();

  subscribed(topic: string) {
    this.live.set(topic, this.subscribers(topic) + 1);
    this.changed();
  }
  unsubscribed(topic: string) {
    this.live.set(topic, this.subscribers(topic) - 1);
    this.changed();
  }
  published(topic: string, payload: unknown) {
    this.list(this.publishedByTopic, topic).push(payload);
    this.changed();
  }
  delivered(topic: string, payload: unknown) {
    this.list(this.deliveredByTopic, topic).push(payload);
    this.changed();
  }
  readonly afterSweeps = () => {
    this.sweepRounds++;
    this.changed();
  };

  /** Subscribers on this server that would hear an event published now (on Redis: their SUBSCRIBE is acknowledged). */
  subscribers(topic: string): number {
    return this.live.get(topic) ?? 0;
  }
  /** Every event this server published on `topic`, in order. */
  publishedOn(topic: string): unknown[] {
    return [...(this.publishedByTopic.get(topic) ?? [])];
  }
  /** Every event this server's subscribers of `topic` took off their queues, in order. */
  deliveredOn(topic: string): unknown[] {
    return [...(this.deliveredByTopic.get(topic) ?? [])];
  }

  /** Resolves once exactly `n` subscribers of `topic` are live on this server. */
  waitForSubscribers(topic: string, n: number): Promise<void> {
    return this.until(
      () => this.subscribers(topic) === n,
      () => `${n} subscriber(s) on ${topic}; there are ${this.subscribers(topic)}`,
    );
  }

  /** Resolves once `n` events have been delivered to subscribers of `topic`. */
  waitForDelivered(topic: string, n: number): Promise<void> {
    return this.until(
      () => this.deliveredOn(topic).length >= n,
      () => `${n} event(s) delivered on ${topic}; got ${JSON.stringify(this.deliveredOn(topic))}`,
    );
  }

  /** Resolves once a whole round of background sweeps has both started and ended after this call. */
  waitForSweeps(): Promise<void> {
    const target = this.sweepRounds + 2; // the round running now may have read the clock before the call
    return this.until(
      () => this.sweepRounds >= target,
      () => 'a full round of background sweeps (are background jobs on?)',
    );
  }

  private list(map: Map<string, unknown[]>, topic: string): unknown[] {
    let l = map.get(topic);
    if (!l) map.set(topic, (l = []));
    return l;
  }

  private changed() {
    for (const check of [...this.waiters]) check();
  }

  private until(done: () => boolean, what: () => string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`gave up waiting for ${what()}`));
      }, GIVE_UP_MS);
      timer.unref();
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }
}
