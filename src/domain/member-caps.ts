// Per-member monthly credit caps. A member's spend in a calendar month (UTC) is what their credits completions hold
// or were charged; a hold counts against the cap in the same transaction that debits the org's balance, and the
// cap check is part of the statement that adds it (a conditional upsert on the member's row, which PostgreSQL locks),
// so no number of concurrent requests can take a member past their cap.
import type { Prisma } from '../generated/prisma/client.ts';
import { DomainError, refuse } from '../lib/errors.ts';
import type { Db } from '../lib/database.ts';
import { recordAudit } from './audit.ts';
import type { Actor, Services } from './services.ts';

type Tx = Prisma.TransactionClient;

/** The first instant of the calendar month (UTC) that `now` falls in: the key of a member's spend. */
export function spendMonth(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

/** When a cap counted in `now`'s month starts again from zero: the first instant of the next month, UTC. */
export function capResetsAt(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}

/** A date as PostgreSQL's `date` reads it, whatever the session's time zone. */
export const isoDay = (d: Date) => d.toISOString().slice(0, 10);

/** Refuses with MEMBER_CAP_REACHED, saying what is left of the member's cap and when it resets. */
export async function capReached(
  db: Tx | Db,
  req: { orgId: string; userId: string; month: Date; amount: number },
): Promise<never> {
  const { cap, spent } = await memberCapOf(db, req.orgId, req.userId, req.month);
  const resets = capResetsAt(req.month);
  throw new DomainError(
    'MEMBER_CAP_REACHED',
    `This request may use up to ${req.amount} credits and you have ${Math.max(0, (cap ?? 0) - spent)} left of your monthly cap of ${cap} credits in this org. ` +
      `The cap resets at the start of next month, ${isoDay(resets)} 00:00 UTC; an Org Admin can raise it. You can also shorten the request (lower maxTokens).`,
    { resetsAt: resets.toISOString(), cap, spent },
  );
}

export interface MemberCap {
  /** The cap that applies (the member's own, else the org default), or null: no cap. */
  cap: number | null;
  source: 'MEMBER' | 'ORG_DEFAULT' | 'NONE';
  spent: number;
}

/** A member's cap and what they held or spent in `month`. */
export async function memberCapOf(db: Tx | Db, orgId: string, userId: string, month: Date): Promise<MemberCap> {
  const [membership, org, spend] = await Promise.all([
    db.membership.findUnique({ where: { orgId_userId: { orgId, userId } }, select: { creditCap: true } }),
    db.org.findUnique({ where: { id: orgId }, select: { memberCapDefault: true } }),
    db.memberSpend.findUnique({ where: { orgId_userId_month: { orgId, userId, month } }, select: { spent: true } }),
  ]);
  const own = membership?.creditCap ?? null;
  const fallback = org?.memberCapDefault ?? null;
  return {
    cap: own ?? fallback,
    source: own != null ? 'MEMBER' : fallback != null ? 'ORG_DEFAULT' : 'NONE',
    spent: spend?.spent ?? 0,
  };
}

function checkCap(monthlyCredits: number | null | undefined): number | null {
  if (monthlyCredits == null) return null;
  if (!Number.isInteger(monthlyCredits) || monthlyCredits < 0 || monthlyCredits > 1_000_000_000)
    refuse('BAD_USER_INPUT', 'monthlyCredits must be a whole number of credits from 0 to 1,000,000,000, or null.');
  return monthlyCredits;
}

/** Sets (or, with null, clears) one member's monthly cap. Org Admins only; the schema enforces who. */
export async function setMemberCap(
  s: Services,
  actor: Actor,
  input: { orgId: string; userId: string; monthlyCredits?: number | null },
): Promise<void> {
  const cap = checkCap(input.monthlyCredits);
  await s.db.$transaction(async (tx) => {
    const { count } = await tx.membership.updateMany({
      where: { orgId: input.orgId, userId: input.userId },
      data: { creditCap: cap },
    });
    if (count === 0) refuse('BAD_USER_INPUT', 'That user is not a member of this org.');
    await recordAudit(tx, {
      orgId: input.orgId,
      actorId: actor.userId,
      action: 'credits.member_cap_set',
      detail: { memberId: input.userId, monthlyCredits: cap },
    });
  });
}

/** Sets (or clears) the cap for every member without one of their own. */
export async function setDefaultMemberCap(
  s: Services,
  actor: Actor,
  input: { orgId: string; monthlyCredits?: number | null },
): Promise<void> {
  const cap = checkCap(input.monthlyCredits);
  await s.db.$transaction(async (tx) => {
    await tx.org.update({ where: { id: input.orgId }, data: { memberCapDefault: cap } });
    await recordAudit(tx, {
      orgId: input.orgId,
      actorId: actor.userId,
      action: 'credits.default_member_cap_set',
      detail: { monthlyCredits: cap },
    });
  });
}

export interface MemberSpendView extends MemberCap {
  userId: string;
  month: Date;
  remaining: number | null;
  resetsAt: Date;
}

/** Every member's spend this month against their cap (the Usage page), or one member's (their own). */
export async function memberSpendThisMonth(s: Services, orgId: string, userId?: string): Promise<MemberSpendView[]> {
  const now = s.clock.now();
  const month = spendMonth(now);
  const [org, memberships, spends] = await Promise.all([
    s.db.org.findUniqueOrThrow({ where: { id: orgId }, select: { memberCapDefault: true } }),
    s.db.membership.findMany({ where: { orgId, userId }, orderBy: { createdAt: 'asc' } }),
    s.db.memberSpend.findMany({ where: { orgId, userId, month } }),
  ]);
  const spent = new Map(spends.map((r) => [r.userId, r.spent]));
  return memberships.map((m) => {
    const cap = m.creditCap ?? org.memberCapDefault;
    const used = spent.get(m.userId) ?? 0;
    return {
      userId: m.userId,
      month,
      cap,
      source: m.creditCap != null ? 'MEMBER' : cap != null ? 'ORG_DEFAULT' : 'NONE',
      spent: used,
      remaining: cap == null ? null : Math.max(0, cap - used),
      resetsAt: capResetsAt(now),
    };
  });
}
