/** The vendors Ivy has an adapter for. Its home is here, the lowest layer that needs it; domain/vendors.ts re-exports it. */
export type Vendor = 'ANTHROPIC' | 'OPENAI';

/** How messages name each vendor ("Anthropic rejected the API key"). */
export const VENDOR_NAMES: Record<Vendor, string> = { ANTHROPIC: 'Anthropic', OPENAI: 'OpenAI' };

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

export interface CompletionRequest {
  apiKey: string;
  model: string;
  system?: string;
  messages: ChatMessage[];
  maxTokens: number;
  signal: AbortSignal;
}

export type ProviderFailureCode = 'PROVIDER_AUTH_FAILED' | 'PROVIDER_RATE_LIMITED' | 'PROVIDER_UNAVAILABLE';

/**
 * Why a finished answer ended, from the vendor's stop reason (Anthropic `stop_reason`, OpenAI `finish_reason`).
 * OTHER: a reason this build does not know yet, or none sent.
 */
export const FINISH_REASONS = [
  'END_TURN',
  'MAX_TOKENS',
  'STOP_SEQUENCE',
  'TOOL_USE',
  'PAUSE_TURN',
  'REFUSAL',
  'CONTENT_FILTER',
  'OTHER',
] as const;
export type FinishReason = (typeof FINISH_REASONS)[number];

export type StreamPart =
  | { type: 'text-delta'; text: string }
  // Cumulative, as reported so far.
  | { type: 'usage'; inputTokens: number | null; outputTokens: number | null }
  | { type: 'finish'; inputTokens: number | null; outputTokens: number | null; reason: FinishReason }
  | {
      type: 'error';
      code: ProviderFailureCode | 'CANCELLED';
      message: string;
      inputTokens: number | null;
      outputTokens: number | null;
    };

// Contract: stream() NEVER throws; it always ends with exactly one 'finish' or 'error' part as its last item.
export type KeyCheck =
  | { outcome: 'valid'; message: string }
  | { outcome: 'invalid'; message: string } // 401/403: provider rejected the key
  | { outcome: 'rate_limited'; message: string } // 429: key authenticated but throttled / out of quota
  | { outcome: 'unreachable'; message: string }; // connection refused, timeout, 5xx

export interface ProviderAdapter {
  readonly vendor: Vendor;
  stream(req: CompletionRequest): AsyncIterable<StreamPart>;
  // Cheapest authenticated call: models.list() (GET, no tokens).
  checkKey(apiKey: string): Promise<KeyCheck>;
}

export interface ProviderOptions {
  baseURL?: string;
  timeoutMs: number;
  maxRetries: number;
  keyCheckTimeoutMs: number;
}
