// creditBalanceChanged per turn: a ledger batch that moves an org's balance several times in one turn is one event,
// the last balance; movements in different turns are each delivered.
import { describe, expect, it } from 'vitest';
import { createAppPubSub } from '../../src/lib/pubsub.ts';
import { createLogger } from '../../src/lib/logger.ts';

const make = () => createAppPubSub({ log: createLogger('silent'), coalesce: { quietMs: 0, maxDelayMs: 0 } });
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('creditBalanceChanged', () => {
  it('delivers the last of the balances one turn moved, per org, then each later turn’s own', async () => {
    const { pubsub, close } = make();
    const acme = pubsub.subscribe('creditBalanceChanged', 'acme')[Symbol.asyncIterator]();
    const globex = pubsub.subscribe('creditBalanceChanged', 'globex')[Symbol.asyncIterator]();
    const acmeFirst = acme.next();
    const globexFirst = globex.next();
    await pubsub.whenSubscribed('acme', 1);
    await pubsub.whenSubscribed('globex', 1);
    // One turn: a batch of three holds on acme and one on globex.
    for (const balance of [990, 980, 970]) pubsub.publish('creditBalanceChanged', 'acme', { orgId: 'acme', balance });
    pubsub.publish('creditBalanceChanged', 'globex', { orgId: 'globex', balance: 50 });
    expect((await acmeFirst).value).toEqual({ orgId: 'acme', balance: 970 });
    expect((await globexFirst).value).toEqual({ orgId: 'globex', balance: 50 });
    // A later turn (a settlement): delivered too, and nothing of the first turn's is left over.
    await nextTurn();
    pubsub.publish('creditBalanceChanged', 'acme', { orgId: 'acme', balance: 975 });
    expect((await acme.next()).value).toEqual({ orgId: 'acme', balance: 975 });
    await acme.return?.();
    await globex.return?.();
    await close();
  });
});
