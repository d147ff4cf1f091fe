// The events of one answer, numbered from 1 in the order they were produced, kept so that a client that lost its
// connection can read them again after the last index it saw, then the live rest, with no gap and no duplicate.
// This is the copy in the memory of the instance that produces the answer; answer-log-redis.ts mirrors it to Redis.
import type { IvyEvent } from './ivy.ts';

export type IndexedEvent = IvyEvent & { index: number };

export const isLast = (e: IvyEvent) => e.kind === 'finished' || e.kind === 'failed';

export class AnswerLog {
  readonly events: IndexedEvent[] = [];
  private waiters: (() => void)[] = [];

  get ended(): boolean {
    const last = this.events.at(-1);
    return last != null && isLast(last);
  }

  append(event: IvyEvent): IndexedEvent {
    if (this.ended) throw new Error('an ended answer takes no more events');
    const indexed = { ...event, index: this.events.length + 1 } as IndexedEvent;
    this.events.push(indexed);
    this.waiters.splice(0).forEach((wake) => wake());
    return indexed;
  }

  /**
   * Events after index `after`, then each new one as it is appended, until the last one. Ends early, without
   * waiting for the next event, when `signal` aborts.
   */
  async *read(after: number, signal: AbortSignal): AsyncGenerator<IndexedEvent> {
    let next = Math.max(0, after);
    for (;;) {
      if (signal.aborted) return;
      if (next < this.events.length) {
        const event = this.events[next++];
        yield event;
        if (isLast(event)) return;
        continue;
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          signal.removeEventListener('abort', wake);
          resolve();
        };
        this.waiters.push(wake);
        signal.addEventListener('abort', wake, { once: true });
      });
    }
  }
}
