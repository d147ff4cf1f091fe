// Subscribes to org settings events and returns once the server says the subscriptions are live, so a change made
// next cannot be missed. No priming events, no waiting for time.
import type { Subscription } from './client.ts';
import type { TestServer } from './server.ts';
import { settingsTopic } from './server-probe.ts';

/**
 * Subscribes each token to `orgAiSettingsChanged(orgId)` with the given selection, and resolves once the server
 * has all of them (plus any already there) live. `track` collects the subscriptions for stopping after the test.
 */
export async function watchOrgSettings(
  server: TestServer,
  orgId: string,
  tokens: string[],
  selection: string,
  track?: Subscription<any>[],
): Promise<Subscription<any>[]> {
  const query = `subscription($orgId: ID!) { orgAiSettingsChanged(orgId: $orgId) ${selection} }`;
  const topic = settingsTopic(orgId);
  const already = server.probe.subscribers(topic);
  const subs = tokens.map((token) => server.client(token).subscribeWs(query, { orgId }));
  track?.push(...subs);
  await server.waitForSubscribers(topic, already + tokens.length);
  return subs;
}
