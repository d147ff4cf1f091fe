// Ivy completions: decide who serves and who pays (the org's effective provider) and refuse what cannot start.
// ivy-stream.ts then streams the provider's answer as events and settles the bill, whatever way the stream ends.
import type { AiProvider } from '../generated/prisma/enums.ts';
import type { ErrorCode } from '../lib/errors.ts';
import type { ChatMessage, FinishReason, StreamPart } from '../providers/types.ts';
import { recordByokCompletion, reserveCredits } from './credits.ts';
import { discardUpstream, earlyStartsFor, startUpstream, type EarlyUpstream } from './early-upstream.ts';
import { planCompletion, type FallbackReason, type IvyCompletionInput } from './ivy-plan.ts';
import { spendMonth } from './member-caps.ts';
import type { AiModel } from './models.ts';
import { vendorName, type Vendor } from './vendors.ts';
import { cacheKeys } from './read-caches.ts';
import type { Actor, Services } from './services.ts';

export { MAX_TOKENS_DEFAULT, MAX_TOKENS_LIMIT, type IvyCompletionInput } from './ivy-plan.ts';

export type BillingMode = 'CREDITS' | 'BYOK';

export type IvyEvent =
  | {
      kind: 'started';
      requestId: string;
      provider: AiProvider;
      model: string;
      billing: BillingMode;
      fallbackReason: FallbackReason | null;
    }
  | { kind: 'delta'; text: string }
  | {
      kind: 'finished';
      finishReason: FinishReason;
      inputTokens: number | null;
      outputTokens: number | null;
      creditsCharged: number;
      creditBalance: number;
    }
  | { kind: 'failed'; code: ErrorCode; message: string; creditsCharged: number; creditBalance: number };

/** A completion that passed every check and (in credits mode) holds its credits: ready to call upstream. */
export interface AcceptedCompletion {
  orgId: string;
  userId: string;
  requestId: string;
  provider: AiProvider;
  vendor: Vendor;
  model: AiModel;
  apiKey: string;
  billing: BillingMode;
  messages: ChatMessage[];
  system?: string;
  maxTokens: number;
  /** The completion row: in credits mode it carries the hold; in BYOK mode it only makes requestId idempotent. */
  completionId: string;
  holdAmount: number;
  /** The org's balance once accepted (after the hold): the last one known if the bill cannot be recorded. */
  balanceAtAccept: number;
  /** Set when a BYOK org's completion runs on credits (with the org's consent). */
  fallbackReason: FallbackReason | null;
  /** BYOK with the org's consent: a 401 before any text streamed moves the completion to credits. */
  fallbackArmed: boolean;
  /** Credits: the upstream request, sent while the hold was placed (early-upstream.ts); none when it was not. */
  early?: EarlyUpstream;
}

/**
 * Every refusal happens here, before anything of the answer is read. It records the completion (so a repeated
 * requestId is DUPLICATE_REQUEST in both modes) and, in credits mode, places the hold, while the upstream request is
 * already on its way when this instance expects the hold to succeed (early-upstream.ts; aborted if it does not).
 * Whoever calls this owns the row from then on and must hand it to completionStream(), which settles it whatever
 * happens next.
 */
export async function acceptCompletion(
  s: Services,
  actor: Actor,
  input: IvyCompletionInput,
): Promise<AcceptedCompletion> {
  const plan = await planCompletion(s, actor, input);
  const { org, route, requestId } = plan;
  const now = s.clock.now();
  const common = {
    orgId: org.id,
    userId: actor.userId,
    requestId,
    provider: plan.provider,
    messages: plan.messages,
    system: plan.system,
    maxTokens: plan.maxTokens,
    vendor: route.vendor,
    model: route.model,
    apiKey: route.apiKey,
    fallbackArmed: plan.fallbackArmed,
  };
  const holdExpiresAt = new Date(now.getTime() + s.config.holdTimeoutMs);
  const row = {
    orgId: org.id,
    userId: actor.userId,
    requestId,
    vendor: route.vendor,
    model: route.model.id,
    createdAt: now,
  };
  const book = earlyStartsFor(s.db);
  if (route.billing === 'BYOK') {
    book.remember(org.id, requestId);
    const completionId = await recordByokCompletion(s.db, { ...row, holdExpiresAt });
    // Raw, so the key's updatedAt (when the member last saved it) stays as it was; the balance (which a BYOK answer
    // does not move) comes back in the same round trip, fresh.
    const [used] = await s.db.$queryRaw<{ creditBalance: number }[]>`
      WITH used AS (UPDATE personal_api_keys SET last_used_at = ${now} WHERE id = ${route.keyId}::uuid)
      SELECT credit_balance AS "creditBalance" FROM orgs WHERE id = ${org.id}::uuid`;
    // last_used_at notifies no one (every BYOK answer writes it): this instance's copy of the member's keys is
    // brought up to date here; another instance's shows the previous lastUsedAt until its copy is reloaded.
    s.caches.keys.update(cacheKeys.keys(org.id, actor.userId), (keys) =>
      keys.map((k) => (k.id === route.keyId ? { ...k, lastUsedAt: now } : k)),
    );
    return {
      ...common,
      billing: 'BYOK',
      completionId,
      holdAmount: 0,
      balanceAtAccept: used?.creditBalance ?? 0,
      fallbackReason: null,
    };
  }
  // A monthly cap is the ledger's to count: a member under one never starts early.
  const capped = org.memberCapDefault != null || (await s.caches.membership(org.id, actor.userId))?.creditCap != null;
  const eligible = s.config.earlyUpstreamStart && !capped;
  const early = book.expect(org.id, requestId, route.holdAmount, eligible)
    ? startUpstream((signal) => askUpstream(s, common, signal))
    : undefined;
  let hold;
  try {
    hold = await reserveCredits(s, {
      ...row,
      holdAmount: route.holdAmount,
      holdExpiresAt,
      spendMonth: spendMonth(now),
      fallbackReason: route.fallbackReason,
    });
  } catch (err) {
    if (early) {
      discardUpstream(early);
      s.metrics?.earlyUpstream.inc({ outcome: 'cut' });
    }
    book.refused(org.id);
    throw err;
  } finally {
    if (early) book.placed(org.id, route.holdAmount);
  }
  if (early) s.metrics?.earlyUpstream.inc({ outcome: 'kept' });
  book.balance(org.id, hold.balanceAfter);
  return {
    ...common,
    billing: 'CREDITS',
    completionId: hold.completionId,
    holdAmount: hold.holdAmount,
    balanceAtAccept: hold.balanceAfter,
    fallbackReason: route.fallbackReason,
    early,
  };
}

/** The provider's stream of the completion's answer (the request leaves when it is first read). */
export function askUpstream(
  s: Services,
  c: Pick<AcceptedCompletion, 'vendor' | 'apiKey' | 'model' | 'system' | 'messages' | 'maxTokens'>,
  signal: AbortSignal,
): AsyncIterable<StreamPart> {
  return s.providers[c.vendor].stream({
    apiKey: c.apiKey,
    model: c.model.id,
    system: c.system,
    messages: c.messages,
    maxTokens: c.maxTokens,
    signal,
  });
}

export function failureMessage(c: AcceptedCompletion, end: Extract<StreamPart, { type: 'error' }>): string {
  if (end.code === 'PROVIDER_AUTH_FAILED' && c.billing === 'BYOK') {
    return `${end.message} Your personal ${vendorName(c.vendor)} key is now marked INVALID: save a working key under Org Settings → AI.`;
  }
  return end.message;
}
