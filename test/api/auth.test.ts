import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { settingsTopic } from '../support/server-probe.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import type { SeededOrg } from '../../dev/seed.ts';
import type { GqlError } from '../../dev/client.ts';
import { graphql } from '../../src/generated/graphql/index.ts';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';

const SETTINGS = graphql(`
  query AuthSettings($orgId: ID!) {
    orgAiSettings(orgId: $orgId) {
      provider
      viewerCanManage
    }
  }
`);
const IMPACT = graphql(`
  query AuthImpact($orgId: ID!) {
    providerChangeImpact(orgId: $orgId, provider: INTERVY_CREDITS) {
      allowed
    }
  }
`);
const UPDATE = graphql(`
  mutation AuthUpdate($orgId: ID!) {
    updateProvider(input: { orgId: $orgId, provider: INTERVY_CREDITS }) {
      provider
    }
  }
`);
const AUDIT = graphql(`
  query AuthAudit($orgId: ID!) {
    auditLog(orgId: $orgId) {
      edges {
        node {
          action
        }
      }
    }
  }
`);

let server: TestServer;
let acme: SeededOrg;
let other: SeededOrg;

beforeAll(async () => {
  server = await startTestServer();
  acme = await server.seed.org({ plan: 'GROWTH' });
  other = await server.seed.org({ plan: 'GROWTH' });
});
afterAll(() => server?.stop());

