// npm run credits -- grant <org-slug> <amount> [note]   Tops up an org's prepaid credits (there is no API for it).
// npm run credits -- balance <org-slug>                 Prints the org's balance.
import { grantCredits } from '../domain/credits.ts';
import { runOperatorCommand, UsageError, type CommandIO } from '../lib/operator.ts';

const USAGE = 'Usage: npm run credits -- grant <org-slug> <amount> [note]  |  npm run credits -- balance <org-slug>';

export function main(argv: string[], io: CommandIO): Promise<number> {
  return runOperatorCommand(io, async ({ db, out }) => {
    const [verb, slug, amount, ...note] = argv;
    if (verb === 'grant' && slug && amount) {
      if (!/^\d+$/.test(amount) || Number(amount) <= 0) throw new UsageError(`The amount must be a positive whole number. ${USAGE}`);
      const { balance } = await grantCredits(db, slug, Number(amount), note.join(' ') || 'operator top-up');
      out(`Granted ${amount} credits to ${slug}; balance is now ${balance}.`);
    } else if (verb === 'balance' && slug) {
      const org = await db.org.findUnique({ where: { slug } });
      if (!org) throw new Error(`No org with slug "${slug}".`);
      out(`${slug}: ${org.creditBalance} credits`);
    } else {
      throw new UsageError(USAGE);
    }
  });
}
