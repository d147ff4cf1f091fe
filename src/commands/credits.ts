// npm run credits -- grant <org-slug> <amount> [note]   Tops up an org's prepaid credits (there is no API for it).
// npm run credits -- balance <org-slug>                 Prints the org's balance.
import { creditStatement, grantCredits } from '../domain/credits.ts';
import { runOperatorCommand, UsageError, type CommandIO } from '../lib/operator.ts';

const USAGE = 'Usage: npm run credits -- grant <org-slug> <amount> [note]  |  npm run credits -- balance <org-slug>';

export function main(argv: string[], io: CommandIO): Promise<number> {
  return runOperatorCommand(io, async ({ db, pubsub, out }) => {
    const [verb, slug, amount, ...note] = argv;
    if (verb === 'grant' && slug && amount) {
      if (!/^\d+$/.test(amount) || Number(amount) <= 0)
        throw new UsageError(`The amount must be a positive whole number. ${USAGE}`);
      const { balance, overagePaid } = await grantCredits(
        { db, pubsub },
        slug,
        Number(amount),
        note.join(' ') || 'operator top-up',
      );
      const paid = overagePaid ? ` (${overagePaid} of it paid off an open overage)` : '';
      out(`Granted ${amount} credits to ${slug}${paid}; balance is now ${balance}.`);
    } else if (verb === 'balance' && slug) {
      const { balance, overageOwed } = await creditStatement(db, slug);
      const owed = overageOwed ? `; open overage: ${overageOwed} credits owed (the next grant pays it off first)` : '';
      out(`${slug}: ${balance} credits${owed}`);
    } else {
      throw new UsageError(USAGE);
    }
  });
}
