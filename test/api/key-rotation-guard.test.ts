import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keyring } from '../../src/lib/crypto.ts';
import { runCommand } from '../support/operator-command.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { main as rotateKeysCommand } from '../../src/commands/rotate-keys.ts';
import { SET_PERSONAL_KEY } from '../../dev/documents.ts';

const A = Keyring.generateEntry('ring-a');
const B = Keyring.generateEntry('ring-b');

describe('npm run keys:rotate with a master key missing from the ring', () => {
  let server: TestServer;
  const rotate = (ring: string, ...args: string[]) =>
    runCommand(rotateKeysCommand, args, {
      DATABASE_URL: server.config.databaseUrl,
      AUTH_JWT_SECRET: server.config.jwtSecret,
      KEY_ENCRYPTION_KEYS: ring,
    });
  const keyIds = async () =>
    (await server.app.services.db.personalApiKey.findMany({ orderBy: { provider: 'asc' } })).map((r) => r.encKeyId);

  beforeAll(async () => {
    server = await startTestServer({ keyEncryptionKeys: A });
    const o = await server.seed.org({ plan: 'GROWTH' });
    await server.client(o.admin.token).data(SET_PERSONAL_KEY, {
      input: { orgId: o.org.id, provider: 'ANTHROPIC', apiKey: 'sk-ant-api03-rotation-guard-0000000000000' },
    });
  });
  afterAll(() => server?.stop());

  it('refuses, names the missing master key, and rewrites nothing', async () => {
    const run = await rotate(B);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /missing from KEY_ENCRYPTION_KEYS: "ring-a" \(1 key\(s\)\)\. Nothing was rotated\..*--skip-unreadable/,
    );
    expect(run.stdout).toBe('');
    expect(await keyIds()).toEqual(['ring-a']);
  });

  it('with --skip-unreadable, rotates what it can and reports the rest', async () => {
    const run = await rotate(B, '--skip-unreadable');
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /^Re-encrypted 0 key\(s\) under master key "ring-b"; 0 already used it\.\nCould not read key .* \(org .*ANTHROPIC\): left as is/,
    );
    expect(await keyIds()).toEqual(['ring-a']);
  });

  it('runs when the ring still holds the old key', async () => {
    const run = await rotate(`${A}\n${B}`);
    expect(run.code, run.stderr).toBe(0);
    expect(await keyIds()).toEqual(['ring-b']);
  });
});
