// Who serves a completion and who pays, decided before anything is written or sent: the org's effective provider,
// the member's key, and (with the org's consent) a fallback to Intervy Credits when the member has no usable key.
// Shared by acceptCompletion (which then places the hold) and ivyCompletionEstimate (which places nothing).
import { randomUUID } from 'node:crypto';
import type { AiProvider } from '../generated/prisma/enums.ts';
import { DomainError, refuse } from '../lib/errors.ts';
import type { ChatMessage } from '../providers/types.ts';
import { personalKeyForCall } from './key-vault.ts';
import type { AiModel } from './models.ts';
import { effectiveProvider } from './grace-window.ts';
import type { Vendor } from './vendors.ts';
import { holdFor } from './pricing.ts';
import type { OrgSettings } from './read-caches.ts';
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

/** Why a BYOK org's completion runs on credits: the member has no key, it is marked INVALID, or it was refused. */
export type FallbackReason = 'NO_API_KEY' | 'KEY_INVALID' | 'PROVIDER_AUTH_FAILED';

export type Route =
  | { billing: 'BYOK'; vendor: Vendor; model: AiModel; apiKey: string; keyId: string }
  | {
      billing: 'CREDITS';
      vendor: Vendor;
      model: AiModel;
      apiKey: string;
      holdAmount: number;
      fallbackReason: FallbackReason | null;
    };

export interface CompletionPlan {
  /** The org's settings (from the instance's cache): never its balance, which only the ledger's statements read. */
  org: OrgSettings;
  provider: AiProvider;
  requestId: string;
  messages: ChatMessage[];
  system?: string;
  maxTokens: number;
  route: Route;
  /** BYOK with the org's consent: a 401 before any text streamed moves the completion to credits. */
  fallbackArmed: boolean;
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

/** The Intervy Credits route: the house model on the house key, holding the request's worst case. */
export function creditsRoute(
  s: Services,
  req: { system?: string | null; messages: ChatMessage[]; maxTokens: number },
  fallbackReason: FallbackReason | null,
): Extract<Route, { billing: 'CREDITS' }> {
  const model = s.models.house;
  const apiKey = model.vendor === 'ANTHROPIC' ? s.config.intervyAnthropicApiKey : s.config.intervyOpenaiApiKey;
  if (!apiKey) {
    s.log.error('no house API key configured for the Intervy Credits model', { vendor: model.vendor });
    refuse(
      'PROVIDER_UNAVAILABLE',
      'Ivy is not available on Intervy Credits right now. Nothing was charged; try again later.',
    );
  }
  const holdAmount = holdFor(model, req.system, req.messages, req.maxTokens);
  return { billing: 'CREDITS', vendor: model.vendor, model, apiKey: apiKey!, holdAmount, fallbackReason };
}

/** Every refusal that does not need the ledger happens here (the ledger's own come when the hold is placed). */
export async function planCompletion(s: Services, actor: Actor, input: IvyCompletionInput): Promise<CompletionPlan> {
  const { maxTokens, messages } = validate(input);
  const org = await s.caches.org(input.orgId);
  const provider = effectiveProvider(org, s.clock.now());
  const common = {
    org,
    provider,
    requestId: input.requestId ?? randomUUID(),
    messages,
    system: input.system ?? undefined,
    maxTokens,
    fallbackArmed: false,
  };
  if (provider === 'INTERVY_CREDITS') return { ...common, route: creditsRoute(s, common, null) };

  // On fallback Ivy runs on Intervy Credits: that is the provider the member sees in IvyCompletionStarted.
  const fallback = (reason: FallbackReason) => ({
    ...common,
    provider: 'INTERVY_CREDITS' as const,
    route: creditsRoute(s, common, reason),
  });
  let key;
  try {
    key = await personalKeyForCall(s, org.id, actor.userId, provider);
  } catch (err) {
    if (org.fallbackToCredits && err instanceof DomainError && err.code === 'NO_API_KEY') return fallback('NO_API_KEY');
    throw err;
  }
  // Without the org's consent an INVALID key is still tried, as before: it may have been fixed at the provider.
  if (org.fallbackToCredits && key.row.status === 'INVALID') return fallback('KEY_INVALID');
  const model = s.models.resolve(provider, org.aiModel);
  return {
    ...common,
    fallbackArmed: org.fallbackToCredits,
    route: { billing: 'BYOK', vendor: provider, model, apiKey: key.apiKey, keyId: key.row.id },
  };
}
