// Subscribes to org settings events and returns once the server says the subscriptions are live, so a change made
// next cannot be missed. No priming events, no waiting for time.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { Subscription } from '../../dev/client.ts';
import type { TestServer } from './server.ts';

/**
 * Subscribes each token to `doc` (an `orgAiSettingsChanged(orgId: $orgId)` subscription) and resolves once the server
 * counts every one of them as listening (its own hook, no priming events, no waiting for time).
 */
export async function watchOrgSettings<R>(
  server: TestServer,
  orgId: string,
  tokens: string[],
  doc: TypedDocumentNode<R, { orgId: string }>,
  track?: Subscription<unknown>[],
): Promise<Subscription<R>[]> {
  const pubsub = server.app.services.pubsub;
  // A burst still pending from the test's setup must not reach the new subscribers as if it were news.
  pubsub.settingsEvents.flushAll();
  const before = pubsub.subscribers(orgId);
  const subs = tokens.map((token) => server.client(token).subscribeWs(doc, { orgId }));
  track?.push(...subs);
  await pubsub.whenSubscribed(orgId, before + subs.length);
  return subs;
}
