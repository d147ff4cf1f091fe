import { builder, orgWhereViewerHas, requiresOrg, uuidKey } from '../builder.ts';
import { pageCost } from '../lib/operation-cost.ts';
import { listCursor } from './cursors.ts';

builder.prismaNode('AuditEvent', {
  description: 'Who changed what, when. Never contains key material.',
  id: { field: 'id' },
  // node(id:) of a row the viewer may not see finds nothing: null, answered FORBIDDEN (builder.ts).
  nullable: true,
  // node(id:): as auditLog, for org:manage in the event's org.
  findUnique: (id, ctx) => ({ id: uuidKey(id), org: orgWhereViewerHas(ctx, 'org:manage') }),
  fields: (t) => ({
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
      resolve: async (query, _r, args, ctx) => {
        const where = { orgId: String(args.orgId) };
        const db = ctx.services.db;
        return db.auditEvent.findMany({
          ...(await listCursor(query, (id) =>
            db.auditEvent.findFirst({ where: { ...where, id }, select: { id: true } }),
          )),
          where,
          orderBy: { seq: 'desc' },
        });
      },
    },
    { name: 'AuditEventConnection' },
    { name: 'AuditEventEdge' },
  ),
);
