// Waits until graphql-ws subscriptions are live on the server, so a change made next cannot be missed.
import type { Subscription } from './client.ts';
import type { TestServer } from './server.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Subscribes each token to `orgAiSettingsChanged(orgId)` (with the given selection) and primes the streams with a bare
 * "settings changed" signal until every one has received it; then forgets those priming results.
 */
export async function watchOrgSettings(
  server: TestServer,
  orgId: string,
  tokens: (string | null)[],
  selection: string,
  track?: Subscription<any>[],
): Promise<Subscription<any>[]> {
  const query = `subscription($orgId: ID!) { orgAiSettingsChanged(orgId: $orgId) ${selection} }`;
  const subs = tokens.map((token) => server.client(token).subscribeWs(query, { orgId }));
  track?.push(...subs);
  for (let attempt = 0; subs.some((s) => s.results.length === 0); attempt++) {
    if (attempt > 40) throw new Error('the subscriptions never became live');
    server.app.services.pubsub.publish('orgAiSettingsChanged', orgId, { orgId });
    await Promise.all(subs.map((s) => s.waitFor(1, 250).catch(() => {})));
  }
  // Let priming events still being resolved arrive (each stream delivers in order), then forget them all.
  let seen = -1;
  while (seen !== (seen = subs.reduce((n, s) => n + s.results.length, 0))) await sleep(250);
  for (const s of subs) s.results.length = 0;
  return subs;
}
