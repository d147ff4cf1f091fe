import { createAnthropicAdapter } from './anthropic.js';
import { createOpenAIAdapter } from './openai.js';
import type { ProviderAdapter, ProviderOptions, VendorName } from './types.js';

export { createAnthropicAdapter } from './anthropic.js';
export { createOpenAIAdapter } from './openai.js';
export type * from './types.js';

export function createProviders(opts: { anthropic: ProviderOptions; openai: ProviderOptions }): Record<VendorName, ProviderAdapter> {
  return {
    ANTHROPIC: createAnthropicAdapter(opts.anthropic),
    OPENAI: createOpenAIAdapter(opts.openai),
  };
}
