import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main as graceSweep } from '../../src/commands/grace-sweep.ts';
import { main as plan } from '../../src/commands/plan.ts';
import { sweepEndedGraceWindows } from '../../src/domain/grace-window.ts';
import { writeLegacyByokSetting } from '../../src/domain/legacy-byok.ts';
import { migrateLegacyByok } from '../../src/domain/legacy-byok-move.ts';
import { setOrgPlan } from '../../src/domain/plans-admin.ts';
import { DAY_MS, ManualClock } from '../../src/lib/clock.ts';
import type { Subscription } from '../../dev/client.ts';
import { lines, runCommand } from '../support/operator-command.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import type { SeededOrg } from '../../dev/seed.ts';
import { graphql } from '../../src/generated/graphql/index.ts';
import type { AiProvider } from '../../src/generated/graphql/graphql.ts';
import { AUDIT_LOG } from '../../dev/documents.ts';

const SETTINGS = graphql(`
  query GraceSettings($orgId: ID!) {
    orgAiSettings(orgId: $orgId) {
      provider
      effectiveProvider
      plan
      byokAvailable
      byokActive
      model {
        modelId
      }
      effectiveModel {
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
      }
    }
  }
`);
const UPDATE = graphql(`
  mutation GraceUpdate($input: UpdateProviderInput!) {
    updateProvider(input: $input) {
      provider
      effectiveProvider
      graceWindow {
        active
      }
    }
  }
`);
const IMPACT = graphql(`
  query GraceImpact($orgId: ID!, $provider: AiProvider!) {
    providerChangeImpact(orgId: $orgId, provider: $provider) {
      allowed
      refusalReason
      refusalMessage
      requiredPlan
      endsGraceWindow
      graceWindowNotice
    }
  }
`);
const WATCH = graphql(`
  subscription GraceWatch($orgId: ID!) {
    orgAiSettingsChanged(orgId: $orgId) {
      provider
      effectiveProvider
      plan
      graceWindow {
        active
      }
    }
  }
`);

