import { PlanRef, OrgRoleRef } from './scalars.ts';
import { builder, orgWhereViewerHas, requiresSignIn, uuidKey } from '../builder.ts';

builder.prismaObject('User', {
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    name: t.exposeString('name'),
  }),
});

builder.prismaNode('Org', {
  description:
    'An org. Its `id` is a global id; every `orgId` argument takes it (or the org’s uuid, as in `OrgAiSettings.orgId`).',
  id: { field: 'id' },
  // node(id:) of a row the viewer may not see finds nothing: null, answered FORBIDDEN (builder.ts).
  nullable: true,
  // node(id:): members only, as viewer.memberships shows orgs.
  findUnique: (id, ctx) => ({ id: uuidKey(id), ...orgWhereViewerHas(ctx, 'ai-settings:view') }),
  fields: (t) => ({
    orgId: t.exposeID('id', { description: 'The org’s uuid (what operator commands and logs show).' }),
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
    plan: t.expose('plan', { type: PlanRef }),
  }),
});

builder.prismaObject('Membership', {
  fields: (t) => ({
    role: t.expose('role', { type: OrgRoleRef }),
    org: t.relation('org'),
  }),
});

const Viewer = builder.objectRef<{ userId: string }>('Viewer').implement({
  description: 'The signed-in user and the orgs they belong to.',
  fields: (t) => ({
    user: t.prismaField({
      type: 'User',
      resolve: (query, v, _a, ctx) => ctx.services.db.user.findUniqueOrThrow({ ...query, where: { id: v.userId } }),
    }),
    memberships: t.prismaField({
      type: ['Membership'],
      resolve: (query, v, _a, ctx) =>
        ctx.services.db.membership.findMany({ ...query, where: { userId: v.userId }, orderBy: { createdAt: 'asc' } }),
    }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    ...requiresSignIn('Who is signed in, and their orgs and roles.'),
    type: Viewer,
    resolve: (_root, _args, ctx) => ({ userId: ctx.viewer!.userId }),
  }),
);
