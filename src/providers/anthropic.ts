import Anthropic, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from '@anthropic-ai/sdk';
import type { RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';
import { checkKeyWith, drive, type SdkErrors, type Tally } from './shared.ts';
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

function translate(event: RawMessageStreamEvent, tally: Tally): StreamPart[] {
  switch (event.type) {
    case 'message_start':
      tally.inputTokens = event.message.usage.input_tokens;
      tally.outputTokens = event.message.usage.output_tokens;
      return [{ type: 'usage', inputTokens: tally.inputTokens, outputTokens: tally.outputTokens }];
    case 'content_block_delta':
      return event.delta.type === 'text_delta' && event.delta.text
        ? [{ type: 'text-delta', text: event.delta.text }]
        : [];
    case 'message_delta':
      // Cumulative counts; input_tokens is only present on some API versions.
      tally.inputTokens = event.usage.input_tokens ?? tally.inputTokens;
      tally.outputTokens = event.usage.output_tokens ?? tally.outputTokens;
      if (event.delta.stop_reason) tally.reason = STOP_REASONS[event.delta.stop_reason] ?? 'OTHER';
      return [{ type: 'usage', inputTokens: tally.inputTokens, outputTokens: tally.outputTokens }];
    case 'message_stop':
      tally.completed = true;
      return [];
    default:
      return [];
  }
}

export function createAnthropicAdapter(opts: ProviderOptions): ProviderAdapter {
  const client = (apiKey: string, timeout: number, maxRetries: number) =>
    new Anthropic({ apiKey, baseURL: opts.baseURL, timeout, maxRetries });

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
          client(req.apiKey, opts.timeoutMs, opts.maxRetries).messages.create(
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
