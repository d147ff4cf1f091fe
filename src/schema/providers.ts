// The providers an org can choose, with what a client shows for each: its display label and, for the vendors, the
// links a member needs (where to create a key, where usage and costs are). No client hard-codes them.
import { builder, requiresSignIn } from '../builder.ts';
import { providerFacts, type ProviderFacts } from '../domain/vendors.ts';
import { AiProviderRef } from './scalars.ts';

const VendorDashboard = builder.objectRef<{ name: string; url: string }>('VendorDashboard').implement({
  description: 'A page of the vendor’s own console.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'E.g. "Anthropic Console".' }),
    url: t.exposeString('url'),
  }),
});

const ProviderInfo = builder.objectRef<ProviderFacts>('ProviderInfo').implement({
  description: 'One AI provider, as the Provider dropdown, the key form and the Usage page show it.',
  fields: (t) => ({
    provider: t.expose('provider', { type: AiProviderRef }),
    label: t.exposeString('label', { description: '"Intervy Credits", "Anthropic", "OpenAI".' }),
    takesPersonalKey: t.exposeBoolean('takesPersonalKey', {
      description: 'Members bring their own key for it (Anthropic, OpenAI); Intervy Credits takes none.',
    }),
    keyPrefix: t.exposeString('keyPrefix', {
      nullable: true,
      description: 'How every key of this vendor starts ("sk-ant-", "sk-"), for the key field’s placeholder.',
    }),
    apiKeysUrl: t.exposeString('apiKeysUrl', {
      nullable: true,
      description: 'The vendor console page where a member creates an API key; null for Intervy Credits.',
    }),
    usageDashboard: t.field({
      type: VendorDashboard,
      nullable: true,
      description:
        'Where a BYOK org reviews usage and costs (Intervy never sees that traffic); null for Intervy Credits.',
      resolve: (p) => p.dashboard,
    }),
  }),
});

builder.queryField('providers', (t) =>
  t.field({
    ...requiresSignIn('Every AI provider, Intervy Credits first, with its label and the vendors’ console links.'),
    type: [ProviderInfo],
    resolve: () => providerFacts(),
  }),
);
