// npm run plan -- set <org slug> <FREE|GROWTH|ENTERPRISE>
// Stands in for billing: changes an org's plan (src/domain/plans-admin.ts). An upgrade to GROWTH or above clears a
// legacy grace window. Prints one line; re-running with the same plan changes nothing.
import { Plan } from '../src/generated/prisma/enums.ts';
import { setOrgPlan } from '../src/domain/plans-admin.ts';
import { runOperatorCommand, UsageError } from '../src/lib/operator.ts';

const PLANS = Object.values(Plan);
const USAGE = `Usage: npm run plan -- set <org slug> <${PLANS.join('|')}>`;

await runOperatorCommand(async ({ db, pubsub }) => {
  const [verb, slug, plan, ...extra] = process.argv.slice(2);
  if (verb !== 'set' || !slug || !plan || extra.length) throw new UsageError(USAGE);
  if (!PLANS.includes(plan as Plan)) throw new UsageError(`Unknown plan "${plan}". ${USAGE}`);
  const c = await setOrgPlan({ db, pubsub }, slug, plan as Plan);
  const line = c.changed
    ? `${slug}: plan ${c.from} -> ${c.to}${c.graceWindowCleared ? '; grace window cleared' : ''}`
    : `${slug}: already on ${c.to}; nothing changed`;
  process.stdout.write(line + '\n');
});
