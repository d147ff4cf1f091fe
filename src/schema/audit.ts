import { builder, requiresOrg } from '../builder.ts';
import { pageCost } from '../lib/operation-cost.ts';
import { ownIdCursor } from './cursors.ts';

builder.prismaObject('AuditEvent', {
  description: 'Who changed what, when. Never contains key material.',
  fields: (t) => ({
    id: t.exposeID('id'),
    action: t.exposeString('action'),
    actorId: t.exposeID('actorId', { nullable: true, description: 'Null for operator commands and background jobs.' }),
    detail: t.expose('detail', { type: 'JSON' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryField('auditLog', (t) =>
  t.prismaConnection(
    {
      ...requiresOrg('org:manage', 'Settings and key events, newest first.'),
      type: 'AuditEvent',
      cursor: 'id',
      defaultSize: 20,
      maxSize: 100,
      complexity: pageCost(20, 100),
      args: { orgId: t.arg.id({ required: true }) },
      resolve: (query, _r, args, ctx) =>
        ctx.services.db.auditEvent.findMany({
          ...ownIdCursor(query),
          where: { orgId: String(args.orgId) },
          orderBy: { seq: 'desc' },
        }),
    },
    { name: 'AuditEventConnection' },
    { name: 'AuditEventEdge' },
  ),
);
