// npm run --silent token -- <email>   Prints a bearer token for that user, and nothing else.
import { runOperatorCommand, UsageError } from '../src/lib/operator.ts';
import { signUserToken } from '../src/lib/tokens.ts';

await runOperatorCommand(async ({ db, secrets }) => {
  const email = process.argv[2];
  if (!email) throw new UsageError('Usage: npm run --silent token -- <email>');
  const user = await db.user.findUnique({ where: { email } });
  if (!user) throw new Error(`No user with email ${email}.`);
  process.stdout.write((await signUserToken(secrets.jwtSecret, user.id)) + '\n');
});
