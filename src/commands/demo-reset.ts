// npm run demo:reset   Puts the demo orgs back as the first `npm start` / `npm run demo` seeded them: provider,
// model, plan, credits, members, keys, caps and fallback; their usage, ledger and audit log start again. Org ids and
// user ids stay the same, so tokens and an org id in GraphiQL's Variables tab keep working. Demo data only: any other
// org is left alone. Running servers pick the change up from the database (settings and balance subscribers are told, over Redis).
import { DEMO_ORGS, resetDemo } from '../domain/demo-seed.ts';
import { runOperatorCommand, UsageError, type CommandIO } from '../lib/operator.ts';

const USAGE = 'Usage: npm run demo:reset   (no arguments: resets the demo orgs acme, globex, initech and umbrella)';

export function main(argv: string[], io: CommandIO): Promise<number> {
  return runOperatorCommand(io, async ({ db, keyring, clock, pubsub, out }) => {
    if (argv.length) throw new UsageError(USAGE);
    const slugs = await resetDemo(db, keyring, clock);
    const orgs = await db.org.findMany({ where: { slug: { in: slugs } }, select: { id: true, creditBalance: true } });
    for (const { id, creditBalance } of orgs) {
      pubsub.publish('orgAiSettingsChanged', id, { orgId: id });
      // The seed's GRANT is a ledger movement like any other: the Ivy panel's live balance hears it.
      pubsub.publish('creditBalanceChanged', id, { orgId: id, balance: creditBalance });
    }
    out(`Demo data reset: ${DEMO_ORGS.map((o) => `${o.slug} (${o.plan}, ${o.credits} credits)`).join(', ')}.`);
  });
}
