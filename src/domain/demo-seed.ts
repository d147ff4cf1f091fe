// The demo data that the README, tests and tools rely on. Idempotent: seeding twice changes nothing.
import { randomBytes } from 'node:crypto';
import type { Prisma } from '../generated/prisma/client.ts';
import type { Plan, AiProvider, OrgRole } from '../generated/prisma/enums.ts';
import type { Keyring } from '../lib/crypto.ts';
import { DAY_MS, type Clock } from '../lib/clock.ts';
import type { Db } from '../lib/database.ts';
import { sealPersonalKey } from './key-vault.ts';
import { keyHint } from './vendors.ts';
import { writeLegacyByokSetting } from './legacy-byok.ts';
import { moveLegacyByokSetting } from './legacy-byok-move.ts';
import { GRACE_WINDOW_DAYS } from './grace-window.ts';

interface DemoOrg {
  slug: string;
  name: string;
  plan: Plan;
  credits: number;
  provider: AiProvider;
  /**
   * The org's first admin had per-admin BYOK: seeded as a legacy row and moved to the org as the move command would,
   * at the instant that makes the grace window end `graceDays` after seeding (negative: already ended).
   */
  legacy?: { provider: 'ANTHROPIC' | 'OPENAI'; model: string; apiKey: string; graceDays: number };
  members: { email: string; name: string; role: OrgRole; key?: { provider: 'ANTHROPIC' | 'OPENAI'; apiKey: string } }[];
}

/** Demo keys are accepted by the loopback provider stand-ins (`npm run demo`), never by a real provider. */
export const DEMO_ORGS: DemoOrg[] = [
  {
    slug: 'acme',
    name: 'Acme Corp',
    plan: 'GROWTH',
    credits: 10_000,
    provider: 'INTERVY_CREDITS',
    members: [
      { email: 'admin@acme.test', name: 'Ada Admin', role: 'ADMIN' },
      { email: 'staffing@acme.test', name: 'Sam Staffing', role: 'STAFFING' },
      { email: 'interviewer@acme.test', name: 'Ivan Interviewer', role: 'INTERVIEWER' },
    ],
  },
  {
    slug: 'globex',
    name: 'Globex',
    plan: 'FREE',
    credits: 500,
    provider: 'INTERVY_CREDITS',
    members: [{ email: 'admin@globex.test', name: 'Gina Admin', role: 'ADMIN' }],
  },
  {
    slug: 'initech',
    name: 'Initech',
    plan: 'FREE',
    credits: 300,
    provider: 'INTERVY_CREDITS',
    legacy: {
      provider: 'ANTHROPIC',
      model: 'claude-sonnet-5-5',
      apiKey: 'sk-ant-demo-initech-0000000000000000',
      graceDays: 10,
    },
    members: [{ email: 'admin@initech.test', name: 'Bill Admin', role: 'ADMIN' }],
  },
  {
    slug: 'umbrella',
    name: 'Umbrella',
    plan: 'FREE',
    credits: 300,
    provider: 'INTERVY_CREDITS',
    legacy: { provider: 'OPENAI', model: 'gpt-5', apiKey: 'sk-demo-umbrella-00000000000000000', graceDays: -1 },
    members: [{ email: 'admin@umbrella.test', name: 'Alice Admin', role: 'ADMIN' }],
  },
];

/**
 * The one seeding rule, for the server and every operator command: demo data when SEED_DEMO is set, or into a fresh
 * embedded database; never silently into a database named by DATABASE_URL. True when it seeded.
 */
export async function seedDemoIfWanted(
  seedDemoFlag: boolean,
  database: { db: Db; embedded: boolean },
  ring: Keyring,
  clock: Clock,
): Promise<boolean> {
  if (!seedDemoFlag && !(database.embedded && (await database.db.org.count()) === 0)) return false;
  await seedDemo(database.db, ring, clock);
  return true;
}

