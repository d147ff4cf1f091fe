import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { graphql } from '../../src/generated/graphql/index.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.stop());

// Rows written in the same millisecond, with ids that sort opposite to insertion: newest first must still mean
// last written, not whatever the timestamp tie and a random id happen to say.
const sameInstant = new Date('2026-11-26T12:00:00.000Z');
const ids = [
  '00000000-0000-4000-8000-000000000003',
  '00000000-0000-4000-8000-000000000002',
  '00000000-0000-4000-8000-000000000001',
];

it('lists audit events newest first even when they share a millisecond', async () => {
  const { org, admin } = await server.seed.org();
  for (const [i, id] of ids.entries()) {
    await server.app.services.db.auditEvent.create({
      data: { id, orgId: org.id, actorId: admin.id, action: `step.${i}`, createdAt: sameInstant },
    });
  }
  const d = await server.client(admin.token).data(
    graphql(`
      query ListOrderAudit($o: ID!) {
        auditLog(orgId: $o) {
          edges {
            node {
              action
            }
          }
        }
      }
    `),
    { o: org.id },
  );
  expect(d.auditLog.edges.map((e) => e.node.action)).toEqual(['step.2', 'step.1', 'step.0']);
});

it('lists usage entries newest first even when they share a millisecond', async () => {
  const { org, admin } = await server.seed.org();
  for (const [i, id] of ids.entries()) {
    await server.app.services.db.completion.create({
      data: {
        id,
        orgId: org.id,
        userId: admin.id,
        requestId: `r${i}`,
        vendor: 'ANTHROPIC',
        model: 'claude-haiku-5-5',
        holdAmount: 1,
        status: 'SUCCEEDED',
        holdExpiresAt: sameInstant,
        createdAt: sameInstant,
      },
    });
  }
  const d = await server.client(admin.token).data(
    graphql(`
      query ListOrderUsage($o: ID!) {
        usage(orgId: $o) {
          entries {
            edges {
              node {
                requestId
              }
            }
          }
        }
      }
    `),
    {
      o: org.id,
    },
  );
  expect(d.usage!.entries.edges.map((e) => e.node.requestId)).toEqual(['r2', 'r1', 'r0']);
});

it('serves instants as ISO-8601 UTC strings with milliseconds, and audit detail as the JSON that was written', async () => {
  const { org, admin } = await server.seed.org();
  const detail = { provider: 'ANTHROPIC', nested: { n: 1, list: [true, null, 'x'] } };
  await server.app.services.db.auditEvent.create({
    data: {
      orgId: org.id,
      actorId: admin.id,
      action: 'shape',
      detail,
      createdAt: new Date(Date.UTC(2026, 10, 26, 7, 5, 9, 42)),
    },
  });
  const d = await server.client(admin.token).data(
    graphql(`
      query ListOrderAuditDetail($o: ID!) {
        auditLog(orgId: $o) {
          edges {
            node {
              detail
              createdAt
            }
          }
        }
      }
    `),
    { o: org.id },
  );
  expect(d.auditLog.edges.map((e) => e.node)).toEqual([{ detail, createdAt: '2026-11-26T07:05:09.042Z' }]);
});
