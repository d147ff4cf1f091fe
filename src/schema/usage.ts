import { builder, requiresOrg } from '../builder.ts';
import { usageSummary, type UsageSummary } from '../domain/usage.ts';
import { AiProviderRef } from './scalars.ts';
import { CompletionStatus } from '../generated/prisma/enums.ts';
import { ownIdCursor } from './cursors.ts';
import type { ParentPage } from '../lib/page-from-parent.ts';
import { pageCost } from '../lib/operation-cost.ts';

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

const UsageReport = builder.objectRef<UsageSummary & ParentPage>('UsageReport').implement({
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
    entries: t.prismaConnection(
      {
        type: UsageEntry,
        description:
          'Credits-mode completions, newest first: `first`/`after` page forwards, `last`/`before` backwards. ' +
          'Without any of them, the page given to `usage(first, after)`.',
        extensions: { pageFromParent: true },
        cursor: 'id',
        defaultSize: 20,
        maxSize: 100,
        complexity: pageCost(20, 100),
        resolve: (query, report, _args, ctx) =>
          ctx.services.db.completion.findMany({
            ...ownIdCursor(query),
            where: { orgId: report.orgId, billing: 'CREDITS' },
            // seq is insertion order and unique: newest first even within one millisecond.
            orderBy: { seq: 'desc' },
          }),
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
      page: { first: args.first, after: args.after },
    }),
  }),
);
