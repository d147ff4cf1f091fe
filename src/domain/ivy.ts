// Ivy completions: decide who serves and who pays (the org's effective provider) and refuse what cannot start.
// ivy-stream.ts then streams the provider's answer as events and settles the bill, whatever way the stream ends.
import { randomUUID } from 'node:crypto';
import type { AiProvider } from '../generated/prisma/enums.ts';
import { refuse, type ErrorCode } from '../lib/errors.ts';
import type { ChatMessage, FinishReason, StreamPart } from '../providers/types.ts';
import { loadOrg } from './orgs.ts';
import { recordByokCompletion, reserveCredits } from './credits.ts';
import { personalKeyForCall } from './key-vault.ts';
import { vendorName, type Vendor } from './vendors.ts';
import type { AiModel } from './models.ts';
import { effectiveProvider } from './grace-window.ts';
import { holdFor } from './pricing.ts';
import type { Actor, Services } from './services.ts';

export const MAX_TOKENS_DEFAULT = 1024;
export const MAX_TOKENS_LIMIT = 8192;
const MAX_PROMPT_CHARS = 200_000;

export interface IvyCompletionInput {
  orgId: string;
  messages: { role: 'USER' | 'ASSISTANT'; content: string }[];
  system?: string | null;
  maxTokens?: number | null;
  requestId?: string | null;
  /** Re-attach to the member's answer with this requestId, after the event with this index (0: from the start). */
  resumeFrom?: number | null;
}

export type BillingMode = 'CREDITS' | 'BYOK';

export type IvyEvent =
  | { kind: 'started'; requestId: string; provider: AiProvider; model: string; billing: BillingMode }
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
}

function validate(input: IvyCompletionInput) {
  const maxTokens = input.maxTokens ?? MAX_TOKENS_DEFAULT;
  if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > MAX_TOKENS_LIMIT) {
    refuse('BAD_USER_INPUT', `maxTokens must be between 1 and ${MAX_TOKENS_LIMIT}.`);
  }
  if (input.messages.length === 0) refuse('BAD_USER_INPUT', 'Send at least one message.');
  if (input.messages[input.messages.length - 1].role !== 'USER')
    refuse('BAD_USER_INPUT', 'The last message must be from the USER.');
  if (input.messages.some((m) => m.content.trim() === '')) refuse('BAD_USER_INPUT', 'Messages cannot be empty.');
  const chars = (input.system?.length ?? 0) + input.messages.reduce((n, m) => n + m.content.length, 0);
  if (chars > MAX_PROMPT_CHARS)
    refuse('BAD_USER_INPUT', `The conversation is too long (${chars} characters; at most ${MAX_PROMPT_CHARS}).`);
  if (input.requestId != null && !/^[A-Za-z0-9._:-]{1,128}$/.test(input.requestId)) {
    refuse('BAD_USER_INPUT', 'requestId must be 1 to 128 letters, digits, ".", "_", ":" or "-".');
  }
  return {
    maxTokens,
    messages: input.messages.map((m) => ({
      role: m.role === 'USER' ? ('user' as const) : ('assistant' as const),
      content: m.content,
    })),
  };
}

/**
 * Every refusal happens here, before anything is sent upstream. It records the completion (so a repeated requestId
 * is DUPLICATE_REQUEST in both modes) and, in credits mode, places the hold. Whoever calls this owns the row from
 * then on and must hand it to completionStream(), which settles it whatever happens next.
 */
export async function acceptCompletion(
  s: Services,
  actor: Actor,
  input: IvyCompletionInput,
): Promise<AcceptedCompletion> {
  const { maxTokens, messages } = validate(input);
  const org = await loadOrg(s.db, input.orgId);
  const now = s.clock.now();
  const provider = effectiveProvider(org, now);
  const requestId = input.requestId ?? randomUUID();
  const common = {
    orgId: org.id,
    userId: actor.userId,
    requestId,
    provider,
    messages,
    system: input.system ?? undefined,
    maxTokens,
  };

  const holdExpiresAt = new Date(now.getTime() + s.config.holdTimeoutMs);
  if (provider !== 'INTERVY_CREDITS') {
    const { apiKey } = await personalKeyForCall(s, org.id, actor.userId, provider);
    const model = s.models.resolve(provider, org.aiModel);
    const completionId = await recordByokCompletion(s.db, {
      orgId: org.id,
      userId: actor.userId,
      requestId,
      vendor: provider,
      model: model.id,
      holdExpiresAt,
    });
    return {
      ...common,
      vendor: provider,
      model,
      apiKey,
      billing: 'BYOK',
      completionId,
      holdAmount: 0,
      balanceAtAccept: org.creditBalance,
    };
  }

  const model = s.models.house;
  const apiKey = model.vendor === 'ANTHROPIC' ? s.config.intervyAnthropicApiKey : s.config.intervyOpenaiApiKey;
  if (!apiKey) {
    s.log.error('no house API key configured for the Intervy Credits model', { vendor: model.vendor });
    refuse(
      'PROVIDER_UNAVAILABLE',
      'Ivy is not available on Intervy Credits right now. Nothing was charged; try again later.',
    );
  }
  const hold = await reserveCredits(s.db, {
    orgId: org.id,
    userId: actor.userId,
    requestId,
    vendor: model.vendor,
    model: model.id,
    holdAmount: holdFor(model, input.system, messages, maxTokens),
    holdExpiresAt,
  });
  return {
    ...common,
    vendor: model.vendor,
    model,
    apiKey: apiKey!,
    billing: 'CREDITS',
    completionId: hold.completionId,
    holdAmount: hold.holdAmount,
    balanceAtAccept: hold.balanceAfter,
  };
}

export function failureMessage(c: AcceptedCompletion, end: Extract<StreamPart, { type: 'error' }>): string {
  if (end.code === 'PROVIDER_AUTH_FAILED' && c.billing === 'BYOK') {
    return `${end.message} Your personal ${vendorName(c.vendor)} key is now marked INVALID: save a working key under Org Settings → AI.`;
  }
  return end.message;
}
