// Key readiness for admins: per provider, how many members have a key VALID, INVALID, UNTESTED or none, and how
// many saved keys were not tested within the re-test interval. Counts only, never who or which key (the help-center
// page promises keys are never shown to other members).
import type { Vendor } from './vendors.ts';
import type { Services } from './services.ts';

export interface KeyReadiness {
  provider: Vendor;
  membersTotal: number;
  valid: number;
  invalid: number;
  untested: number;
  notSaved: number;
  /** Saved keys whose last test (by the member or the scheduled re-test) is older than KEY_RETEST_INTERVAL. */
  notTestedWithinInterval: number;
  intervalMs: number;
}

const VENDORS: Vendor[] = ['ANTHROPIC', 'OPENAI'];

/** One query for both providers: members of the org, each with their key for the provider if saved. */
export async function keyReadiness(s: Services, orgId: string): Promise<KeyReadiness[]> {
  const intervalMs = s.config.keyRetest.intervalMs;
  const cutoff = new Date(s.clock.now().getTime() - intervalMs);
  const rows = await s.db.$queryRaw<
    { provider: Vendor; total: number; valid: number; invalid: number; untested: number; stale: number }[]
  >`
    SELECT p.provider,
           count(*)::int AS total,
           count(k.id) FILTER (WHERE k.status = 'VALID')::int AS valid,
           count(k.id) FILTER (WHERE k.status = 'INVALID')::int AS invalid,
           count(k.id) FILTER (WHERE k.status = 'UNTESTED')::int AS untested,
           count(k.id) FILTER (WHERE k.last_tested_at IS NULL OR k.last_tested_at < ${cutoff})::int AS stale
    FROM memberships m
    CROSS JOIN (VALUES ('ANTHROPIC'), ('OPENAI')) AS p(provider)
    LEFT JOIN personal_api_keys k
      ON k.org_id = m.org_id AND k.user_id = m.user_id AND k.provider::text = p.provider
    WHERE m.org_id = ${orgId}::uuid
    GROUP BY p.provider`;
  return VENDORS.map((provider) => {
    const r = rows.find((row) => row.provider === provider);
    const total = r?.total ?? 0;
    const valid = r?.valid ?? 0;
    const invalid = r?.invalid ?? 0;
    const untested = r?.untested ?? 0;
    return {
      provider,
      membersTotal: total,
      valid,
      invalid,
      untested,
      notSaved: total - valid - invalid - untested,
      notTestedWithinInterval: r?.stale ?? 0,
      intervalMs,
    };
  });
}
