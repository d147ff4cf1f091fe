import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../src/lib/clock.ts';
import type { TestServer } from '../support/server.ts';
import { startServerWithVendors } from '../support/server-with-vendors.ts';
import type { FakeVendorServer } from '../../dev/vendors/common.ts';
import { balanceOf, runCompletion, type Transport, ask, endOf } from '../support/ivy.ts';

let server: TestServer, anthropic: FakeVendorServer, stop: () => Promise<void>;
beforeAll(async () => {
  ({ server, anthropic, stop } = await startServerWithVendors());
});
afterAll(() => stop?.());

describe.each<Transport>(['ws', 'sse'])('Ivy in a legacy grace window, over %s', (transport) => {
  it('runs on the member’s own key on FREE while the window is open, and on credits from the instant it ends', async () => {
    const endsAt = new Date(server.clock.now().getTime() + 10 * DAY_MS);
    const { org, admin } = await server.seed.org({
      plan: 'FREE',
      credits: 300,
      provider: 'ANTHROPIC',
      model: 'claude-sonnet-5-5',
      graceWindowEndsAt: endsAt,
    });
    await server.seed.key(org.id, admin.id, 'ANTHROPIC', 'sk-ant-legacy-admin-key-000000-LGCY');
    const question = { orgId: org.id, messages: ask('status? [[usage:2000:200]]'), maxTokens: 500 };
    const c = server.client(admin.token);

    const during = await runCompletion(c, transport, question);
    expect(during[0]).toMatchObject({ billing: 'BYOK', provider: 'ANTHROPIC', model: 'claude-sonnet-5-5' });
    expect(anthropic.requests.at(-1)).toMatchObject({ authKeyLast4: 'LGCY', model: 'claude-sonnet-5-5' });
    expect(during.at(-1)).toMatchObject({ creditsCharged: 0, creditBalance: 300 });

    server.clock.set(new Date(endsAt.getTime() + 1)); // no sweep has run: the rule is computed per request
    const after = await runCompletion(c, transport, question);
    expect(after[0]).toMatchObject({ billing: 'CREDITS', provider: 'INTERVY_CREDITS', model: 'claude-haiku-5-5' });
    expect(anthropic.requests.at(-1)?.authKeyLast4).not.toBe('LGCY');
    expect(endOf(after).creditsCharged).toBe(3);
    expect(await balanceOf(server, org.id)).toBe(297);
    server.clock.set(new Date(endsAt.getTime() - 10 * DAY_MS));
  });
});
