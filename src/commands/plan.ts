// npm run plan -- set <org slug> <FREE|GROWTH|ENTERPRISE>
// Stands in for billing: changes an org's plan (src/domain/plans-admin.ts). An upgrade to GROWTH or above clears a
// legacy grace window. Prints one line; re-running with the same plan changes nothing.
import { Plan } from '../generated/prisma/enums.ts';
import { setOrgPlan } from '../domain/plans-admin.ts';
import { runOperatorCommand, UsageError, type CommandIO } from '../lib/operator.ts';

const PLANS = Object.values(Plan);
const USAGE = `Usage: npm run plan -- set <org slug> <${PLANS.join('|')}>`;

export function main(argv: string[], io: CommandIO): Promise<number> {
  return runOperatorCommand(io, async ({ db, pubsub, out }) => {
    const [verb, slug, plan, ...extra] = argv;
    if (verb !== 'set' || !slug || !plan || extra.length) throw new UsageError(USAGE);
    if (!PLANS.includes(plan as Plan)) throw new UsageError(`Unknown plan "${plan}". ${USAGE}`);
    const c = await setOrgPlan({ db, pubsub }, slug, plan as Plan);
    out(
      c.changed
        ? `${slug}: plan ${c.from} -> ${c.to}${c.graceWindowCleared ? '; grace window cleared' : ''}`
        : `${slug}: already on ${c.to}; nothing changed`,
    );
  });
}
