import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main as migrateLegacyByok } from '../../src/commands/migrate-legacy-byok.ts';
import { DEMO_ORGS, seedDemo } from '../../src/domain/demo-seed.ts';
import { sweepEndedGraceWindows } from '../../src/domain/grace-window.ts';
import { openPersonalKey } from '../../src/domain/key-vault.ts';
import { encryptLegacyKey, writeLegacyByokSetting, type LegacyByokInput } from '../../src/domain/legacy-byok.ts';
import { DAY_MS, ManualClock } from '../../src/lib/clock.ts';
import { lines, runCommand, type CommandResult } from '../support/operator-command.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import type { SeededOrg } from '../../dev/seed.ts';
import { graphql } from '../../src/generated/graphql/index.ts';
import { AUDIT_LOG } from '../../dev/documents.ts';

const SETTINGS = graphql(`
  query LegacyByokSettings($orgId: ID!) {
    orgAiSettings(orgId: $orgId) {
      provider
      effectiveProvider
      model {
        modelId
      }
      graceWindow {
        endsAt
        active
        daysRemaining
      }
      viewerKeys {
        provider
        hint
        status
      }
    }
  }
`);
const LEGACY_KEY = randomBytes(32);
const ANTHROPIC_KEY = 'sk-ant-api03-legacy-Aa1Bb2Cc3Dd4Ee5';
const OPENAI_KEY = 'sk-proj-legacy-Ff6Gg7Hh8Ii9Jj0Kk';

let server: TestServer;

// A database per test: the command moves every legacy row it finds.
beforeEach(async () => {
  server = await startTestServer({ clock: new ManualClock(new Date()) });
});
afterEach(() => server?.stop());

function migrate(...args: string[]): Promise<CommandResult> {
  return runCommand(migrateLegacyByok, args, {
    DATABASE_URL: server.config.databaseUrl,
    KEY_ENCRYPTION_KEYS: server.config.keyEncryptionKeys,
    LEGACY_BYOK_KEY: LEGACY_KEY.toString('base64'),
    AUTH_JWT_SECRET: 'x'.repeat(32),
  });
}

async function legacyOrg(
  plan: 'FREE' | 'GROWTH',
  setting: Partial<Omit<LegacyByokInput, 'orgId' | 'adminUserId'>> = {},
) {
  const o = await server.seed.org({ plan });
  const input = {
    orgId: o.org.id,
    adminUserId: o.admin.id,
    provider: 'ANTHROPIC' as const,
    model: 'claude-opus-5-5',
    apiKey: ANTHROPIC_KEY,
    ...setting,
  };
  await writeLegacyByokSetting(server.app.services.db, LEGACY_KEY, input);
  return o;
}

const db = () => server.app.services.db;
const settings = async (o: SeededOrg, token = o.admin.token) =>
  (await server.client(token).data(SETTINGS, { orgId: o.org.id })).orgAiSettings;
const audit = async (o: SeededOrg) =>
  (await server.client(o.admin.token).data(AUDIT_LOG, { orgId: o.org.id })).auditLog.edges.map((e) => e.node);
const lineFor = (run: CommandResult, o: SeededOrg) => lines(run.stdout).find((l) => l.startsWith(`${o.org.slug}: `));

/** Everything the move could have changed about an org, to compare before and after. */
async function snapshot(o: SeededOrg) {
  const [org, keys, legacy, events] = await Promise.all([
    db().org.findUniqueOrThrow({ where: { id: o.org.id } }),
    db().personalApiKey.findMany({ where: { orgId: o.org.id } }),
    db().legacyByokSetting.findUnique({ where: { orgId: o.org.id } }),
    db().auditEvent.count({ where: { orgId: o.org.id } }),
  ]);
  return { org, keys, legacy, events };
}

