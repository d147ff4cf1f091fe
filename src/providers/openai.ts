import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type { ChatCompletionChunk, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { cached, checkKeyWith, clientPerKey, drive, type SdkErrors, type Tally } from './shared.ts';
import { upstreamFetch } from './transport.ts';
import {
  VENDOR_NAMES,
  type FinishReason,
  type ProviderAdapter,
  type ProviderOptions,
  type StreamPart,
} from './types.ts';

const VENDOR = VENDOR_NAMES.OPENAI;
// OpenAI's `stop` covers both a natural end and a stop sequence; we send no stop sequences, so it is END_TURN.
const FINISH_REASONS: Record<string, FinishReason> = {
  stop: 'END_TURN',
  length: 'MAX_TOKENS',
  content_filter: 'CONTENT_FILTER',
  tool_calls: 'TOOL_USE',
  function_call: 'TOOL_USE',
};
const sdk: SdkErrors = { APIError, APIUserAbortError, APIConnectionError, APIConnectionTimeoutError };

function translate(chunk: ChatCompletionChunk, tally: Tally): StreamPart[] {
  const parts: StreamPart[] = [];
  const choice = chunk.choices[0];
  if (choice?.delta?.content) parts.push({ type: 'text-delta', text: choice.delta.content });
  // A finish_reason means the reply is whole even if the usage chunk never comes (e.g. a proxy drops stream_options).
  if (choice?.finish_reason) {
    tally.completed = true;
    tally.reason = FINISH_REASONS[choice.finish_reason] ?? 'OTHER';
  }
  if (chunk.usage) {
    // prompt_tokens counts every input token; cached_tokens is the part served from the prompt cache.
    tally.inputTokens = chunk.usage.prompt_tokens;
    tally.outputTokens = chunk.usage.completion_tokens;
    tally.cachedInputTokens = chunk.usage.prompt_tokens_details?.cached_tokens ?? null;
    tally.completed = true;
    parts.push({
      type: 'usage',
      inputTokens: tally.inputTokens,
      outputTokens: tally.outputTokens,
      ...cached(tally),
    });
  }
  return parts;
}

export function createOpenAIAdapter(opts: ProviderOptions): ProviderAdapter {
  const client = (apiKey: string, timeout: number, maxRetries: number) =>
    new OpenAI({ apiKey, baseURL: opts.baseURL, timeout, maxRetries, fetch: upstreamFetch });
  const streamingClient = clientPerKey((apiKey) => client(apiKey, opts.timeoutMs, opts.maxRetries));

  return {
    vendor: 'OPENAI',
    stream(req) {
      const messages: ChatCompletionMessageParam[] = [
        ...(req.system ? [{ role: 'system' as const, content: req.system }] : []),
        ...req.messages.map(({ role, content }) => ({ role, content })),
      ];
      return drive<ChatCompletionChunk>({
        vendor: VENDOR,
        sdk,
        req,
        timeoutMs: opts.timeoutMs,
        translate,
        open: (signal) =>
          streamingClient(req.apiKey).chat.completions.create(
            {
              model: req.model,
              messages,
              max_completion_tokens: req.maxTokens,
              stream: true,
              stream_options: { include_usage: true },
            },
            { signal },
          ),
      });
    },
    checkKey(apiKey) {
      return checkKeyWith(VENDOR, sdk, apiKey, opts.keyCheckTimeoutMs, () =>
        client(apiKey, opts.keyCheckTimeoutMs, 0).models.list(),
      );
    },
  };
}
