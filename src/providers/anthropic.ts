import Anthropic, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from '@anthropic-ai/sdk';
import type { RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';
import { cached, checkKeyWith, clientPerKey, drive, type SdkErrors, type Tally } from './shared.ts';
import { upstreamFetch } from './transport.ts';
import {
  VENDOR_NAMES,
  type FinishReason,
  type ProviderAdapter,
  type ProviderOptions,
  type StreamPart,
} from './types.ts';

const VENDOR = VENDOR_NAMES.ANTHROPIC;
const STOP_REASONS: Record<string, FinishReason> = {
  end_turn: 'END_TURN',
  max_tokens: 'MAX_TOKENS',
  stop_sequence: 'STOP_SEQUENCE',
  tool_use: 'TOOL_USE',
  pause_turn: 'PAUSE_TURN',
  refusal: 'REFUSAL',
};
const sdk: SdkErrors = { APIError, APIUserAbortError, APIConnectionError, APIConnectionTimeoutError };

interface InputUsage {
  input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

/**
 * Anthropic's input_tokens leaves out the tokens read from and written to its prompt cache; ours counts every input
 * token, with the cache reads (billed at the cached price) as a part of them. Cache writes are billed as input.
 */
function countInput(usage: InputUsage, tally: Tally): void {
  if (usage.input_tokens == null) return;
  const read = usage.cache_read_input_tokens ?? 0;
  tally.inputTokens = usage.input_tokens + (usage.cache_creation_input_tokens ?? 0) + read;
  tally.cachedInputTokens = read;
}

const usagePart = (tally: Tally): StreamPart => ({
  type: 'usage',
  inputTokens: tally.inputTokens,
  outputTokens: tally.outputTokens,
  ...cached(tally),
});

function translate(event: RawMessageStreamEvent, tally: Tally): StreamPart[] {
  switch (event.type) {
    case 'message_start':
      countInput(event.message.usage, tally);
      tally.outputTokens = event.message.usage.output_tokens;
      return [usagePart(tally)];
    case 'content_block_delta':
      return event.delta.type === 'text_delta' && event.delta.text
        ? [{ type: 'text-delta', text: event.delta.text }]
        : [];
    case 'message_delta':
      // Cumulative counts; the input figures are only present on some API versions.
      countInput(event.usage, tally);
      tally.outputTokens = event.usage.output_tokens ?? tally.outputTokens;
      if (event.delta.stop_reason) tally.reason = STOP_REASONS[event.delta.stop_reason] ?? 'OTHER';
      return [usagePart(tally)];
    case 'message_stop':
      tally.completed = true;
      return [];
    default:
      return [];
  }
}

export function createAnthropicAdapter(opts: ProviderOptions): ProviderAdapter {
  const client = (apiKey: string, timeout: number, maxRetries: number) =>
    new Anthropic({ apiKey, baseURL: opts.baseURL, timeout, maxRetries, fetch: upstreamFetch });
  const streamingClient = clientPerKey((apiKey) => client(apiKey, opts.timeoutMs, opts.maxRetries));

  return {
    vendor: 'ANTHROPIC',
    stream(req) {
      return drive<RawMessageStreamEvent>({
        vendor: VENDOR,
        sdk,
        req,
        timeoutMs: opts.timeoutMs,
        translate,
        open: (signal) =>
          streamingClient(req.apiKey).messages.create(
            {
              model: req.model,
              max_tokens: req.maxTokens,
              ...(req.system ? { system: req.system } : {}),
              messages: req.messages.map(({ role, content }) => ({ role, content })),
              stream: true,
            },
            { signal },
          ),
      });
    },
    checkKey(apiKey) {
      return checkKeyWith(VENDOR, sdk, apiKey, opts.keyCheckTimeoutMs, () =>
        client(apiKey, opts.keyCheckTimeoutMs, 0).models.list({ limit: 1 }),
      );
    },
  };
}
