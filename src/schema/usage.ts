import { resolveCursorConnection, type ResolveCursorConnectionArgs } from '@pothos/plugin-relay';
import { builder, requiresOrg } from '../builder.ts';
import { usageSummary, type UsageSummary } from '../domain/usage.ts';
import { AiProviderRef } from './scalars.ts';
import { CompletionStatus } from '../generated/prisma/enums.ts';
import { refuse } from '../lib/errors.ts';
import { pageCost } from '../lib/operation-cost.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A cursor is an entry id this API handed out; anything else is the client's mistake, not ours. */
function entryCursor(after: string | null | undefined): string | undefined {
  if (after == null) return undefined;
  if (!UUID.test(after))
    refuse(
      'BAD_USER_INPUT',
      'The `after` cursor is not one this API returned: pass pageInfo.endCursor from the previous page.',
    );
  return after;
}

const CompletionStatusRef = builder.enumType(CompletionStatus, { name: 'CompletionStatus' });

const UsageEntry = builder.prismaObject('Completion', {
  name: 'UsageEntry',
  description: 'One Ivy completion billed to credits.',
  fields: (t) => ({
    id: t.exposeID('id'),
    requestId: t.exposeID('requestId'),
    member: t.relation('user'),
    provider: t.expose('vendor', {
      type: AiProviderRef,
      description: 'The vendor that served it on Intervy’s account.',
    }),
    model: t.exposeString('model'),
    inputTokens: t.exposeInt('inputTokens', { nullable: true }),
    outputTokens: t.exposeInt('outputTokens', { nullable: true }),
    creditsHeld: t.exposeInt('holdAmount'),
    creditsCharged: t.exposeInt('creditsCharged', {
      description: 'Taken from the balance: the charge, up to the hold, plus any overage the balance covered.',
    }),
    inputTokensEstimated: t.exposeBoolean('inputTokensEstimated', {
      description: 'The provider did not report input tokens; they were estimated from the prompt.',
    }),
    outputTokensEstimated: t.exposeBoolean('outputTokensEstimated', {
      description:
        'The stream ended before the provider reported output tokens (or reported fewer than were delivered); estimated from the delivered text.',
    }),
    overageOwed: t.exposeInt('overageUncovered', {
      description:
        'Credits the provider’s report put above the hold that the balance could not cover (owed until the next top-up).',
    }),
    status: t.expose('status', { type: CompletionStatusRef }),
    errorCode: t.exposeString('errorCode', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

type Page = { first?: number | null; after?: string | null };

const UsageReport = builder.objectRef<UsageSummary & Page>('UsageReport').implement({
  description: 'Settings → Usage.',
  fields: (t) => ({
    trackingAvailable: t.exposeBoolean('trackingAvailable', {
      description: 'False in BYOK mode: the provider bills each member’s key directly.',
    }),
    notice: t.exposeString('notice', { nullable: true }),
    providerDashboardUrl: t.exposeString('providerDashboardUrl', {
      nullable: true,
      description: 'Anthropic Console or OpenAI Platform usage page, in BYOK mode.',
    }),
    totalCreditsCharged: t.exposeInt('totalCreditsCharged'),
    openOverageCredits: t.exposeInt('openOverageCredits', {
      description:
        'Credits owed for answers that cost more than their hold and the balance; paid off by the next top-up.',
    }),
    entries: t.connection(
      {
        type: UsageEntry,
        description: 'Credits-mode completions, newest first (paged by `usage(first, after)`).',
        complexity: pageCost(20, 100),
        resolve: (report, args, ctx) =>
          resolveCursorConnection(
            {
              args: { first: args.first ?? report.first ?? 20, after: entryCursor(args.after ?? report.after) },
              toCursor: (c) => c.id,
              maxSize: 100,
            },
            ({ after, limit }: ResolveCursorConnectionArgs) =>
              ctx.services.db.completion.findMany({
                where: { orgId: report.orgId, billing: 'CREDITS' },
                orderBy: { seq: 'desc' },
                take: limit,
                ...(after ? { cursor: { id: after }, skip: 1 } : {}),
              }),
          ),
      },
      { name: 'UsageEntryConnection' },
      { name: 'UsageEntryEdge' },
    ),
  }),
});

builder.queryField('usage', (t) =>
  t.field({
    ...requiresOrg('org:view', 'The Usage page: every credits-mode completion with totals, or the BYOK notice.'),
    type: UsageReport,
    // `entries` charges its default page (20); a page size given here scales that.
    complexity: (args) => ({ field: 1, multiplier: pageCost(20, 100)(args).multiplier / 20 }),
    args: { orgId: t.arg.id({ required: true }), first: t.arg.int(), after: t.arg.string() },
    resolve: async (_r, args, ctx) => ({
      ...(await usageSummary(ctx.services, String(args.orgId))),
      first: args.first,
      after: args.after,
    }),
  }),
);
