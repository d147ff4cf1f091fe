// Lets a test (or a metric) see the pubsub from inside the server: who is subscribed to what, what was published
// and what each subscriber was handed. Tests wait on it instead of sleeping (graphql-ws's own tests do the same
// with server hooks).
import type { AppPubSub } from './pubsub.ts';

export interface PubSubObserver {
  /** A subscriber of `topic` ("routingKey:id") now hears every event published from here on. */
  subscribed(topic: string): void;
  /** That subscriber is gone (client stopped, stream ended). Only called for one that was reported subscribed. */
  unsubscribed(topic: string): void;
  published(topic: string, payload: unknown): void;
  /** A subscriber of `topic` took `payload` off its queue (it is resolved and sent next). */
  delivered(topic: string, payload: unknown): void;
}

const topicOf = (routingKey: string, id: unknown) => `${routingKey}:${String(id)}`;

/**
 * Wraps a pubsub so `observer` hears about it. A subscriber's listener is registered at its stream's first pull
 * (Yoga's pubsub starts lazily); it counts as subscribed once `listening()`, called after that, has resolved.
 */
type Routes = Pick<AppPubSub, 'publish' | 'subscribe'>;

export function observePubSub(pubsub: Routes, observer: PubSubObserver, listening: () => Promise<unknown>): Routes {
  return {
    publish(routingKey, id, event) {
      observer.published(topicOf(routingKey, id), event);
      pubsub.publish(routingKey, id, event);
    },
    subscribe(routingKey, id) {
      const topic = topicOf(routingKey, id);
      const source = pubsub.subscribe(routingKey, id)[Symbol.asyncIterator]();
      let state: 'idle' | 'starting' | 'live' | 'ended' = 'idle';
      const end = () => {
        if (state === 'live') observer.unsubscribed(topic);
        state = 'ended';
      };
      const stream: AsyncIterableIterator<unknown> = {
        next() {
          const result = source.next();
          if (state === 'idle') {
            state = 'starting';
            void listening().then(() => {
              if (state !== 'starting') return;
              state = 'live';
              observer.subscribed(topic);
            });
          }
          return result.then((r) => {
            if (r.done) end();
            else observer.delivered(topic, r.value);
            return r;
          });
        },
        async return(value?: unknown) {
          end();
          return (await source.return?.(value)) ?? { done: true, value: undefined };
        },
        async throw(err?: unknown) {
          end();
          if (source.throw) return source.throw(err);
          throw err;
        },
        [Symbol.asyncIterator]() {
          return stream;
        },
      };
      // Events pass through untouched, so the stream has the type the caller subscribed for.
      return stream as AsyncIterableIterator<never>;
    },
  };
}
