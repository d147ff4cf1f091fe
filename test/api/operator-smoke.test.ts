// One spawned run per operator command, as the README has operators type it: proves each script wires its
// arguments, streams and exit code to the command's main(). Everything else about the commands is tested in
// process (operator-commands, grace-window, legacy-byok and usage tests).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { Keyring } from '../../src/lib/crypto.ts';
import { pgConfigFromUrl } from '../../src/lib/pg-url.ts';
import { verifyUserToken } from '../../src/lib/tokens.ts';
import { lines, spawnCommand, spawnScript } from '../support/operator-command.ts';
import { createTestDatabase } from '../support/server.ts';

const JWT = /^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** A fresh database and the secrets a command needs to open it. */
async function commandEnv(extra: Record<string, string> = {}) {
  return {
    DATABASE_URL: await createTestDatabase(),
    AUTH_JWT_SECRET: randomBytes(32).toString('base64url'),
    KEY_ENCRYPTION_KEYS: Keyring.generateEntry('smoke'),
    LEGACY_BYOK_KEY: randomBytes(32).toString('base64'),
    ...extra,
  };
}

// One after another: on two busy cores, six start-ups at once only make each one slower.
describe('each operator command, spawned as an operator runs it', () => {
  it('npm run --silent token -- <email> prints that user’s token and nothing else, exit 0', async () => {
    const env = await commandEnv();
    const db = new pg.Client(pgConfigFromUrl(env.DATABASE_URL));
    await db.connect();
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO users (id, email, name) VALUES (gen_random_uuid(), 'ops@smoke.test', 'Ops') RETURNING id`,
    );
    await db.end();
    const run = await spawnCommand('npm', ['run', '--silent', 'token', '--', 'ops@smoke.test'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(lines(run.stdout)).toEqual([expect.stringMatching(JWT)]);
    expect(run.stdout.split('\n')).toHaveLength(2);
    expect(
      await verifyUserToken(new TextEncoder().encode(env.AUTH_JWT_SECRET), run.stdout.trim(), 12 * 3600),
    ).toMatchObject({ ok: true, userId: rows[0].id });
  });

  it('credits balance of an unknown org says so on stderr, exit 1', async () => {
    const run = await spawnScript('credits', ['balance', 'no-such-org'], await commandEnv());
    expect(run).toMatchObject({ code: 1, stdout: '', stderr: 'No org with slug "no-such-org".\n' });
  });

  it('plan with a bad plan prints its usage, exit 2', async () => {
    const run = await spawnScript('plan', ['set', 'acme', 'PLATINUM'], await commandEnv());
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toMatch(/^Unknown plan "PLATINUM"\. Usage: npm run plan -- set/);
  });

  it('grace-sweep on a database with no ended window ends none, exit 0', async () => {
    const run = await spawnScript('grace-sweep', [], await commandEnv());
    expect(run).toMatchObject({ code: 0, stdout: '', stderr: 'Ended 0 grace window(s).\n' });
  });

  it('migrate-legacy-byok --dry-run with nothing to move says so, exit 0', async () => {
    const run = await spawnScript('migrate-legacy-byok', ['--dry-run'], await commandEnv());
    expect(run).toMatchObject({ code: 0, stdout: '', stderr: 'No legacy BYOK settings left to move.\n' });
  });

  it('rotate-keys on a database with no keys rewrites none, exit 0', async () => {
    const run = await spawnScript('rotate-keys', [], await commandEnv());
    expect(run).toMatchObject({
      code: 0,
      stdout: 'Re-encrypted 0 key(s) under master key "smoke"; 0 already used it.\n',
      stderr: '',
    });
  });
});
