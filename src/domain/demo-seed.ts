// The demo data that the README, tests and tools rely on. Idempotent: seeding twice changes nothing.
import type { Plan, AiProvider, OrgRole } from '../generated/prisma/enums.ts';
import type { Keyring } from '../lib/crypto.ts';
import { DAY_MS, type Clock } from '../lib/clock.ts';
import type { Db } from '../lib/database.ts';
import { recordAudit } from './audit.ts';
import { keyHint, sealPersonalKey } from './key-vault.ts';

interface DemoOrg {
  slug: string;
  name: string;
  plan: Plan;
  credits: number;
  provider: AiProvider;
  model?: string;
  /** Days from seeding until the legacy grace window ends (negative: already ended). */
  graceDays?: number;
  members: { email: string; name: string; role: OrgRole; key?: { provider: 'ANTHROPIC' | 'OPENAI'; apiKey: string } }[];
}

/** Demo keys are accepted by the loopback provider stand-ins (`npm run demo`), never by a real provider. */
export const DEMO_ORGS: DemoOrg[] = [
  {
    slug: 'acme', name: 'Acme Corp', plan: 'GROWTH', credits: 10_000, provider: 'INTERVY_CREDITS',
    members: [
      { email: 'admin@acme.test', name: 'Ada Admin', role: 'ADMIN' },
      { email: 'staffing@acme.test', name: 'Sam Staffing', role: 'STAFFING' },
      { email: 'interviewer@acme.test', name: 'Ivan Interviewer', role: 'INTERVIEWER' },
    ],
  },
  {
    slug: 'globex', name: 'Globex', plan: 'FREE', credits: 500, provider: 'INTERVY_CREDITS',
    members: [{ email: 'admin@globex.test', name: 'Gina Admin', role: 'ADMIN' }],
  },
  {
    slug: 'initech', name: 'Initech', plan: 'FREE', credits: 300, provider: 'ANTHROPIC', model: 'claude-sonnet-5-5', graceDays: 10,
    members: [{ email: 'admin@initech.test', name: 'Bill Admin', role: 'ADMIN', key: { provider: 'ANTHROPIC', apiKey: 'sk-ant-demo-initech-0000000000000000' } }],
  },
  {
    slug: 'umbrella', name: 'Umbrella', plan: 'FREE', credits: 300, provider: 'OPENAI', model: 'gpt-5', graceDays: -1,
    members: [{ email: 'admin@umbrella.test', name: 'Alice Admin', role: 'ADMIN', key: { provider: 'OPENAI', apiKey: 'sk-demo-umbrella-00000000000000000' } }],
  },
];

export async function isEmpty(db: Db): Promise<boolean> {
  return (await db.org.count()) === 0;
}

export async function seedDemo(db: Db, ring: Keyring, clock: Clock): Promise<void> {
  const now = clock.now();
  for (const spec of DEMO_ORGS) {
    if (await db.org.findUnique({ where: { slug: spec.slug } })) continue;
    await db.$transaction(async (tx) => {
      const org = await tx.org.create({
        data: {
          slug: spec.slug, name: spec.name, plan: spec.plan, creditBalance: spec.credits, aiProvider: spec.provider,
          aiModel: spec.model ?? null,
          graceWindowEndsAt: spec.graceDays === undefined ? null : new Date(now.getTime() + spec.graceDays * DAY_MS),
        },
      });
      await tx.creditLedgerEntry.create({ data: { orgId: org.id, kind: 'GRANT', amount: spec.credits, balanceAfter: spec.credits, note: 'demo seed' } });
      for (const m of spec.members) {
        const user = await tx.user.upsert({ where: { email: m.email }, create: { email: m.email, name: m.name }, update: {} });
        await tx.membership.create({ data: { orgId: org.id, userId: user.id, role: m.role } });
        if (m.key) {
          await tx.personalApiKey.create({
            data: { orgId: org.id, userId: user.id, provider: m.key.provider, hint: keyHint(m.key.apiKey), ...sealPersonalKey(ring, org.id, user.id, m.key.provider, m.key.apiKey) },
          });
        }
      }
      if (spec.graceDays !== undefined) {
        await recordAudit(tx, { orgId: org.id, actorId: null, action: 'ai_settings.legacy_byok_migrated', detail: { provider: spec.provider, model: spec.model ?? null, source: 'demo seed' } });
      }
    });
  }
}
