import { createAnthropicAdapter } from './anthropic.ts';
import { createOpenAIAdapter } from './openai.ts';
import type { ProviderAdapter, ProviderOptions, Vendor } from './types.ts';

export { createAnthropicAdapter } from './anthropic.ts';
export { createOpenAIAdapter } from './openai.ts';
export type * from './types.ts';

export function createProviders(opts: {
  anthropic: ProviderOptions;
  openai: ProviderOptions;
}): Record<Vendor, ProviderAdapter> {
  return {
    ANTHROPIC: createAnthropicAdapter(opts.anthropic),
    OPENAI: createOpenAIAdapter(opts.openai),
  };
}
