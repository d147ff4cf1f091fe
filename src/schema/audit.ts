import { builder, requiresOrg } from '../builder.ts';
import { refuse } from '../lib/errors.ts';
import { pageCost } from '../lib/operation-cost.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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
      resolve: (query, _r, args, ctx) => {
        // A cursor decodes to an event id; one that is not a uuid was forged or mangled by the client.
        const after = (query as { cursor?: { id?: unknown } }).cursor?.id;
        if (after !== undefined && !(typeof after === 'string' && UUID.test(after))) {
          refuse(
            'BAD_USER_INPUT',
            'The `after` cursor is not one this API returned: pass pageInfo.endCursor from the previous page.',
          );
        }
        return ctx.services.db.auditEvent.findMany({
          ...query,
          where: { orgId: String(args.orgId) },
          orderBy: { seq: 'desc' },
        });
      },
    },
    { name: 'AuditEventConnection' },
    { name: 'AuditEventEdge' },
  ),
);
