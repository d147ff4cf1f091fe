// Per-member monthly credit caps, each member's spend against theirs, and the estimate the Ivy panel asks for
// before sending a long request.
import { builder, requiresOrg } from '../builder.ts';
import { estimateCompletion, type CompletionEstimate } from '../domain/estimate.ts';
import {
  memberSpendThisMonth,
  setDefaultMemberCap,
  setMemberCap,
  type MemberSpendView,
} from '../domain/member-caps.ts';
import { WRITE_COST } from '../lib/operation-cost.ts';
import { FallbackReasonRef, IvyCompletionInputRef, BillingModeRef } from './ivy.ts';
import { AiProviderRef, ErrorCodeRef } from './scalars.ts';

const CapSource = builder.enumType('MemberCapSource', {
  description: 'MEMBER: the member’s own cap. ORG_DEFAULT: the org’s default for members. NONE: no cap.',
  values: ['MEMBER', 'ORG_DEFAULT', 'NONE'] as const,
});

export const MemberSpend = builder.objectRef<MemberSpendView>('MemberSpend').implement({
  description: 'What a member has held or been charged in credits this calendar month (UTC), against their cap.',
  fields: (t) => ({
    member: t.prismaField({
      type: 'User',
      resolve: (query, v, _a, ctx) => ctx.services.db.user.findUniqueOrThrow({ ...query, where: { id: v.userId } }),
    }),
    month: t.field({ type: 'DateTime', description: 'The first instant of the month.', resolve: (v) => v.month }),
    spentThisMonth: t.exposeInt('spent', {
      description: 'Credits charged this month, plus what answers still streaming hold.',
    }),
    monthlyCap: t.exposeInt('cap', { nullable: true, description: 'The cap that applies; null: no cap.' }),
    capSource: t.expose('source', { type: CapSource }),
    remaining: t.exposeInt('remaining', { nullable: true, description: 'Credits left under the cap; null: no cap.' }),
    resetsAt: t.expose('resetsAt', {
      type: 'DateTime',
      description: 'When the month’s spend starts again from zero: the start of next month, UTC.',
    }),
  }),
});

const Estimate = builder.objectRef<CompletionEstimate>('IvyCompletionEstimate').implement({
  description: 'What an ivyCompletion with the same input would hold now. Nothing is placed or sent.',
  fields: (t) => ({
    billing: t.expose('billing', { type: BillingModeRef }),
    provider: t.expose('provider', { type: AiProviderRef }),
    model: t.exposeString('model', { nullable: true, description: 'Null when the request would be refused.' }),
    fallbackReason: t.expose('fallbackReason', { type: FallbackReasonRef, nullable: true }),
    holdCredits: t.exposeInt('holdCredits', {
      description: 'The hold the request would place: its worst case at the model’s price (0 in BYOK mode).',
    }),
    creditBalance: t.exposeInt('creditBalance'),
    memberCap: t.exposeInt('memberCap', { nullable: true, description: 'The viewer’s monthly cap; null: none.' }),
    spentThisMonth: t.exposeInt('spentThisMonth'),
    remainingCap: t.exposeInt('remainingCap', { nullable: true }),
    capResetsAt: t.expose('capResetsAt', { type: 'DateTime' }),
    refusal: t.expose('refusal', {
      type: ErrorCodeRef,
      nullable: true,
      description: 'The refusal the request would meet now (INSUFFICIENT_CREDITS, MEMBER_CAP_REACHED, NO_API_KEY).',
    }),
  }),
});

builder.queryFields((t) => ({
  ivyCompletionEstimate: t.field({
    ...requiresOrg('ivy:use', 'What ivyCompletion(input) would hold, the balance and the viewer’s remaining cap.'),
    type: Estimate,
    args: { input: t.arg({ type: IvyCompletionInputRef, required: true }) },
    resolve: (_r, { input }, ctx) =>
      estimateCompletion(ctx.services, ctx.viewer!, {
        ...input,
        orgId: String(input.orgId),
        requestId: input.requestId == null ? null : String(input.requestId),
      }),
  }),
  viewerSpend: t.field({
    ...requiresOrg('ivy:use', 'The viewer’s own credit spend this month against their cap.'),
    type: MemberSpend,
    args: { orgId: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) =>
      (await memberSpendThisMonth(ctx.services, String(args.orgId), ctx.viewer!.userId))[0],
  }),
}));

const SetMemberCapInput = builder.inputType('SetMemberCapInput', {
  fields: (t) => ({
    orgId: t.id({ required: true }),
    userId: t.id({ required: true }),
    monthlyCredits: t.int({ description: 'Credits per calendar month (UTC); null: the org default applies.' }),
  }),
});
const SetDefaultCapInput = builder.inputType('SetDefaultMemberCapInput', {
  fields: (t) => ({
    orgId: t.id({ required: true }),
    monthlyCredits: t.int({ description: 'Credits per member per calendar month (UTC); null: no default cap.' }),
  }),
});

builder.mutationFields((t) => ({
  setMemberCap: t.field({
    ...requiresOrg(
      'org:manage',
      'Sets one member’s monthly credit cap (audited). Holds count against it as they do against the balance.',
    ),
    type: MemberSpend,
    complexity: WRITE_COST,
    args: { input: t.arg({ type: SetMemberCapInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const orgId = String(input.orgId);
      const userId = String(input.userId);
      await setMemberCap(ctx.services, ctx.viewer!, { orgId, userId, monthlyCredits: input.monthlyCredits });
      return (await memberSpendThisMonth(ctx.services, orgId, userId))[0];
    },
  }),
  setDefaultMemberCap: t.field({
    ...requiresOrg('org:manage', 'Sets the monthly credit cap of every member without one of their own (audited).'),
    type: [MemberSpend],
    complexity: WRITE_COST,
    args: { input: t.arg({ type: SetDefaultCapInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const orgId = String(input.orgId);
      await setDefaultMemberCap(ctx.services, ctx.viewer!, { orgId, monthlyCredits: input.monthlyCredits });
      return memberSpendThisMonth(ctx.services, orgId);
    },
  }),
}));