const T0 = new Date('2026-11-26T12:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const LEGACY_KEY = randomBytes(32);
const ADMIN_KEY = 'sk-ant-api03-legacy-admin-Zz9Yy8Xx7W';

let server: TestServer;
const subs: Subscription<unknown>[] = [];

beforeAll(async () => {
  server = await startTestServer({ clock: new ManualClock(T0) });
});
beforeEach(() => server.clock.set(T0));
afterEach(() => subs.splice(0).forEach((s) => s.stop()));
afterAll(() => server?.stop());

type LegacyOrg = SeededOrg & { endsAt: Date };

/** A FREE org whose admin had per-admin Anthropic BYOK, moved to the org at T0 by the real move. */
async function legacyOrg(): Promise<LegacyOrg> {
  const o = await server.seed.org({ plan: 'FREE' });
  await writeLegacyByokSetting(server.app.services.db, LEGACY_KEY, {
    orgId: o.org.id,
    adminUserId: o.admin.id,
    provider: 'ANTHROPIC',
    model: 'claude-opus-5-5',
    apiKey: ADMIN_KEY,
  });
  const reports = await migrateLegacyByok({ ...server.app.services, legacyKey: LEGACY_KEY }, { dryRun: false });
  expect(reports).toEqual([expect.objectContaining({ orgId: o.org.id, outcome: 'moved' })]);
  return { ...o, endsAt: at(30 * DAY_MS) };
}

const impact = async (o: SeededOrg, provider: AiProvider) =>
  (await server.client(o.admin.token).data(IMPACT, { orgId: o.org.id, provider })).providerChangeImpact;
const settings = async (o: SeededOrg, token = o.admin.token) =>
  (await server.client(token).data(SETTINGS, { orgId: o.org.id })).orgAiSettings;
const update = (o: SeededOrg, provider: AiProvider, model?: string) =>
  server.client(o.admin.token).request(UPDATE, { input: { orgId: o.org.id, provider, ...(model ? { model } : {}) } });
const auditActions = async (o: SeededOrg) =>
  (await server.client(o.admin.token).data(AUDIT_LOG, { orgId: o.org.id })).auditLog.edges.map((e) => e.node);

/** Subscribes as `token` and returns once the server counts the subscription as listening. */
async function watch(o: SeededOrg, token: string) {
  // A burst still pending from the setup (the legacy move) must not reach the new subscriber as if it were news.
  server.app.services.pubsub.settingsEvents.flushAll();
  const before = server.app.services.pubsub.subscribers(o.org.id);
  const sub = server.client(token).subscribeWs(WATCH, { orgId: o.org.id });
  subs.push(sub);
  await server.app.services.pubsub.whenSubscribed(o.org.id, before + 1);
  return sub;
}

describe('during the grace window', () => {
  it('ends the window 30 days after the move, by the server clock', async () => {
    const o = await legacyOrg();
    expect((await settings(o)).graceWindow).toEqual({
      endsAt: o.endsAt.toISOString(),
      active: true,
      daysRemaining: 30,
    });
  });

  it('keeps the legacy provider and model working on FREE while the window is open', async () => {
    const o = await legacyOrg();
    expect(await settings(o)).toMatchObject({
      provider: 'ANTHROPIC',
      effectiveProvider: 'ANTHROPIC',
      plan: 'FREE',
      byokAvailable: false,
      byokActive: true,
      model: { modelId: 'claude-opus-5-5' },
      effectiveModel: { modelId: 'claude-opus-5-5' },
      viewerKeys: [{ provider: 'ANTHROPIC', hint: 'sk-ant-…Xx7W' }],
    });
  });

  it('shows every member, interviewers included, the banner with the end date', async () => {
    const o = await legacyOrg();
    server.clock.set(at(20 * DAY_MS));
    for (const m of [o.admin, o.staffing, o.interviewer]) {
      expect((await settings(o, m.token)).graceWindow).toEqual({
        endsAt: o.endsAt.toISOString(),
        active: true,
        daysRemaining: 10,
      });
    }
  });

  it('counts the days remaining rounded up, so the last day reads 1 and the end reads 0', async () => {
    const o = await legacyOrg();
    const daysAt = async (msBeforeEnd: number) => {
      server.clock.set(new Date(o.endsAt.getTime() - msBeforeEnd));
      return (await settings(o)).graceWindow;
    };
    expect(await daysAt(10 * DAY_MS)).toMatchObject({ active: true, daysRemaining: 10 });
    expect(await daysAt(10 * DAY_MS - 1)).toMatchObject({ active: true, daysRemaining: 10 });
    expect(await daysAt(9 * DAY_MS)).toMatchObject({ active: true, daysRemaining: 9 });
    expect(await daysAt(1)).toMatchObject({ active: true, daysRemaining: 1 });
    expect(await daysAt(0)).toMatchObject({ active: false, daysRemaining: 0 });
    expect(await daysAt(-5 * DAY_MS)).toMatchObject({ active: false, daysRemaining: 0 });
  });

  it('refuses a switch to another BYOK provider with PLAN_UPGRADE_REQUIRED, and the impact dialog says so first', async () => {
    const o = await legacyOrg();
    const said = await impact(o, 'OPENAI');
    expect(said).toMatchObject({
      allowed: false,
      refusalReason: 'GRACE_WINDOW_OTHER_PROVIDER',
      requiredPlan: 'GROWTH',
      endsGraceWindow: false,
      graceWindowNotice: null,
    });
    expect(said.refusalMessage).toBe(
      'This org’s legacy BYOK grace window (until 2026-12-26) keeps only Anthropic, the provider it already had. Upgrade to Growth to use OpenAI.',
    );
    const refused = (await update(o, 'OPENAI')).errors?.[0];
    expect(refused?.extensions?.code).toBe('PLAN_UPGRADE_REQUIRED');
    expect(refused?.message).toBe(said.refusalMessage);
    expect(await settings(o)).toMatchObject({
      provider: 'ANTHROPIC',
      effectiveProvider: 'ANTHROPIC',
      graceWindow: { active: true },
    });
  });

  it('lets an admin choose another model of the legacy provider, keeping the window', async () => {
    const o = await legacyOrg();
    expect(await impact(o, 'ANTHROPIC')).toMatchObject({
      allowed: true,
      refusalReason: null,
      refusalMessage: null,
      requiredPlan: null,
      endsGraceWindow: false,
      graceWindowNotice: null,
    });
    expect((await update(o, 'ANTHROPIC', 'claude-haiku-5-5')).errors).toBeUndefined();
    expect(await settings(o)).toMatchObject({
      effectiveModel: { modelId: 'claude-haiku-5-5' },
      graceWindow: { active: true, daysRemaining: 30 },
    });
  });

  it('lets an admin switch back to Intervy Credits, which ends the window for good, as the confirmation says first', async () => {
    const o = await legacyOrg();
    server.clock.set(at(10 * DAY_MS));
    expect(await impact(o, 'INTERVY_CREDITS')).toEqual({
      allowed: true,
      refusalReason: null,
      refusalMessage: null,
      requiredPlan: null,
      endsGraceWindow: true,
      graceWindowNotice:
        'Switching to Intervy Credits ends this org’s legacy BYOK grace window now, 20 day(s) before 2026-12-26, and for good: using Anthropic again will need the Growth plan. Members’ saved keys are kept.',
    });
    expect((await update(o, 'INTERVY_CREDITS')).errors).toBeUndefined();
    // Having left it, the org is a plain Free org: the reason says so.
    expect(await impact(o, 'ANTHROPIC')).toMatchObject({
      allowed: false,
      refusalReason: 'PLAN_EXCLUDES_BYOK',
      requiredPlan: 'GROWTH',
    });
    expect(await settings(o)).toMatchObject({
      provider: 'INTERVY_CREDITS',
      effectiveProvider: 'INTERVY_CREDITS',
      graceWindow: null,
    });
    expect((await update(o, 'ANTHROPIC')).errors?.[0].extensions?.code).toBe('PLAN_UPGRADE_REQUIRED');
    expect((await settings(o)).viewerKeys).toHaveLength(1);
  });
});

describe('when the grace window ends', () => {
  it('switches Ivy to Intervy Credits 1 ms after the end, on the next request, without any sweep', async () => {
    const o = await legacyOrg();
    server.clock.set(new Date(o.endsAt.getTime() - 1));
    expect(await settings(o)).toMatchObject({ effectiveProvider: 'ANTHROPIC', byokActive: true });
    server.clock.set(new Date(o.endsAt.getTime() + 1));
    expect(await settings(o)).toMatchObject({
      provider: 'ANTHROPIC',
      effectiveProvider: 'INTERVY_CREDITS',
      byokActive: false,
      effectiveModel: { modelId: server.app.services.models.house.id },
      graceWindow: { endsAt: o.endsAt.toISOString(), active: false, daysRemaining: 0 },
    });
    expect((await auditActions(o)).map((e) => e.action)).not.toContain('ai_settings.grace_window_ended');
  });

  it('says why a BYOK provider is refused once the window has ended, and that leaving for credits ends nothing now', async () => {
    const o = await legacyOrg();
    server.clock.set(o.endsAt);
    for (const provider of ['ANTHROPIC', 'OPENAI'] as const) {
      const said = await impact(o, provider);
      expect(said).toMatchObject({ allowed: false, refusalReason: 'GRACE_WINDOW_ENDED', requiredPlan: 'GROWTH' });
      expect(said.refusalMessage).toContain('grace window ended on 2026-12-26');
      expect((await update(o, provider)).errors?.[0].message).toBe(said.refusalMessage);
    }
    expect(await impact(o, 'INTERVY_CREDITS')).toMatchObject({
      allowed: true,
      endsGraceWindow: false,
      graceWindowNotice: null,
    });
  });

  it('refuses to save the legacy provider again once the window has ended', async () => {
    const o = await legacyOrg();
    server.clock.set(new Date(o.endsAt.getTime() + 1));
    expect((await update(o, 'ANTHROPIC')).errors?.[0].extensions?.code).toBe('PLAN_UPGRADE_REQUIRED');
  });

  it('saves the switch back with the sweep: credits, keys kept, the ended banner, an audit event and a live update', async () => {
    const o = await legacyOrg();
    const live = await watch(o, o.interviewer.token);
    server.clock.set(new Date(o.endsAt.getTime() + 1));
    const ended = await sweepEndedGraceWindows(server.app.services);
    // Earlier tests' windows end at the same instant, so the sweep may end theirs too.
    expect(ended.filter((e) => e.orgId === o.org.id)).toEqual([
      {
        orgId: o.org.id,
        slug: o.org.slug,
        from: { provider: 'ANTHROPIC', model: 'claude-opus-5-5' },
        endedAt: o.endsAt,
      },
    ]);

    expect(await settings(o)).toMatchObject({
      provider: 'INTERVY_CREDITS',
      effectiveProvider: 'INTERVY_CREDITS',
      model: { modelId: server.app.services.models.house.id },
      graceWindow: { endsAt: o.endsAt.toISOString(), active: false, daysRemaining: 0 },
      viewerKeys: [{ provider: 'ANTHROPIC' }],
    });
    const [event] = await auditActions(o);
    expect(event).toEqual({
      action: 'ai_settings.grace_window_ended',
      actorId: null,
      detail: {
        from: { provider: 'ANTHROPIC', model: 'claude-opus-5-5' },
        to: { provider: 'INTERVY_CREDITS', model: null },
        graceWindowEndsAt: o.endsAt.toISOString(),
      },
    });
    const [pushed] = await live.waitFor(1);
    expect(pushed.data?.orgAiSettingsChanged).toEqual({
      provider: 'INTERVY_CREDITS',
      effectiveProvider: 'INTERVY_CREDITS',
      plan: 'FREE',
      graceWindow: { active: false },
    });
  });

  it('ends each window once, even with two sweeps running at the same moment', async () => {
    const o = await legacyOrg();
    server.clock.set(new Date(o.endsAt.getTime() + 1));
    const [a, b] = await Promise.all([
      sweepEndedGraceWindows(server.app.services),
      sweepEndedGraceWindows(server.app.services),
    ]);
    expect([...a, ...b].filter((e) => e.orgId === o.org.id)).toHaveLength(1);
    expect((await sweepEndedGraceWindows(server.app.services)).filter((e) => e.orgId === o.org.id)).toEqual([]);
    expect((await auditActions(o)).filter((e) => e.action === 'ai_settings.grace_window_ended')).toHaveLength(1);
  });

  it('leaves open windows, upgraded orgs and orgs that never had a window alone', async () => {
    const open = await legacyOrg();
    const upgraded = await legacyOrg();
    await setOrgPlan(server.app.services, upgraded.org.slug, 'GROWTH');
    const plainFree = await server.seed.org({ plan: 'FREE', provider: 'OPENAI' });
    server.clock.set(new Date(open.endsAt.getTime() - 1));
    const ended = (await sweepEndedGraceWindows(server.app.services)).map((e) => e.orgId);
    server.clock.set(at(90 * DAY_MS));
    ended.push(...(await sweepEndedGraceWindows(server.app.services)).map((e) => e.orgId));
    expect(ended).toContain(open.org.id);
    expect(ended).not.toContain(upgraded.org.id);
    expect(ended).not.toContain(plainFree.org.id);
    expect((await settings(upgraded)).provider).toBe('ANTHROPIC');
  });

  it('is swept by the server’s own background jobs', async () => {
    const o = await legacyOrg();
    const other = await startTestServer({
      databaseUrl: server.config.databaseUrl,
      clock: new ManualClock(new Date(o.endsAt.getTime() + 1)),
      backgroundJobs: true,
      env: { SWEEP_INTERVAL_MS: '50' },
    });
    try {
      await other.probe.waitForSweeps();
      expect((await settings(o)).provider).toBe('INTERVY_CREDITS');
    } finally {
      await other.stop();
    }
    expect((await auditActions(o))[0]).toMatchObject({ action: 'ai_settings.grace_window_ended', actorId: null });
  });
});

describe('an upgrade to Growth', () => {
  const planCommand = (...args: string[]) =>
    runCommand(plan, args, {
      DATABASE_URL: server.config.databaseUrl,
      KEY_ENCRYPTION_KEYS: server.config.keyEncryptionKeys,
      AUTH_JWT_SECRET: 'x'.repeat(32),
    });

  it('clears the window through the plan command, and BYOK keeps working past the old end', async () => {
    const o = await legacyOrg();
    const run = await planCommand('set', o.org.slug, 'GROWTH');
    expect(run).toMatchObject({ code: 0, stdout: `${o.org.slug}: plan FREE -> GROWTH; grace window cleared\n` });
    server.clock.set(at(60 * DAY_MS));
    expect(await settings(o)).toMatchObject({
      plan: 'GROWTH',
      byokAvailable: true,
      effectiveProvider: 'ANTHROPIC',
      byokActive: true,
      graceWindow: null,
    });
    expect((await sweepEndedGraceWindows(server.app.services)).map((e) => e.orgId)).not.toContain(o.org.id);
    expect((await update(o, 'OPENAI', 'o3')).errors).toBeUndefined();
    expect((await auditActions(o)).map((e) => e.action)).toContain('plan.changed');
    expect((await auditActions(o)).find((e) => e.action === 'plan.changed')).toMatchObject({
      actorId: null,
      detail: { from: 'FREE', to: 'GROWTH', graceWindowCleared: true, graceWindowEndsAt: o.endsAt.toISOString() },
    });
  });

  it('tells subscribers about the plan change', async () => {
    const o = await legacyOrg();
    const live = await watch(o, o.staffing.token);
    await setOrgPlan(server.app.services, o.org.slug, 'ENTERPRISE');
    const [pushed] = await live.waitFor(1);
    expect(pushed.data?.orgAiSettingsChanged).toEqual({
      provider: 'ANTHROPIC',
      effectiveProvider: 'ANTHROPIC',
      plan: 'ENTERPRISE',
      graceWindow: null,
    });
  });

  it('keeps BYOK when it comes after the end but before the sweep', async () => {
    const o = await legacyOrg();
    server.clock.set(new Date(o.endsAt.getTime() + DAY_MS));
    await setOrgPlan(server.app.services, o.org.slug, 'GROWTH');
    expect(await settings(o)).toMatchObject({
      provider: 'ANTHROPIC',
      effectiveProvider: 'ANTHROPIC',
      graceWindow: null,
    });
  });

  it('does not bring BYOK back after the sweep switched the org to credits: the admin picks it again', async () => {
    const o = await legacyOrg();
    server.clock.set(new Date(o.endsAt.getTime() + DAY_MS));
    await sweepEndedGraceWindows(server.app.services);
    await setOrgPlan(server.app.services, o.org.slug, 'GROWTH');
    expect(await settings(o)).toMatchObject({
      provider: 'INTERVY_CREDITS',
      effectiveProvider: 'INTERVY_CREDITS',
      graceWindow: null,
    });
    expect((await update(o, 'ANTHROPIC')).errors).toBeUndefined();
    expect((await settings(o)).effectiveProvider).toBe('ANTHROPIC');
  });

  it('changes nothing when the org is already on that plan, and refuses bad usage', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    expect(await planCommand('set', o.org.slug, 'GROWTH')).toMatchObject({
      code: 0,
      stdout: `${o.org.slug}: already on GROWTH; nothing changed\n`,
    });
    expect((await auditActions(o)).map((e) => e.action)).not.toContain('plan.changed');
    expect((await planCommand('set', o.org.slug, 'PLATINUM')).code).toBe(2);
    expect((await planCommand('set', o.org.slug)).code).toBe(2);
    const unknown = await planCommand('set', 'no-such-org', 'GROWTH');
    expect(unknown).toMatchObject({ code: 1, stdout: '' });
    expect(unknown.stderr).toMatch(/No org with slug "no-such-org"/);
  });
});

