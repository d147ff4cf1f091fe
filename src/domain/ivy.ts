// Ivy completions: decide who serves and who pays (the org's effective provider), refuse what cannot start, then
// stream the provider's answer as events and settle the bill, whatever way the stream ends.
import { randomUUID } from 'node:crypto';
import type { AiProvider } from '../generated/prisma/enums.ts';
import { refuse, type ErrorCode } from '../lib/errors.ts';
import type { ChatMessage, ProviderAdapter, StreamPart } from '../providers/types.ts';
import { loadOrg } from './ai-settings.ts';
import { creditsFor, estimateInputTokens, reserveCredits, settleHold } from './credits.ts';
import { markKeyInvalid, personalKeyForCall, vendorName } from './key-vault.ts';
import type { AiModel, Vendor } from './models.ts';
import { effectiveProvider } from './plans.ts';
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
}

export type BillingMode = 'CREDITS' | 'BYOK';

export type IvyEvent =
  | { kind: 'started'; requestId: string; provider: AiProvider; model: string; billing: BillingMode }
  | { kind: 'delta'; text: string }
  | { kind: 'finished'; inputTokens: number | null; outputTokens: number | null; creditsCharged: number; creditBalance: number }
  | { kind: 'failed'; code: ErrorCode; message: string; creditsCharged: number };

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
  completionId: string | null;
  /** Credits held for this completion (0 in BYOK mode). */
  holdAmount: number;
}

function validate(input: IvyCompletionInput) {
  const maxTokens = input.maxTokens ?? MAX_TOKENS_DEFAULT;
  if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > MAX_TOKENS_LIMIT) {
    refuse('BAD_USER_INPUT', `maxTokens must be between 1 and ${MAX_TOKENS_LIMIT}.`);
  }
  if (input.messages.length === 0) refuse('BAD_USER_INPUT', 'Send at least one message.');
  if (input.messages[input.messages.length - 1].role !== 'USER') refuse('BAD_USER_INPUT', 'The last message must be from the USER.');
  if (input.messages.some((m) => m.content.trim() === '')) refuse('BAD_USER_INPUT', 'Messages cannot be empty.');
  const chars = (input.system?.length ?? 0) + input.messages.reduce((n, m) => n + m.content.length, 0);
  if (chars > MAX_PROMPT_CHARS) refuse('BAD_USER_INPUT', `The conversation is too long (${chars} characters; at most ${MAX_PROMPT_CHARS}).`);
  if (input.requestId != null && !/^[A-Za-z0-9._:-]{1,128}$/.test(input.requestId)) {
    refuse('BAD_USER_INPUT', 'requestId must be 1 to 128 letters, digits, ".", "_", ":" or "-".');
  }
  return { maxTokens, messages: input.messages.map((m) => ({ role: m.role === 'USER' ? ('user' as const) : ('assistant' as const), content: m.content })) };
}

/** Every refusal happens here, before anything is sent upstream; in credits mode it also places the hold. */
export async function acceptCompletion(s: Services, actor: Actor, input: IvyCompletionInput): Promise<AcceptedCompletion> {
  const { maxTokens, messages } = validate(input);
  const org = await loadOrg(s, input.orgId);
  const now = s.clock.now();
  const provider = effectiveProvider(org, now);
  const requestId = input.requestId ?? randomUUID();
  const common = { orgId: org.id, userId: actor.userId, requestId, provider, messages, system: input.system ?? undefined, maxTokens };

  if (provider !== 'INTERVY_CREDITS') {
    const { apiKey } = await personalKeyForCall(s, org.id, actor.userId, provider);
    const model = s.models.resolve(provider, org.aiModel);
    return { ...common, vendor: provider, model, apiKey, billing: 'BYOK', completionId: null, holdAmount: 0 };
  }

  const model = s.models.house;
  const apiKey = model.vendor === 'ANTHROPIC' ? s.config.intervyAnthropicApiKey : s.config.intervyOpenaiApiKey;
  if (!apiKey) {
    s.log.error('no house API key configured for the Intervy Credits model', { vendor: model.vendor });
    refuse('PROVIDER_UNAVAILABLE', 'Ivy is not available on Intervy Credits right now. Nothing was charged; try again later.');
  }
  const hold = await reserveCredits(s.db, {
    orgId: org.id,
    userId: actor.userId,
    requestId,
    vendor: model.vendor,
    model: model.id,
    holdAmount: creditsFor(model, estimateInputTokens(input.system, messages), maxTokens),
    holdExpiresAt: new Date(now.getTime() + s.config.holdTimeoutMs),
  });
  return { ...common, vendor: model.vendor, model, apiKey: apiKey!, billing: 'CREDITS', completionId: hold.completionId, holdAmount: hold.holdAmount };
}

type End = Extract<StreamPart, { type: 'finish' }> | (Omit<Extract<StreamPart, { type: 'error' }>, 'code'> & { code: ErrorCode });

