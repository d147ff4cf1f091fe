import { builder, orgWhereViewerHas, requiresOrg, uuidKey } from '../builder.ts';
import {
  MAX_USAGE_RANGE_DAYS,
  usageByMember,
  usageRange,
  usageSummary,
  usageWhere,
  type MemberUsage,
  type UsageSummary,
} from '../domain/usage.ts';
import { memberSpendThisMonth } from '../domain/member-caps.ts';
import { BillingModeRef, FallbackReasonRef } from './ivy.ts';
import { AiProviderRef } from './scalars.ts';
import { MemberSpend } from './spending.ts';
import { CompletionStatus } from '../generated/prisma/enums.ts';
import { listCursor } from './cursors.ts';
import { pageCost } from '../lib/operation-cost.ts';

const CompletionStatusRef = builder.enumType(CompletionStatus, { name: 'CompletionStatus' });

const UsageEntry = builder.prismaNode('Completion', {
  name: 'UsageEntry',
  description: 'One Ivy completion billed to credits.',
  id: { field: 'id' },
  // node(id:) of a row the viewer may not see finds nothing: null, answered FORBIDDEN (builder.ts).
  nullable: true,
  // node(id:): as usage, for org:view in the completion's org, and only what the Usage page lists (credits-billed).
  findUnique: (id, ctx) => ({ id: uuidKey(id), billing: 'CREDITS', org: orgWhereViewerHas(ctx, 'org:view') }),
  fields: (t) => ({
    requestId: t.exposeID('requestId'),
    member: t.relation('user'),
    provider: t.field({
      type: AiProviderRef,
      description:
        'Who paid, as IvyCompletionStarted.provider said: INTERVY_CREDITS for an answer billed to credits (a BYOK ' +
        'fallback included), the member’s provider for one billed to their own key. `vendor` says who served it.',
      resolve: (c) => (c.billing === 'CREDITS' ? 'INTERVY_CREDITS' : c.vendor),
    }),
    billing: t.expose('billing', { type: BillingModeRef, description: 'As IvyCompletionStarted.billing said.' }),
    vendor: t.expose('vendor', {
      type: AiProviderRef,
      description: 'The vendor whose API served it (ANTHROPIC or OPENAI): on Intervy’s account when billed to credits.',
    }),
    model: t.exposeString('model', { description: 'The vendor model id (AiModel.modelId) that served it.' }),
    inputTokens: t.exposeInt('inputTokens', {
      nullable: true,
      description: 'Every input token, cached ones included.',
    }),
    cachedInputTokens: t.exposeInt('cachedInputTokens', {
      nullable: true,
      description: 'Input tokens the vendor served from its prompt cache, billed at the model’s cached price.',
    }),
    cacheSavingCredits: t.exposeInt('cacheSavingCredits', {
      description: 'Credits the cached input tokens saved against the full input price.',
    }),
    fallbackReason: t.field({
      type: FallbackReasonRef,
      nullable: true,
      description: 'Set when this answer ran on credits in a BYOK org (a fallback the org consented to).',
      resolve: (c) => c.fallbackReason as 'NO_API_KEY' | 'KEY_INVALID' | 'PROVIDER_AUTH_FAILED' | null,
    }),
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

const MemberUsageRef = builder.objectRef<MemberUsage>('MemberUsage').implement({
  description: 'One member’s credits-mode completions in the Usage page’s range.',
  fields: (t) => ({
    member: t.prismaField({
      type: 'User',
      resolve: (query, m, _a, ctx) => ctx.services.db.user.findUniqueOrThrow({ ...query, where: { id: m.userId } }),
    }),
    completions: t.exposeInt('completions'),
    creditsCharged: t.exposeInt('creditsCharged'),
    cacheSavingCredits: t.exposeInt('cacheSavingCredits'),
    inputTokens: t.exposeInt('inputTokens', { description: 'Reported or estimated, cached ones included.' }),
    outputTokens: t.exposeInt('outputTokens', { description: 'Reported or estimated.' }),
  }),
});

const UsageReport = builder.objectRef<UsageSummary>('UsageReport').implement({
  description: 'Settings → Usage, for the range asked (every completion when none was).',
  fields: (t) => ({
    from: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'Start of the range (inclusive); null: none asked.',
      resolve: (r) => r.range.from ?? null,
    }),
    to: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'End of the range (exclusive); null: none asked.',
      resolve: (r) => r.range.to ?? null,
    }),
    trackingAvailable: t.exposeBoolean('trackingAvailable', {
      description: 'False in BYOK mode: the provider bills each member’s key directly.',
    }),
    notice: t.exposeString('notice', { nullable: true }),
    providerDashboardUrl: t.exposeString('providerDashboardUrl', {
      nullable: true,
      description: 'Anthropic Console or OpenAI Platform usage page, in BYOK mode.',
    }),
    totalCreditsCharged: t.exposeInt('totalCreditsCharged', { description: 'Over the range.' }),
    totalCacheSavingCredits: t.exposeInt('totalCacheSavingCredits', {
      description: 'What cached prompt tokens saved over the range, in credits, against the full input price.',
    }),
    byMember: t.field({
      type: [MemberUsageRef],
      description:
        'Each member who used credits in the range, most credits first. The Usage page needs `org:view` ' +
        '(Admins and Staffing); a member without it is refused the whole page and reads their own spend at `viewerSpend`.',
      resolve: (report, _a, ctx) => usageByMember(ctx.services, report.orgId, report.range),
    }),
    memberSpend: t.field({
      type: [MemberSpend],
      description: 'Each member’s credit spend this month (UTC) against their cap, whatever the range.',
      resolve: (report, _a, ctx) => memberSpendThisMonth(ctx.services, report.orgId),
    }),
    openOverageCredits: t.exposeInt('openOverageCredits', {
      description:
        'Credits owed for answers that cost more than their hold and the balance; paid off by the next top-up.',
    }),
    entries: t.prismaConnection(
      {
        type: UsageEntry,
        description:
          'Credits-mode completions in the range, newest first: `first`/`after` page forwards, `last`/`before` ' +
          'backwards (the cursors are opaque; one from another list, org or range is BAD_USER_INPUT).',
        cursor: 'id',
        defaultSize: 20,
        maxSize: 100,
        complexity: pageCost(20, 100),
        resolve: async (query, report, _args, ctx) => {
          const where = usageWhere(report.orgId, report.range);
          const db = ctx.services.db;
          return db.completion.findMany({
            ...(await listCursor(query, (id) =>
              db.completion.findFirst({ where: { ...where, id }, select: { id: true } }),
            )),
            where,
            // seq is insertion order and unique: newest first even within one millisecond.
            orderBy: { seq: 'desc' },
          });
        },
      },
      { name: 'UsageEntryConnection' },
      { name: 'UsageEntryEdge' },
    ),
  }),
});

builder.queryField('usage', (t) =>
  t.field({
    ...requiresOrg(
      'org:view',
      'The Usage page: credits-mode completions with totals and a per-member breakdown, over [from, to) when given ' +
        `(both or neither; at most ${MAX_USAGE_RANGE_DAYS} days), or the BYOK notice. Page the list on ` +
        '`entries(first, after, last, before)`. Null with FORBIDDEN at this path for a member without `org:view`, so ' +
        'the rest of a query (their settings, say) still answers.',
    ),
    type: UsageReport,
    nullable: true,
    args: {
      orgId: t.arg.id({ required: true }),
      from: t.arg({ type: 'DateTime', description: 'Start of the range, inclusive.' }),
      to: t.arg({ type: 'DateTime', description: 'End of the range, exclusive.' }),
    },
    resolve: (_r, args, ctx) => usageSummary(ctx.services, String(args.orgId), usageRange(args.from, args.to)),
  }),
);
