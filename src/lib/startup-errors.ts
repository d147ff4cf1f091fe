// Turns a start-up failure into one line an operator can act on: what is wrong and what to do, never a stack trace.
import { ConfigError } from '../config.ts';
import { DatabaseBehindError } from './migrate.ts';

/** A failure whose message is already that line. */
export class StartupError extends Error {
  override name = 'StartupError';
}

const NETWORK = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
]);

const codeOf = (err: unknown) => (err as { code?: unknown })?.code;

/** Wraps a failure to reach PostgreSQL (network, auth, missing database) as a StartupError; anything else unchanged. */
export function describeDatabaseFailure(err: unknown, url: string): unknown {
  const code = codeOf(err);
  const where = (() => {
    try {
      const u = new URL(url);
      return `${u.hostname}:${u.port || 5432}${u.pathname}`;
    } catch {
      return 'DATABASE_URL';
    }
  })();
  if (typeof code === 'string' && NETWORK.has(code)) {
    return new StartupError(
      `Cannot reach PostgreSQL at ${where} (${code}): check DATABASE_URL and that the database server is running and reachable.`,
    );
  }
  if (code === '28P01' || code === '28000')
    return new StartupError(
      `PostgreSQL at ${where} refused the credentials: check the user and password in DATABASE_URL.`,
    );
  if (code === '3D000')
    return new StartupError(
      `The database in DATABASE_URL (${where}) does not exist: create it, then run \`npm run db:migrate\`.`,
    );
  return err;
}

export function describeStartupFailure(err: unknown, port?: number): string {
  if (err instanceof ConfigError) {
    return `${err.message}\nSet these in the environment or in a .env file (see the README's production section), then start again.`;
  }
  if (err instanceof StartupError || err instanceof DatabaseBehindError) return err.message;
  const code = codeOf(err);
  if (code === 'EADDRINUSE')
    return `Port ${port ?? 'PORT'} is already in use: stop the process holding it, or set PORT to a free port.`;
  if (code === 'EACCES') return `Not allowed to listen on port ${port ?? 'PORT'}: use a port above 1023, or set PORT.`;
  return `Could not start: ${(err as Error)?.message ?? String(err)}`;
}
