// Cached prompt tokens, as each vendor really reports them (Anthropic: cache_read_input_tokens beside an input_tokens
// that leaves them out; OpenAI: prompt_tokens_details.cached_tokens inside prompt_tokens), are recorded, billed at
// the model's cached price, and their saving is shown on the Usage page.
import { graphql } from '../../src/generated/graphql/index.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BYOK_MODELS } from '../../src/domain/models.ts';
import { creditsFor } from '../../src/domain/pricing.ts';
import { balanceOf, endOf, ledgerAddsUp, runCompletion } from '../support/ivy.ts';
import { startServerWithVendors, type ServerWithVendors } from '../support/server-with-vendors.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

let env: ServerWithVendors, anthropicHouse: TestServer, openaiHouse: TestServer;
beforeAll(async () => {
  env = await startServerWithVendors();
  anthropicHouse = env.server;
  openaiHouse = await startTestServer({ env: { ...env.vendorEnv, INTERVY_HOUSE_MODEL: 'gpt-5-mini' } });
});
afterAll(async () => {
  await openaiHouse?.stop();
  await env?.stop();
});

const USAGE = graphql(`
  query CachedTokensUsage($orgId: ID!) {
    usage(orgId: $orgId) {
      totalCreditsCharged
      totalCacheSavingCredits
      entries(first: 5) {
        edges {
          node {
            inputTokens
            cachedInputTokens
            outputTokens
            creditsCharged
            cacheSavingCredits
          }
        }
      }
    }
  }
`);

const model = (id: string) => BYOK_MODELS.find((m) => m.id === id)!;

describe.each([
  ['Anthropic', 'claude-haiku-5-5', () => anthropicHouse],
  ['OpenAI', 'gpt-5-mini', () => openaiHouse],
] as const)('%s cached input tokens', (_vendor, modelId, serverOf) => {
  it('are billed at the model’s cached price and the Usage page shows the saving', async () => {
    const server = serverOf();
    const price = model(modelId);
    const { org, admin } = await server.seed.org({ credits: 1000 });
    const events = await runCompletion(server.client(admin.token), 'ws', {
      orgId: org.id,
      messages: [{ role: 'USER', content: '[[usage:20000:100]] [[cached:18000]] summarise the interview' }],
      maxTokens: 200,
    });
    const finished = events.at(-1);
    const expected = creditsFor(price, 20_000, 100, 18_000);
    const full = creditsFor(price, 20_000, 100);
    expect(expected).toBeLessThan(full);
    expect(finished).toMatchObject({
      __typename: 'IvyCompletionFinished',
      inputTokens: 20_000,
      creditsCharged: expected,
    });
    expect(await balanceOf(server, org.id)).toBe(1000 - expected);

    const usage = (await server.client(admin.token).data(USAGE, { orgId: org.id })).usage;
    expect(usage!.entries.edges[0].node).toEqual({
      inputTokens: 20_000,
      cachedInputTokens: 18_000,
      outputTokens: 100,
      creditsCharged: expected,
      cacheSavingCredits: full - expected,
    });
    expect(usage!.totalCacheSavingCredits).toBe(full - expected);
    await ledgerAddsUp(server, org.id);
  });

  it('bill every input token in full when the vendor reports none cached', async () => {
    const server = serverOf();
    const { org, admin } = await server.seed.org({ credits: 1000 });
    const events = await runCompletion(server.client(admin.token), 'sse', {
      orgId: org.id,
      messages: [{ role: 'USER', content: '[[usage:20000:100]] no cache here' }],
      maxTokens: 200,
    });
    expect(endOf(events).creditsCharged).toBe(creditsFor(model(modelId), 20_000, 100));
    const usage = (await server.client(admin.token).data(USAGE, { orgId: org.id })).usage;
    expect(usage!.entries.edges[0].node).toMatchObject({ cachedInputTokens: 0, cacheSavingCredits: 0 });
  });
});