describe('npm run grace:sweep', () => {
  it('switches ended windows back from the command line, once, leaving open ones alone', async () => {
    // Its own database: the command reads the real clock, by which this file's other windows may have ended.
    const cmdServer = await startTestServer({ clock: new ManualClock(new Date()) });
    try {
      const now = Date.now();
      const ended = await cmdServer.seed.org({
        plan: 'FREE',
        provider: 'OPENAI',
        model: 'o3',
        graceWindowEndsAt: new Date(now - 60_000),
      });
      const open = await cmdServer.seed.org({
        plan: 'FREE',
        provider: 'ANTHROPIC',
        graceWindowEndsAt: new Date(now + DAY_MS),
      });
      const env = {
        DATABASE_URL: cmdServer.config.databaseUrl,
        KEY_ENCRYPTION_KEYS: cmdServer.config.keyEncryptionKeys,
        AUTH_JWT_SECRET: 'x'.repeat(32),
      };
      const first = await runCommand(graceSweep, [], env);
      expect(first.code).toBe(0);
      expect(lines(first.stdout)).toEqual([
        expect.stringMatching(
          new RegExp(`^${ended.org.slug}: grace window ended .*; switched from OPENAI to INTERVY_CREDITS$`),
        ),
      ]);
      const view = async (o: SeededOrg) =>
        (await cmdServer.client(o.interviewer.token).data(SETTINGS, { orgId: o.org.id })).orgAiSettings;
      expect(await view(ended)).toMatchObject({ provider: 'INTERVY_CREDITS', graceWindow: { active: false } });
      expect(await view(open)).toMatchObject({
        provider: 'ANTHROPIC',
        effectiveProvider: 'ANTHROPIC',
        graceWindow: { active: true },
      });

      const second = await runCommand(graceSweep, [], env);
      expect(second).toMatchObject({ code: 0, stdout: '' });
      expect((await runCommand(graceSweep, ['--now'], env)).code).toBe(2);
    } finally {
      await cmdServer.stop();
    }
  });
});
