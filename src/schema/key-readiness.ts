// The readiness counts' GraphQL type (orgAiSettings.keyReadiness and providerChangeImpact share it).
import { builder } from '../builder.ts';
import type { KeyReadiness } from '../domain/key-readiness.ts';
import { AiProviderRef } from './scalars.ts';

export const KeyReadinessRef = builder.objectRef<KeyReadiness>('ProviderKeyReadiness').implement({
  description: 'How many members could use Ivy on this provider today. Counts only: never who, never which key.',
  fields: (t) => ({
    provider: t.expose('provider', { type: AiProviderRef }),
    membersTotal: t.exposeInt('membersTotal'),
    valid: t.exposeInt('valid', { description: 'Members whose key last tested VALID.' }),
    invalid: t.exposeInt('invalid', { description: 'Members whose key the provider refused (revoked, rotated).' }),
    untested: t.exposeInt('untested', { description: 'Members whose key was saved and not yet tested.' }),
    notSaved: t.exposeInt('notSaved', { description: 'Members with no key for this provider.' }),
    notTestedWithinInterval: t.exposeInt('notTestedWithinInterval', {
      description: 'Saved keys not tested within the re-test interval (KEY_RETEST_INTERVAL).',
    }),
    intervalSeconds: t.int({ resolve: (r) => Math.round(r.intervalMs / 1000) }),
  }),
});