describe('npm run migrate:legacy-byok', () => {
  it('moves each org’s legacy setting to the org, the admin’s key to their personal key, with a 30-day window below Growth', async () => {
    const free = await legacyOrg('FREE');
    const growth = await legacyOrg('GROWTH', { provider: 'OPENAI', model: 'o3', apiKey: OPENAI_KEY });
    const before = Date.now();
    const run = await migrate();
    const after = Date.now();
    expect(run.code).toBe(0);
    expect(lines(run.stdout)).toHaveLength(2);
    expect(lineFor(run, free)).toMatch(
      /: moved; org setting ANTHROPIC claude-opus-5-5; personal Anthropic key for .*; grace window ends 20\d\d-/,
    );
    expect(lineFor(run, growth)).toMatch(
      /: moved; org setting OPENAI o3; personal OpenAI key for .*; no grace window$/,
    );
    expect(run.stdout + run.stderr).not.toMatch(/Aa1Bb2|Ff6Gg7/);

    server.clock.set(new Date(after)); // the command ran on the real clock
    const freeView = await settings(free);
    expect(freeView).toMatchObject({
      provider: 'ANTHROPIC',
      effectiveProvider: 'ANTHROPIC',
      model: { modelId: 'claude-opus-5-5' },
      graceWindow: { active: true, daysRemaining: 30 },
      viewerKeys: [{ provider: 'ANTHROPIC', hint: 'sk-ant-…4Ee5', status: 'UNTESTED' }],
    });
    const endsAt = Date.parse(freeView.graceWindow!.endsAt);
    expect(endsAt).toBeGreaterThanOrEqual(before + 30 * DAY_MS);
    expect(endsAt).toBeLessThanOrEqual(after + 30 * DAY_MS);
    expect(await settings(growth)).toMatchObject({
      provider: 'OPENAI',
      effectiveProvider: 'OPENAI',
      model: { modelId: 'o3' },
      graceWindow: null,
    });
    // Other members get the org setting, not the admin's key.
    expect((await settings(free, free.interviewer.token)).viewerKeys).toEqual([]);

    // Re-encrypted under the current scheme, bound to org, admin and provider.
    const key = await db().personalApiKey.findFirstOrThrow({ where: { orgId: free.org.id } });
    expect(key.encKeyId).toBe(server.app.services.keyring.current.id);
    expect(openPersonalKey(server.app.services.keyring, key)).toBe(ANTHROPIC_KEY);
    expect(() => openPersonalKey(server.app.services.keyring, { ...key, userId: free.interviewer.id })).toThrow();

    const [event] = await audit(free);
    expect(event).toEqual({
      action: 'ai_settings.legacy_byok_migrated',
      actorId: null,
      detail: {
        adminUserId: free.admin.id,
        provider: 'ANTHROPIC',
        model: 'claude-opus-5-5',
        orgSetting: 'adopted',
        personalKey: 'created',
        graceWindowEndsAt: new Date(endsAt).toISOString(),
      },
    });
    expect(JSON.stringify(await audit(growth))).not.toMatch(/Ff6Gg7|sk-proj/);
    expect((await snapshot(free)).legacy?.migratedAt).toBeInstanceOf(Date);
  });

  it('changes nothing when run again', async () => {
    const o = await legacyOrg('FREE');
    expect((await migrate()).code).toBe(0);
    const before = await snapshot(o);
    const again = await migrate();
    expect(again).toMatchObject({ code: 0, stdout: '' });
    expect(again.stderr).toMatch(/No legacy BYOK settings left to move/);
    expect(await snapshot(o)).toEqual(before);
  });

  it('says what it would do with --dry-run and writes nothing', async () => {
    const o = await legacyOrg('FREE', { model: 'claude-haiku-5-5' });
    const before = await snapshot(o);
    const dry = await migrate('--dry-run');
    expect(dry.code).toBe(0);
    expect(lines(dry.stdout)).toEqual([
      expect.stringMatching(
        new RegExp(`^${o.org.slug}: would move; org setting ANTHROPIC claude-haiku-5-5; .*grace window ends `),
      ),
    ]);
    expect(dry.stderr).toMatch(/Nothing was written/);
    expect(await snapshot(o)).toEqual(before);
    expect(await settings(o)).toMatchObject({ provider: 'INTERVY_CREDITS', graceWindow: null, viewerKeys: [] });

    expect(lineFor(await migrate(), o)).toMatch(/: moved; /);
  });

  it('reports and skips each unreadable row, moves the rest, and exits 1', async () => {
    const good = await legacyOrg('FREE');
    const badCiphertext = await legacyOrg('FREE');
    await db().legacyByokSetting.update({
      where: { orgId: badCiphertext.org.id },
      data: { encryptedKey: 'v0:AAAA:BBBB' },
    });
    const otherMasterKey = await legacyOrg('FREE');
    await db().legacyByokSetting.update({
      where: { orgId: otherMasterKey.org.id },
      data: { encryptedKey: encryptLegacyKey(randomBytes(32), ANTHROPIC_KEY) },
    });
    const unknownModel = await legacyOrg('FREE', { model: 'claude-2.1' });
    const adminGone = await legacyOrg('FREE');
    await db().membership.delete({ where: { orgId_userId: { orgId: adminGone.org.id, userId: adminGone.admin.id } } });
    const wrongKeyShape = await legacyOrg('FREE', { apiKey: OPENAI_KEY });
    const broken = [badCiphertext, otherMasterKey, unknownModel, adminGone, wrongKeyShape];
    const before = await Promise.all(broken.map(snapshot));

    const run = await migrate();
    expect(run.code).toBe(1);
    expect(lines(run.stdout)).toHaveLength(6);
    expect(lineFor(run, good)).toMatch(/: moved; /);
    expect(lineFor(run, badCiphertext)).toMatch(
      /: skipped: the legacy key could not be decrypted \(malformed IV or ciphertext\)$/,
    );
    expect(lineFor(run, otherMasterKey)).toMatch(
      /: skipped: (the legacy key could not be decrypted|the decrypted key is not an Anthropic API key)/,
    );
    expect(lineFor(run, unknownModel)).toMatch(/: skipped: "claude-2.1" is not an Anthropic model Ivy offers$/);
    expect(lineFor(run, adminGone)).toMatch(
      new RegExp(`: skipped: the admin \\(user ${adminGone.admin.id}\\) is no longer a member of the org$`),
    );
    expect(lineFor(run, wrongKeyShape)).toMatch(/: skipped: the decrypted key is not an Anthropic API key/);
    expect(run.stdout + run.stderr).not.toMatch(/Aa1Bb2|Ff6Gg7/);
    expect(run.stderr).toMatch(/Moved 1 org\(s\); skipped 5/);
    expect(await Promise.all(broken.map(snapshot))).toEqual(before);
    expect(await settings(good)).toMatchObject({ provider: 'ANTHROPIC', graceWindow: { active: true } });

    const again = await migrate();
    expect(again.code).toBe(1);
    expect(lines(again.stdout)).toHaveLength(5);
    expect(lineFor(again, good)).toBeUndefined();
  });

  it('keeps a provider the org already chose and a key the admin already saved', async () => {
    const o = await legacyOrg('GROWTH');
    await db().org.update({ where: { id: o.org.id }, data: { aiProvider: 'OPENAI', aiModel: 'gpt-5-mini' } });
    await server.seed.key(o.org.id, o.admin.id, 'ANTHROPIC', 'sk-ant-api03-newer-key-Zz1Yy2Xx3W');
    const run = await migrate();
    expect(run.code).toBe(0);
    expect(lineFor(run, o)).toMatch(
      /: moved; org setting kept \(the org already chose its own provider\); personal key kept \(.* already saved one\); no grace window$/,
    );
    expect(await settings(o)).toMatchObject({
      provider: 'OPENAI',
      model: { modelId: 'gpt-5-mini' },
      graceWindow: null,
      viewerKeys: [{ provider: 'ANTHROPIC', hint: 'sk-ant-…Xx3W' }],
    });
    expect((await snapshot(o)).legacy?.migratedAt).toBeInstanceOf(Date);
  });

  it('refuses an unknown option with exit code 2 and moves nothing', async () => {
    const o = await legacyOrg('FREE');
    const run = await migrate('--dryrun');
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toMatch(/Usage: npm run migrate:legacy-byok/);
    expect((await settings(o)).provider).toBe('INTERVY_CREDITS');
  });
});

