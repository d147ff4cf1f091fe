// npm run --silent token -- <email> [--ttl 2h]   Prints a bearer token for that user, and nothing else.
// npm run token -- revoke <email>                Refuses every token issued to that user until now, on every instance.
import { runOperatorCommand, UsageError, type CommandIO } from '../lib/operator.ts';
import { signUserToken } from '../lib/tokens.ts';

const USAGE = 'Usage: npm run --silent token -- <email> [--ttl 30m|12h|3600]   or   npm run token -- revoke <email>';

/** "90" (seconds), "30m", "12h" or "1d", in seconds. */
function parseTtl(raw: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(raw.trim());
  if (!m) throw new UsageError(`--ttl must look like 3600, 30m, 12h or 1d (got "${raw}").\n${USAGE}`);
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
}

export function main(argv: string[], io: CommandIO): Promise<number> {
  return runOperatorCommand(io, async ({ db, secrets, config, out }) => {
    const args = argv;
    if (args[0] === 'revoke') {
      const email = args[1];
      if (!email || args.length > 2) throw new UsageError(USAGE);
      const [{ now }] = await db.$queryRaw<{ now: Date }[]>`SELECT now() AS now`;
      const { count } = await db.user.updateMany({ where: { email }, data: { tokensValidAfter: now } });
      if (!count) throw new Error(`No user with email ${email}.`);
      out(`Revoked every token issued to ${email} until ${now.toISOString()}.`);
      return;
    }
    const ttlAt = args.indexOf('--ttl');
    const ttl = ttlAt >= 0 ? parseTtl(args[ttlAt + 1] ?? '') : config.tokenMaxTtlSeconds;
    const email = args.filter((_a, i) => ttlAt < 0 || (i !== ttlAt && i !== ttlAt + 1))[0];
    if (!email) throw new UsageError(USAGE);
    if (ttl < 1 || ttl > config.tokenMaxTtlSeconds) {
      throw new UsageError(
        `--ttl must be between 1 s and AUTH_TOKEN_MAX_TTL_SECONDS (${config.tokenMaxTtlSeconds} s); servers refuse longer-lived tokens.`,
      );
    }
    const user = await db.user.findUnique({ where: { email } });
    if (!user) throw new Error(`No user with email ${email}.`);
    out(await signUserToken(secrets.jwtSecret, user.id, ttl));
  });
}
