// The model catalogue, in one place: what each provider's dropdown offers, the vendor's real model id, and its price
// in credits. Ids come from the SDKs' own model types (@anthropic-ai/sdk `Model`, openai `ChatModel`), choosing
// current ids that are neither deprecated nor previews.
import type { AiProvider } from '../generated/prisma/enums.ts';
import type { Vendor } from './vendors.ts';

export interface AiModel {
  /** The vendor's model id, sent as-is to the API. */
  id: string;
  label: string;
  provider: AiProvider;
  /** The vendor whose API serves it (for INTERVY_CREDITS, the house account's vendor). */
  vendor: Vendor;
  description: string;
  recommended: boolean;
  /** Credits per thousand input / output tokens. */
  creditsPer1kInput: number;
  creditsPer1kOutput: number;
}

type Entry = Omit<AiModel, 'provider' | 'vendor'>;

const ANTHROPIC: Entry[] = [
  {
    id: 'claude-haiku-5-5',
    label: 'Haiku',
    description: 'Fastest and cheapest.',
    recommended: false,
    creditsPer1kInput: 1,
    creditsPer1kOutput: 5,
  },
  {
    id: 'claude-sonnet-5-5',
    label: 'Sonnet',
    description: 'Balanced speed and capability.',
    recommended: true,
    creditsPer1kInput: 3,
    creditsPer1kOutput: 15,
  },
  {
    id: 'claude-opus-5-5',
    label: 'Opus',
    description: 'Highest reasoning capability.',
    recommended: false,
    creditsPer1kInput: 5,
    creditsPer1kOutput: 25,
  },
];

const OPENAI: Entry[] = [
  {
    id: 'gpt-5-nano',
    label: 'GPT-5 Nano',
    description: 'Fastest and cheapest.',
    recommended: false,
    creditsPer1kInput: 1,
    creditsPer1kOutput: 1,
  },
  {
    id: 'gpt-5-mini',
    label: 'GPT-5 Mini',
    description: 'Fast and affordable.',
    recommended: false,
    creditsPer1kInput: 1,
    creditsPer1kOutput: 2,
  },
  {
    id: 'gpt-5',
    label: 'GPT-5',
    description: 'Balanced.',
    recommended: true,
    creditsPer1kInput: 2,
    creditsPer1kOutput: 10,
  },
  {
    id: 'o4-mini',
    label: 'o4-mini',
    description: 'Reasoning, affordable.',
    recommended: false,
    creditsPer1kInput: 2,
    creditsPer1kOutput: 5,
  },
  {
    id: 'o3',
    label: 'o3',
    description: 'Reasoning, most capable.',
    recommended: false,
    creditsPer1kInput: 2,
    creditsPer1kOutput: 8,
  },
];

export const BYOK_MODELS: readonly AiModel[] = [
  ...ANTHROPIC.map((m) => ({ ...m, provider: 'ANTHROPIC' as const, vendor: 'ANTHROPIC' as const })),
  ...OPENAI.map((m) => ({ ...m, provider: 'OPENAI' as const, vendor: 'OPENAI' as const })),
];

/**
 * The catalogue for a server: the BYOK models plus the house model behind Intervy Credits, which is one of the
 * vendor models (configured by INTERVY_HOUSE_MODEL) billed at that model's credit price.
 */
export class ModelCatalogue {
  readonly house: AiModel;
  readonly all: readonly AiModel[];

  constructor(houseModelId: string) {
    const base = BYOK_MODELS.find((m) => m.id === houseModelId);
    if (!base) {
      throw new Error(`INTERVY_HOUSE_MODEL must be one of ${BYOK_MODELS.map((m) => m.id).join(', ')}.`);
    }
    this.house = {
      ...base,
      provider: 'INTERVY_CREDITS',
      label: `Ivy (${base.label})`,
      description: `Intervy's house model, billed to the org's credits.`,
      recommended: true,
    };
    this.all = [this.house, ...BYOK_MODELS];
  }

  forProvider(provider: AiProvider): AiModel[] {
    return this.all.filter((m) => m.provider === provider);
  }

  recommended(provider: AiProvider): AiModel {
    const models = this.forProvider(provider);
    return models.find((m) => m.recommended) ?? models[0];
  }

  /** The model for a provider by id, or undefined when that provider has no such model. */
  find(provider: AiProvider, id: string): AiModel | undefined {
    return this.forProvider(provider).find((m) => m.id === id);
  }

  /** The saved model, or the provider's recommended one when nothing (or a retired id) is saved. */
  resolve(provider: AiProvider, savedId: string | null | undefined): AiModel {
    return (savedId && this.find(provider, savedId)) || this.recommended(provider);
  }
}