describe('shredding the legacy secrets', () => {
  const DELETE_KEY = graphql(`
    mutation LegacyByokDeleteKey($o: ID!) {
      deletePersonalKey(input: { orgId: $o, provider: ANTHROPIC })
    }
  `);

  it('nulls each legacy ciphertext in the transaction that moves it, and leaves a skipped row’s intact', async () => {
    const moved = await legacyOrg('FREE');
    const skipped = await legacyOrg('FREE', { model: 'claude-2.1' });
    const skippedBefore = (await snapshot(skipped)).legacy!.encryptedKey;
    expect((await migrate()).code).toBe(1);

    expect((await snapshot(moved)).legacy).toMatchObject({ migratedAt: expect.any(Date), encryptedKey: null });
    expect((await snapshot(skipped)).legacy).toMatchObject({ migratedAt: null, encryptedKey: skippedBefore });
    // Deleting the moved personal key leaves no copy of it anywhere: the vault row is gone, the legacy one empty.
    expect((await server.client(moved.admin.token).data(DELETE_KEY, { o: moved.org.id })).deletePersonalKey).toBe(true);
    expect(await db().personalApiKey.count({ where: { orgId: moved.org.id } })).toBe(0);
    expect((await snapshot(moved)).legacy?.encryptedKey).toBeNull();
  });

  it('refuses --purge while any row is unmoved, naming its org, and deletes nothing', async () => {
    const moved = await legacyOrg('FREE');
    const stuck = await legacyOrg('FREE', { model: 'claude-2.1' });
    await migrate();
    const run = await migrate('--purge');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      new RegExp(`Refused: 1 legacy BYOK setting\\(s\\) not moved yet \\(${stuck.org.slug}\\).*Nothing was purged`),
    );
    expect(await db().legacyByokSetting.count({ where: { orgId: { in: [moved.org.id, stuck.org.id] } } })).toBe(2);
  });

  it('purges every moved row once nothing is left unmoved, and tells the operator to destroy LEGACY_BYOK_KEY', async () => {
    const a = await legacyOrg('FREE');
    const b = await legacyOrg('GROWTH', { provider: 'OPENAI', model: 'o3', apiKey: OPENAI_KEY });
    expect((await migrate()).code).toBe(0);
    const run = await migrate('--purge');
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/Purged 2 moved legacy BYOK row\(s\).*destroy LEGACY_BYOK_KEY/);
    expect(await db().legacyByokSetting.count()).toBe(0);
    // The moved settings and keys are untouched by the purge.
    expect(await settings(a)).toMatchObject({ provider: 'ANTHROPIC', viewerKeys: [{ provider: 'ANTHROPIC' }] });
    expect(await settings(b)).toMatchObject({ provider: 'OPENAI', viewerKeys: [{ provider: 'OPENAI' }] });
    expect((await migrate()).stderr).toMatch(/No legacy BYOK settings left to move/);
  });

  it('refuses --purge combined with --dry-run as a usage error', async () => {
    await legacyOrg('FREE');
    const run = await migrate('--purge', '--dry-run');
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(await db().legacyByokSetting.count({ where: { migratedAt: null } })).toBe(1);
  });
});

