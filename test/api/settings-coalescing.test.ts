// Settings events are coalesced per org: one per operation, and one per burst across operations.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { watchOrgSettings } from '../support/live.ts';
import { graphql } from '../../src/generated/graphql/index.ts';

const SETTINGS_CHANGED = graphql(`
  subscription CoalescingSettingsChanged($orgId: ID!) {
    orgAiSettingsChanged(orgId: $orgId) {
      provider
      model {
        modelId
      }
    }
  }
`);
const UPDATE = graphql(`
  mutation CoalescingUpdate($input: UpdateProviderInput!) {
    updateProvider(input: $input) {
      provider
    }
  }
`);
const MODELS = ['o3', 'gpt-5', 'gpt-5-mini', 'o4-mini', 'gpt-5-nano'];

describe('one operation of 100 aliased settings changes', () => {
  let server: TestServer;
  beforeAll(async () => {
    // The per-org rate limit is lifted so that all 100 changes apply, and the per-member socket limit so that each
    // subscription has its own socket: this is about the events alone.
    // 100 aliases: above the operation limits, which are lifted here to reach the coalescer.
    server = await startTestServer({
      env: {
        RATE_LIMIT_SETTINGS_CHANGES: '1000/60',
        MAX_SOCKETS_PER_MEMBER: '100',
        LIMIT_ALIASES: '1000',
        LIMIT_COST: '100000000',
        LIMIT_STRUCTURAL_COST: '100000000',
        LIMIT_TOKENS: '100000',
        LIMIT_DOCUMENT_BYTES: '1000000',
      },
    });
  });
  afterAll(() => server?.stop());

  it('pushes one event to each of 50 subscriptions, showing the final state', async () => {
    const { org, admin, interviewer, staffing } = await server.seed.org({ plan: 'GROWTH' });
    const subs = await watchOrgSettings(
      server,
      org.id,
      [...Array(25).fill(interviewer.token), ...Array(25).fill(staffing.token)],
      SETTINGS_CHANGED,
    );
    const aliases = Array.from(
      { length: 100 },
      (_, i) => `a${i}: updateProvider(input: { orgId: $o, provider: OPENAI, model: "${MODELS[i % 5]}" }) { provider }`,
    );
    const r = await server.client(admin.token).rawRequest(`mutation($o: ID!) { ${aliases.join(' ')} }`, { o: org.id });
    expect(r.errors).toBeUndefined();
    await server.app.services.pubsub.settingsEvents.idle();
    expect(server.app.services.pubsub.settingsEvents.delivered.get(org.id)).toBe(1);
    for (const s of subs) {
      const [event] = await s.waitFor(1);
      expect(event.data?.orgAiSettingsChanged).toEqual({ provider: 'OPENAI', model: { modelId: MODELS[99 % 5] } });
      expect(s.results).toHaveLength(1);
    }
    subs.forEach((s) => s.stop());
  });
});

describe('a burst of separate operations', () => {
  let server: TestServer;
  beforeAll(async () => {
    // A quiet window longer than any test: the burst is delivered only when the test flushes it.
    server = await startTestServer({
      env: { SETTINGS_EVENTS_QUIET_MS: '600000', SETTINGS_EVENTS_MAX_DELAY_MS: '600000' },
    });
  });
  afterAll(() => server?.stop());

  it('becomes one event, carrying the state after the last change', async () => {
    const { org, admin, interviewer } = await server.seed.org({ plan: 'GROWTH' });
    const [watch] = await watchOrgSettings(server, org.id, [interviewer.token], SETTINGS_CHANGED);
    const c = server.client(admin.token);
    for (const model of MODELS) await c.data(UPDATE, { input: { orgId: org.id, provider: 'OPENAI', model } });
    await c.data(
      graphql(`
        mutation SettingsCoalescingSetKey($o: ID!) {
          setPersonalKey(input: { orgId: $o, provider: ANTHROPIC, apiKey: "sk-ant-api03-coalesced-AbCdEfGhIjKl" }) {
            status
          }
        }
      `),
      { o: org.id },
    );
    const events = server.app.services.pubsub.settingsEvents;
    expect(events.delivered.get(org.id)).toBeUndefined(); // six changes, nothing sent yet: one burst, still pending

    events.flushAll();
    const [event] = await watch.waitFor(1);
    expect(event.data?.orgAiSettingsChanged).toEqual({ provider: 'OPENAI', model: { modelId: MODELS.at(-1) } });
    expect(events.delivered.get(org.id)).toBe(1);
    expect(watch.results).toHaveLength(1);
    watch.stop();
  });
});
