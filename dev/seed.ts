// Small builders for test and bench data: `const { org, admin } = await server.seed.org({ plan: 'GROWTH' })`.
import { randomUUID } from 'node:crypto';
import type { AiProvider, OrgRole, Plan } from '../src/generated/prisma/enums.ts';
import type { Services } from '../src/domain/services.ts';
import { sealPersonalKey } from '../src/domain/key-vault.ts';
import { keyHint } from '../src/domain/vendors.ts';

export interface SeededMember {
  id: string;
  email: string;
  role: OrgRole;
  token: string;
}

export interface SeededOrg {
  org: { id: string; slug: string };
  admin: SeededMember;
  staffing: SeededMember;
  interviewer: SeededMember;
}

export interface OrgSpec {
  plan?: Plan;
  credits?: number;
  provider?: AiProvider;
  model?: string;
  graceWindowEndsAt?: Date | null;
}

export class Seeder {
  constructor(
    private readonly s: Services,
    private readonly sign: (userId: string) => Promise<string>,
  ) {}

  /** An org with one member of each role; credits recorded as a GRANT in the ledger. */
  async org(spec: OrgSpec = {}): Promise<SeededOrg> {
    const slug = `org-${randomUUID().slice(0, 8)}`;
    const credits = spec.credits ?? 1000;
    const org = await this.s.db.org.create({
      data: {
        slug,
        name: slug,
        plan: spec.plan ?? 'GROWTH',
        creditBalance: credits,
        aiProvider: spec.provider ?? 'INTERVY_CREDITS',
        aiModel: spec.model ?? null,
        graceWindowEndsAt: spec.graceWindowEndsAt ?? null,
      },
    });
    if (credits > 0)
      await this.s.db.creditLedgerEntry.create({
        data: { orgId: org.id, kind: 'GRANT', amount: credits, balanceAfter: credits },
      });
    const member = async (role: OrgRole) => this.member(org.id, role);
    return {
      org,
      admin: await member('ADMIN'),
      staffing: await member('STAFFING'),
      interviewer: await member('INTERVIEWER'),
    };
  }

  async member(orgId: string, role: OrgRole): Promise<SeededMember> {
    const email = `${role.toLowerCase()}-${randomUUID().slice(0, 8)}@test.example`;
    const user = await this.s.db.user.create({ data: { email, name: email } });
    await this.s.db.membership.create({ data: { orgId, userId: user.id, role } });
    return { id: user.id, email, role, token: await this.sign(user.id) };
  }

  /** A user who belongs to no org. */
  async outsider(): Promise<SeededMember> {
    const email = `outsider-${randomUUID().slice(0, 8)}@test.example`;
    const user = await this.s.db.user.create({ data: { email, name: email } });
    return { id: user.id, email, role: 'INTERVIEWER', token: await this.sign(user.id) };
  }

  /** Stores a key directly (for tests about using keys rather than saving them). */
  async key(
    orgId: string,
    userId: string,
    provider: 'ANTHROPIC' | 'OPENAI',
    apiKey: string,
    status: 'UNTESTED' | 'VALID' | 'INVALID' = 'VALID',
  ) {
    await this.s.db.personalApiKey.create({
      data: {
        orgId,
        userId,
        provider,
        hint: keyHint(apiKey),
        status,
        ...sealPersonalKey(this.s.keyring, orgId, userId, provider, apiKey),
      },
    });
  }
}