/**
 * Streams an accepted completion. Deltas are forwarded as they arrive. The last event is exactly one `finished` or
 * `failed`; if the consumer leaves early (return()), abortOnReturn has already cut the upstream request and the
 * `finally` settles the hold for what the provider reported.
 */
export async function* streamCompletion(s: Services, c: AcceptedCompletion, signal: AbortSignal): AsyncGenerator<IvyEvent> {
  const adapter: ProviderAdapter = s.providers[c.vendor];
  let usage = { inputTokens: null as number | null, outputTokens: null as number | null };
  let streamedChars = 0;
  let end: End | null = null;
  let settled = false;

  const settle = async (last: End) => {
    settled = true;
    const reported = { inputTokens: last.inputTokens ?? usage.inputTokens, outputTokens: last.outputTokens ?? usage.outputTokens };
    if (last.type === 'error' && last.code === 'PROVIDER_AUTH_FAILED' && c.billing === 'BYOK') {
      await markKeyInvalid(s, c.orgId, c.userId, c.vendor);
    }
    if (!c.completionId) {
      const org = await loadOrg(s, c.orgId);
      return { ...reported, creditsCharged: 0, creditBalance: org.creditBalance };
    }
    // On success, bill what the provider reported (estimating only a figure it left out); on failure or
    // cancellation, only what it reported for what was streamed.
    const charge =
      last.type === 'finish'
        ? creditsFor(c.model, reported.inputTokens ?? estimateInputTokens(c.system, c.messages), reported.outputTokens ?? Math.ceil(streamedChars / 4))
        : creditsFor(c.model, reported.inputTokens ?? 0, reported.outputTokens ?? 0);
    const status = last.type === 'finish' ? 'SUCCEEDED' : last.code === 'CANCELLED' ? 'CANCELLED' : 'FAILED';
    const { creditsCharged, balance } = await settleHold(s.db, c.completionId, {
      status,
      charge,
      ...reported,
      errorCode: last.type === 'error' ? last.code : null,
      now: s.clock.now(),
    });
    return { ...reported, creditsCharged, creditBalance: balance };
  };

  try {
    yield { kind: 'started', requestId: c.requestId, provider: c.provider, model: c.model.id, billing: c.billing };
    try {
      for await (const part of adapter.stream({ apiKey: c.apiKey, model: c.model.id, system: c.system, messages: c.messages, maxTokens: c.maxTokens, signal })) {
        if (part.type === 'text-delta') {
          streamedChars += part.text.length;
          yield { kind: 'delta', text: part.text };
        } else if (part.type === 'usage') {
          usage = { inputTokens: part.inputTokens ?? usage.inputTokens, outputTokens: part.outputTokens ?? usage.outputTokens };
        } else {
          end = part;
        }
      }
    } catch (err) {
      s.log.error('provider adapter threw instead of ending its stream', { error: err, vendor: c.vendor });
    }
    end ??= { type: 'error', code: 'PROVIDER_UNAVAILABLE', message: `${vendorName(c.vendor)} ended the answer without finishing it.`, ...usage };
    if (end.type === 'error' && end.code === 'CANCELLED' && s.lifecycle?.shutdownSignal.aborted) {
      // Cut by a server shutdown, not by the client: tell it to retry (settled like any failure: reported usage only).
      end = { ...end, code: 'SERVER_SHUTTING_DOWN', message: 'This server is restarting and could not finish the answer: ask again.' };
    }
    let bill: Awaited<ReturnType<typeof settle>>;
    try {
      bill = await settle(end);
    } catch (err) {
      // The answer streamed but could not be billed (database unreachable). Charge nothing: the hold stays
      // until the expiry sweep releases it in full.
      s.log.error('could not settle a completion; the expiry sweep will release its hold', { error: err, completionId: c.completionId });
      yield { kind: 'failed', code: 'INTERNAL_SERVER_ERROR', message: 'Ivy answered, but we could not record the result. Nothing was charged for it.', creditsCharged: 0 };
      return;
    }
    if (end.type === 'finish') {
      yield { kind: 'finished', ...bill };
    } else {
      const code: ErrorCode = end.code;
      yield { kind: 'failed', code, message: failureMessage(c, end), creditsCharged: bill.creditsCharged };
    }
  } finally {
    if (!settled) {
      // The consumer left mid-stream: upstream is already aborted (lib/abort-on-return.ts); bill what was reported.
      await settle({ type: 'error', code: 'CANCELLED', message: 'Cancelled by the client.', ...usage }).catch((err) =>
        s.log.error('could not settle a cancelled completion; the expiry sweep will release its hold', { error: err, completionId: c.completionId }),
      );
    }
  }
}

function failureMessage(c: AcceptedCompletion, end: Extract<End, { type: 'error' }>): string {
  if (end.code === 'PROVIDER_AUTH_FAILED' && c.billing === 'BYOK') {
    return `${end.message} Your personal ${vendorName(c.vendor)} key is now marked INVALID: save a working key under Org Settings → AI.`;
  }
  return end.message;
}
