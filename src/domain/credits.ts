// The prepaid credit ledger. Before a credits-mode completion calls upstream it reserves its worst case as a hold;
// at the end the hold is settled: the actual charge (never more than the hold) stays deducted, the rest is released.
// Every movement is a ledger row with the balance after it, so GRANTs + HOLDs + RELEASEs always equal the balance.
import { randomUUID } from 'node:crypto';
import { Prisma } from '../generated/prisma/client.ts';
import type { CompletionStatus } from '../generated/prisma/enums.ts';
import type { Db } from '../lib/database.ts';
import { refuse } from '../lib/errors.ts';
import { recordAudit } from './audit.ts';
import type { AiModel } from './models.ts';

/** Credits for a token count at a model's price, rounded up to whole credits. */
export function creditsFor(model: Pick<AiModel, 'creditsPer1kInput' | 'creditsPer1kOutput'>, inputTokens: number, outputTokens: number): number {
  return Math.ceil((inputTokens * model.creditsPer1kInput + outputTokens * model.creditsPer1kOutput) / 1000);
}

/** A generous input estimate (about 4 characters a token, plus per-message framing), for sizing the hold. */
export function estimateInputTokens(system: string | null | undefined, messages: { content: string }[]): number {
  const chars = (system?.length ?? 0) + messages.reduce((n, m) => n + m.content.length, 0);
  return Math.ceil(chars / 3) + 8 * (messages.length + 1);
}

export interface Hold {
  completionId: string;
  holdAmount: number;
  balanceAfter: number;
}

/**
 * Reserves `holdAmount` for one completion. Refuses with INSUFFICIENT_CREDITS when the balance cannot cover it and
 * DUPLICATE_REQUEST when the org already accepted this requestId; either way nothing is written.
 */
export async function reserveCredits(
  db: Db,
  req: { orgId: string; userId: string; requestId: string; vendor: 'ANTHROPIC' | 'OPENAI'; model: string; holdAmount: number; holdExpiresAt: Date },
): Promise<Hold> {
  const completionId = randomUUID();
  let rows: { balance_after: number }[];
  try {
    // One statement, so one round trip and atomic by itself: debit only if the balance covers the hold, and record
    // the completion and its HOLD entry only if the debit happened. A repeated requestId violates the unique index.
    rows = await db.$queryRaw<{ balance_after: number }[]>`
      WITH debit AS (
        UPDATE orgs SET credit_balance = credit_balance - ${req.holdAmount}
        WHERE id = ${req.orgId}::uuid AND credit_balance >= ${req.holdAmount}
        RETURNING credit_balance
      ), completion AS (
        INSERT INTO completions (id, org_id, user_id, request_id, vendor, model, hold_amount, hold_expires_at)
        SELECT ${completionId}::uuid, ${req.orgId}::uuid, ${req.userId}::uuid, ${req.requestId}, ${req.vendor}::"AiProvider",
               ${req.model}, ${req.holdAmount}, ${req.holdExpiresAt}
        FROM debit
        RETURNING id
      ), ledger AS (
        INSERT INTO credit_ledger (id, org_id, kind, amount, balance_after, completion_id)
        SELECT ${randomUUID()}::uuid, ${req.orgId}::uuid, 'HOLD', ${-req.holdAmount}, debit.credit_balance, completion.id
        FROM debit, completion
      )
      SELECT credit_balance AS balance_after FROM debit`;
  } catch (err) {
    if (isUniqueViolation(err)) {
      return refuse('DUPLICATE_REQUEST', `requestId "${req.requestId}" was already used in this org: it is not run or billed again. Send a new requestId to ask again.`);
    }
    throw err;
  }
  if (rows.length === 0) {
    const org = await db.org.findUnique({ where: { id: req.orgId }, select: { creditBalance: true } });
    return refuse(
      'INSUFFICIENT_CREDITS',
      `This request may use up to ${req.holdAmount} credits and the org has ${org?.creditBalance ?? 0}. Ask an Org Admin to buy a credit pack, or shorten the request (lower maxTokens).`,
    );
  }
  return { completionId, holdAmount: req.holdAmount, balanceAfter: rows[0].balance_after };
}