/**
 * `legacyKey` is the legacy scheme's master key (LEGACY_BYOK_KEY). Without one, a throwaway key is used: the demo's
 * legacy rows are moved in the same transaction that writes them, so nothing reads them again.
 */
export async function seedDemo(
  db: Db,
  ring: Keyring,
  clock: Clock,
  legacyKey: Buffer = randomBytes(32),
): Promise<void> {
  const now = clock.now();
  for (const spec of DEMO_ORGS) {
    if (await db.org.findUnique({ where: { slug: spec.slug } })) continue;
    await db.$transaction((tx) => seedDemoOrg(tx, spec, ring, now, legacyKey));
  }
}

/**
 * `npm run demo:reset`: the demo orgs exactly as a first seed leaves them, whatever the examples changed (provider,
 * model, keys, caps, fallback, credits, usage, audit log). Each org is deleted (its members, keys, completions, ledger
 * and audit events go with it) and seeded again under the same id, in one transaction, so an org id copied into
 * GraphiQL's Variables tab still works. The demo users keep their ids, so their tokens stay valid (a revoked token
 * stays revoked).
 * Returns the slugs reset.
 */
export async function resetDemo(
  db: Db,
  ring: Keyring,
  clock: Clock,
  legacyKey: Buffer = randomBytes(32),
): Promise<string[]> {
  const now = clock.now();
  await db.$transaction(async (tx) => {
    const existing = await tx.org.findMany({
      where: { slug: { in: DEMO_ORGS.map((o) => o.slug) } },
      select: { id: true, slug: true },
    });
    const ids = new Map(existing.map((o) => [o.slug, o.id]));
    await tx.org.deleteMany({ where: { id: { in: existing.map((o) => o.id) } } });
    for (const spec of DEMO_ORGS) await seedDemoOrg(tx, spec, ring, now, legacyKey, ids.get(spec.slug));
  });
  return DEMO_ORGS.map((o) => o.slug);
}

async function seedDemoOrg(
  tx: Prisma.TransactionClient,
  spec: DemoOrg,
  ring: Keyring,
  now: Date,
  legacyKey: Buffer,
  id?: string,
) {
  const org = await tx.org.create({
    data: {
      id,
      slug: spec.slug,
      name: spec.name,
      plan: spec.plan,
      creditBalance: spec.credits,
      aiProvider: spec.provider,
    },
  });
  await tx.creditLedgerEntry.create({
    data: { orgId: org.id, kind: 'GRANT', amount: spec.credits, balanceAfter: spec.credits, note: 'demo seed' },
  });
  let adminId: string | undefined;
  for (const m of spec.members) {
    const user = await tx.user.upsert({
      where: { email: m.email },
      create: { email: m.email, name: m.name },
      update: { name: m.name },
    });
    if (m.role === 'ADMIN') adminId ??= user.id;
    await tx.membership.create({ data: { orgId: org.id, userId: user.id, role: m.role } });
    if (m.key) {
      await tx.personalApiKey.create({
        data: {
          orgId: org.id,
          userId: user.id,
          provider: m.key.provider,
          hint: keyHint(m.key.apiKey),
          ...sealPersonalKey(ring, org.id, user.id, m.key.provider, m.key.apiKey),
        },
      });
    }
  }
  if (spec.legacy) {
    const { graceDays, ...setting } = spec.legacy;
    const row = await writeLegacyByokSetting(tx, legacyKey, { orgId: org.id, adminUserId: adminId!, ...setting });
    const movedAt = new Date(now.getTime() + (graceDays - GRACE_WINDOW_DAYS) * DAY_MS);
    const moved = await moveLegacyByokSetting(tx, { keyring: ring, legacyKey }, row.id, movedAt);
    if (moved.outcome !== 'moved')
      throw new Error(`demo seed: legacy setting of ${spec.slug} not moved (${JSON.stringify(moved)})`);
  }
}
