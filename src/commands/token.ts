// npm run --silent token -- <email>   Prints a bearer token for that user, and nothing else.
import { runOperatorCommand, UsageError, type CommandIO } from '../lib/operator.ts';
import { signUserToken } from '../lib/tokens.ts';

export function main(argv: string[], io: CommandIO): Promise<number> {
  return runOperatorCommand(io, async ({ db, secrets, out }) => {
    const email = argv[0];
    if (!email) throw new UsageError('Usage: npm run --silent token -- <email>');
    const user = await db.user.findUnique({ where: { email } });
    if (!user) throw new Error(`No user with email ${email}.`);
    out(await signUserToken(secrets.jwtSecret, user.id));
  });
}