describe('the demo seed', () => {
  it('seeds initech and umbrella as moved from legacy settings, with windows ending 10 days after and 1 day before seeding', async () => {
    const { db: database, keyring } = server.app.services;
    await seedDemo(database, keyring, server.clock, LEGACY_KEY);
    const now = server.clock.now().getTime();
    const view = async (slug: string) => {
      const org = await database.org.findUniqueOrThrow({
        where: { slug },
        include: { memberships: true, legacyByokSettings: true },
      });
      const admin = org.memberships.find((m) => m.role === 'ADMIN')!;
      const token = await server.tokenFor(admin.userId);
      return { org, s: (await server.client(token).data(SETTINGS, { orgId: org.id })).orgAiSettings };
    };

    const initech = await view('initech');
    expect(initech.s).toMatchObject({
      provider: 'ANTHROPIC',
      effectiveProvider: 'ANTHROPIC',
      model: { modelId: 'claude-sonnet-5-5' },
      graceWindow: { endsAt: new Date(now + 10 * DAY_MS).toISOString(), active: true, daysRemaining: 10 },
      viewerKeys: [{ provider: 'ANTHROPIC', hint: 'sk-ant-…0000' }],
    });
    expect(initech.org.legacyByokSettings[0].migratedAt).toEqual(new Date(now - 20 * DAY_MS));

    const umbrella = await view('umbrella');
    expect(umbrella.s).toMatchObject({
      provider: 'OPENAI',
      effectiveProvider: 'INTERVY_CREDITS',
      graceWindow: { endsAt: new Date(now - DAY_MS).toISOString(), active: false, daysRemaining: 0 },
      viewerKeys: [{ provider: 'OPENAI' }],
    });
    expect(DEMO_ORGS.filter((o) => o.legacy).map((o) => o.slug)).toEqual(['initech', 'umbrella']);

    // Seeding again changes nothing; the move command finds nothing left; the sweep ends umbrella's window only.
    await seedDemo(database, keyring, server.clock, LEGACY_KEY);
    expect(await database.legacyByokSetting.count()).toBe(2);
    expect((await migrate()).stdout).toBe('');
    expect((await sweepEndedGraceWindows(server.app.services)).map((e) => e.slug)).toEqual(['umbrella']);
  });
});