describe('authentication', () => {
  it('refuses a request without a token with UNAUTHENTICATED', async () => {
    expect(await server.client().errorCode(SETTINGS, { orgId: acme.org.id })).toBe('UNAUTHENTICATED');
  });

  it('refuses a token signed with another secret, a malformed token and an expired one', async () => {
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(acme.admin.id)
      .setIssuer('intervy-ivy')
      .sign(new TextEncoder().encode('not-the-secret-not-the-secret-000'));
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(acme.admin.id)
      .setIssuer('intervy-ivy')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(server.app.jwtSecret);
    for (const token of [forged, 'not.a.jwt', expired]) {
      expect(await server.client(token).errorCode(SETTINGS, { orgId: acme.org.id })).toBe('UNAUTHENTICATED');
    }
  });

  it('reads the role from the database, never from the token', async () => {
    const claimsAdmin = await new SignJWT({ role: 'ADMIN', roles: ['ADMIN'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(acme.interviewer.id)
      .setIssuer('intervy-ivy')
      .setAudience('ivy-api')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(server.app.jwtSecret);
    expect(await server.client(claimsAdmin).errorCode(UPDATE, { orgId: acme.org.id })).toBe('FORBIDDEN');
  });
});

describe('authentication over graphql-ws', () => {
  const WATCH = `subscription($o: ID!) { orgAiSettingsChanged(orgId: $o) { provider } }`;
  /** Subscribes to acme's settings; `live` once the server has the subscription, or the code it was refused with. */
  const subscribeWith = async (extensions: Record<string, unknown>, connectionToken?: string) => {
    const topic = settingsTopic(acme.org.id);
    const ws = server.client(connectionToken ?? null).ws();
    let stop = () => {};
    const refused = new Promise<{ code?: string; live: boolean }>((resolve) => {
      stop = ws.subscribe(
        { query: WATCH, variables: { o: acme.org.id }, extensions },
        {
          next: (r) => resolve({ code: r.errors?.[0]?.extensions?.code as string | undefined, live: false }),
          error: () => resolve({ code: 'ERROR', live: false }),
          complete: () => resolve({ code: undefined, live: false }),
        },
      );
    });
    const live = server.waitForSubscribers(topic, 1).then(() => ({ live: true }));
    const outcome = await Promise.race([refused, live]);
    stop();
    await ws.dispose();
    await server.waitForSubscribers(topic, 0);
    return outcome;
  };

  it('takes the token from connectionParams.authorization', async () => {
    expect(await subscribeWith({}, acme.admin.token)).toEqual({ live: true });
  });

  it('takes the token from the Authorization header GraphiQL sends in the subscribe message', async () => {
    expect(await subscribeWith({ headers: { Authorization: `Bearer ${acme.interviewer.token}` } })).toEqual({
      live: true,
    });
    expect(await subscribeWith({ headers: { authorization: 'Bearer forged.token.here' } })).toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    expect(await subscribeWith({})).toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('org permissions', () => {
  it('lets every member, interviewers included, read the AI settings', async () => {
    for (const m of [acme.admin, acme.staffing, acme.interviewer]) {
      const d = await server.client(m.token).data(SETTINGS, { orgId: acme.org.id });
      expect(d.orgAiSettings.viewerCanManage).toBe(m.role === 'ADMIN');
    }
  });

  it('gives a non-member the same FORBIDDEN whether or not the org exists', async () => {
    const outsider = acme.admin.token; // a member of acme, not of `other`
    const r1 = await server.client(outsider).request(SETTINGS, { orgId: other.org.id });
    const r2 = await server.client(outsider).request(SETTINGS, { orgId: '00000000-0000-4000-8000-000000000000' });
    const r3 = await server.client(outsider).request(SETTINGS, { orgId: 'not-a-uuid' });
    expect(r1.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    // Identical but for the request id each response carries.
    const withoutRequestId = (e?: GqlError) => ({ ...e, extensions: { ...e?.extensions, requestId: undefined } });
    expect(withoutRequestId(r2.errors?.[0])).toEqual(withoutRequestId(r1.errors?.[0]));
    expect(r3.errors?.[0].message).toBe(r1.errors?.[0].message);
    expect(r3.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });

  it('keeps provider changes, the change impact and the audit log to Org Admins', async () => {
    // Three result types; only the refusal and the absence of errors are compared.
    const adminOnly: TypedDocumentNode<unknown, { orgId: string }>[] = [UPDATE, IMPACT, AUDIT];
    for (const op of adminOnly) {
      expect(await server.client(acme.staffing.token).errorCode(op, { orgId: acme.org.id })).toBe('FORBIDDEN');
      expect(await server.client(acme.interviewer.token).errorCode(op, { orgId: acme.org.id })).toBe('FORBIDDEN');
      expect((await server.client(acme.admin.token).request(op, { orgId: acme.org.id })).errors).toBeUndefined();
    }
  });

  it('lists the viewer’s orgs and roles', async () => {
    const d = await server.client(acme.staffing.token).data(
      graphql(`
        query AuthViewer {
          viewer {
            user {
              id
              email
            }
            memberships {
              role
              org {
                orgId
                slug
              }
            }
          }
        }
      `),
    );
    expect(d.viewer.user.id).toBe(acme.staffing.id);
    expect(d.viewer.memberships).toEqual([{ role: 'STAFFING', org: { orgId: acme.org.id, slug: acme.org.slug } }]);
  });
});

describe('errors', () => {
  it('gives schema errors and bad variables a stable code', async () => {
    const c = server.client(acme.admin.token);
    expect(await c.errorCode(`{ nope }`)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(await c.errorCode(`{ viewer {`)).toBe('GRAPHQL_PARSE_FAILED');
    expect(
      await c.errorCode(
        `query($p: AiProvider!) { providerChangeImpact(orgId: "${acme.org.id}", provider: $p) { allowed } }`,
        { p: 'GEMINI' },
      ),
    ).toBe('BAD_USER_INPUT');
  });

  it('refuses an unparsable or invalid operation over graphql-ws with GRAPHQL_PARSE_FAILED or GRAPHQL_VALIDATION_FAILED, keeping the socket usable', async () => {
    const client = server.client(acme.admin.token);
    const ws = client.ws();
    try {
      await expect(client.rawSubscribeWs('subscription {', {}, ws).done).rejects.toThrow(/GRAPHQL_PARSE_FAILED/);
      await expect(client.rawSubscribeWs('subscription { nope }', {}, ws).done).rejects.toThrow(
        /GRAPHQL_VALIDATION_FAILED/,
      );
      const live = client.subscribeWs(
        graphql(`
          subscription AuthWatch($o: ID!) {
            orgAiSettingsChanged(orgId: $o) {
              provider
            }
          }
        `),
        { o: acme.org.id },
        ws,
      );
      await server.waitForSubscribers(settingsTopic(acme.org.id), 1);
      await client.data(UPDATE, { orgId: acme.org.id });
      expect((await live.waitFor(1))[0].data).toEqual({ orgAiSettingsChanged: { provider: 'INTERVY_CREDITS' } });
      live.stop();
    } finally {
      await ws.dispose();
    }
  });

  it('prints each field’s requirement in the schema, from the same declaration that enforces it', async () => {
    const { printSchema } = await import('graphql');
    const { schema } = await import('../../src/app.ts');
    const sdl = printSchema(schema);
    expect(sdl).toMatch(/Saves the org’s AI provider[\s\S]*?Requires `org:manage`[\s\S]*?updateProvider\(/);
    expect(sdl).toMatch(/Requires `ai-settings:view`[\s\S]*?orgAiSettings\(/);
    expect(sdl).toMatch(/enum ErrorCode \{[\s\S]*PLAN_UPGRADE_REQUIRED[\s\S]*NO_API_KEY/);
  });
});
