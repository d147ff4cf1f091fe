// Everything Ivy knows about the two AI vendors a member can bring a key for: the one Vendor type, display names, what
// their API keys look like, and where their own usage dashboards are.
//
// The Vendor type and the display names are defined in providers/types.ts and re-exported here: the adapters need both
// (they name their vendor in failure messages) and providers sit below domain (schema → domain → lib/providers), so
// the lowest layer that uses them owns them and nothing below domain imports domain. Everything else lives here.
import type { AiProvider } from '../generated/prisma/enums.ts';
import { refuse } from '../lib/errors.ts';
import { VENDOR_NAMES, type Vendor } from '../providers/types.ts';

export { VENDOR_NAMES, type Vendor };

// Fails to typecheck if the adapters' vendors and the database's BYOK providers ever drift apart.
const sameVendors: [Vendor, Exclude<AiProvider, 'INTERVY_CREDITS'>] extends [
  Exclude<AiProvider, 'INTERVY_CREDITS'>,
  Vendor,
]
  ? true
  : never = true;
void sameVendors;

interface VendorFacts {
  /** Every key of this vendor starts with it (shown in format errors). */
  keyPrefix: string;
  /** The whole key: prefix, then 16 to 240 of letters, digits, "-" and "_" (OpenAI's must not be Anthropic's). */
  keyPattern: RegExp;
  /** Where a BYOK org reviews usage and costs, since Intervy never sees that traffic. */
  dashboard: { name: string; url: string };
  /** The vendor's page where a member creates the API key they save under Org Settings → AI. */
  apiKeysUrl: string;
}

export const VENDORS: Record<Vendor, VendorFacts> = {
  ANTHROPIC: {
    keyPrefix: 'sk-ant-',
    keyPattern: /^sk-ant-[A-Za-z0-9_-]{16,240}$/,
    dashboard: { name: 'Anthropic Console', url: 'https://console.anthropic.com/settings/usage' },
    apiKeysUrl: 'https://console.anthropic.com/settings/keys',
  },
  OPENAI: {
    keyPrefix: 'sk-',
    keyPattern: /^sk-(?!ant-)[A-Za-z0-9_-]{16,240}$/,
    dashboard: { name: 'OpenAI Platform', url: 'https://platform.openai.com/usage' },
    apiKeysUrl: 'https://platform.openai.com/api-keys',
  },
};

/** What a client shows for each provider, so none hard-codes a name or a link. Intervy Credits takes no key. */
export interface ProviderFacts {
  provider: AiProvider;
  label: string;
  takesPersonalKey: boolean;
  keyPrefix: string | null;
  dashboard: { name: string; url: string } | null;
  apiKeysUrl: string | null;
}

export const INTERVY_CREDITS_LABEL = 'Intervy Credits';

/** Every provider, in the order of the Provider dropdown: Intervy Credits first, then the vendors. */
export function providerFacts(): ProviderFacts[] {
  const credits: ProviderFacts = {
    provider: 'INTERVY_CREDITS',
    label: INTERVY_CREDITS_LABEL,
    takesPersonalKey: false,
    keyPrefix: null,
    dashboard: null,
    apiKeysUrl: null,
  };
  const vendors = (Object.keys(VENDORS) as Vendor[]).map((v): ProviderFacts => ({
    provider: v,
    label: vendorName(v),
    takesPersonalKey: true,
    keyPrefix: VENDORS[v].keyPrefix,
    dashboard: VENDORS[v].dashboard,
    apiKeysUrl: VENDORS[v].apiKeysUrl,
  }));
  return [credits, ...vendors];
}

/** "Anthropic", "OpenAI". */
export const vendorName = (v: Vendor): string => VENDOR_NAMES[v];

/** The vendor of a provider that takes a key; Intervy Credits takes none (BAD_USER_INPUT). */
export function asVendor(provider: AiProvider): Vendor {
  if (provider === 'INTERVY_CREDITS') {
    return refuse('BAD_USER_INPUT', 'Intervy Credits needs no personal API key: choose ANTHROPIC or OPENAI.');
  }
  return provider;
}

/** Refuses a string that cannot be a key of this vendor, without echoing it back. */
export function checkKeyFormat(vendor: Vendor, apiKey: string): void {
  const name = vendorName(vendor);
  const { keyPrefix, keyPattern } = VENDORS[vendor];
  if (/\s/.test(apiKey)) {
    refuse(
      'INVALID_API_KEY_FORMAT',
      `${name} API keys contain no spaces or line breaks: paste the key exactly as issued.`,
    );
  }
  if (!keyPattern.test(apiKey)) {
    // A key of the other vendor passes a prefix check by eye ("sk-ant-…" starts with "sk-"): say what it is instead.
    const other = (Object.keys(VENDORS) as Vendor[]).find((v) => v !== vendor && VENDORS[v].keyPattern.test(apiKey));
    if (other) {
      const otherName = vendorName(other);
      refuse(
        'INVALID_API_KEY_FORMAT',
        `That is an ${otherName} API key, not an ${name} one: save it under ${otherName}, or paste your ${name} key here.`,
      );
    }
    refuse(
      'INVALID_API_KEY_FORMAT',
      `That is not an ${name} API key: ${name} keys start with "${keyPrefix}" and are 20 to 250 characters of letters, digits, "-" and "_".`,
    );
  }
}

/** What the UI may show of a key: its prefix (Anthropic's, OpenAI's project or plain one) and last four characters. */
export function keyHint(apiKey: string): string {
  const prefix = /^(sk-ant-|sk-proj-|sk-)/.exec(apiKey)?.[1] ?? '';
  return `${prefix}…${apiKey.slice(-4)}`;
}