function isUniqueViolation(err: unknown): boolean {
  if (err instanceof Prisma.PrismaClientKnownRequestError) {
    return err.code === 'P2002' || (err.code === 'P2010' && /23505|unique/i.test(JSON.stringify(err.meta ?? {}) + err.message));
  }
  return /23505|unique constraint/i.test(String((err as Error)?.message));
}

export interface Settlement {
  creditsCharged: number;
  balance: number;
}

/**
 * Settles a hold once: charges min(charge, hold), releases the rest. A second settlement (say, the expiry sweeper
 * raced a slow stream) changes nothing and returns what the first one recorded.
 */
export async function settleHold(
  db: Db,
  completionId: string,
  outcome: { status: Exclude<CompletionStatus, 'RUNNING'>; charge: number; inputTokens: number | null; outputTokens: number | null; errorCode?: string | null; now: Date },
): Promise<Settlement> {
  return db.$transaction(async (tx) => {
    const claimed = await tx.$queryRaw<{ org_id: string; hold_amount: number }[]>`
      UPDATE completions SET status = ${outcome.status}::"CompletionStatus", settled_at = ${outcome.now}
      WHERE id = ${completionId}::uuid AND status = 'RUNNING'
      RETURNING org_id, hold_amount`;
    if (claimed.length === 0) {
      const done = await tx.completion.findUniqueOrThrow({ where: { id: completionId }, include: { org: { select: { creditBalance: true } } } });
      return { creditsCharged: done.creditsCharged, balance: done.org.creditBalance };
    }
    const { org_id: orgId, hold_amount: hold } = claimed[0];
    const charged = Math.max(0, Math.min(Math.ceil(outcome.charge), hold));
    await tx.completion.update({
      where: { id: completionId },
      data: { creditsCharged: charged, inputTokens: outcome.inputTokens, outputTokens: outcome.outputTokens, errorCode: outcome.errorCode ?? null },
    });
    const [{ credit_balance: balance }] = await tx.$queryRaw<{ credit_balance: number }[]>`
      UPDATE orgs SET credit_balance = credit_balance + ${hold - charged} WHERE id = ${orgId}::uuid RETURNING credit_balance`;
    await tx.creditLedgerEntry.create({
      data: { orgId, kind: 'RELEASE', amount: hold - charged, balanceAfter: balance, completionId, note: `charged ${charged} of ${hold} held` },
    });
    return { creditsCharged: charged, balance };
  });
}

/** Releases, in full, holds whose process never settled them (it crashed or lost its database). */
export async function releaseExpiredHolds(db: Db, now: Date): Promise<number> {
  const stale = await db.completion.findMany({ where: { status: 'RUNNING', holdExpiresAt: { lte: now } }, select: { id: true }, take: 500 });
  for (const { id } of stale) {
    await settleHold(db, id, { status: 'EXPIRED', charge: 0, inputTokens: null, outputTokens: null, errorCode: 'HOLD_EXPIRED', now });
  }
  return stale.length;
}

/** Adds credits (an operator's top-up; there is no API for it). */
export async function grantCredits(db: Db, orgSlug: string, amount: number, note: string): Promise<{ orgId: string; balance: number }> {
  if (!Number.isInteger(amount) || amount <= 0) refuse('BAD_USER_INPUT', 'The amount must be a positive whole number of credits.');
  return db.$transaction(async (tx) => {
    const rows = await tx.$queryRaw<{ id: string; credit_balance: number }[]>`
      UPDATE orgs SET credit_balance = credit_balance + ${amount} WHERE slug = ${orgSlug} RETURNING id, credit_balance`;
    if (rows.length === 0) refuse('BAD_USER_INPUT', `No org with slug "${orgSlug}".`);
    const { id: orgId, credit_balance: balance } = rows[0];
    await tx.creditLedgerEntry.create({ data: { orgId, kind: 'GRANT', amount, balanceAfter: balance, note } });
    await recordAudit(tx, { orgId, actorId: null, action: 'credits.granted', detail: { amount, note } });
    return { orgId, balance };
  });
}
