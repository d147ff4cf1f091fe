// Tokens: exp, iat and the audience are required, lifetimes are bounded, the secret must be strong, expired and
// invalid tokens are told apart, and `npm run token -- revoke` ends every older token on HTTP and on open sockets.
import { randomBytes } from 'node:crypto';
import { SignJWT, decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUserToken } from '../../src/lib/tokens.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import type { SeededOrg } from '../../dev/seed.ts';
import { runCommand } from '../support/operator-command.ts';
import { openRawSocket } from '../support/raw-ws.ts';
import { main as tokenCommand } from '../../src/commands/token.ts';
import { cacheKeys } from '../../src/domain/read-caches.ts';
import { graphql } from '../../src/generated/graphql/index.ts';
import { print } from 'graphql';

const SECRET = randomBytes(32).toString('base64url');
const VIEWER = graphql(`
  query AbuseTokensViewer {
    viewer {
      user {
        id
      }
    }
  }
`);
const SAVE_PROVIDER = graphql(`
  mutation AbuseTokensSaveProvider($o: ID!) {
    updateProvider(input: { orgId: $o, provider: INTERVY_CREDITS }) {
      provider
    }
  }
`);

let server: TestServer;
let acme: SeededOrg;

beforeAll(async () => {
  server = await startTestServer({ jwtSecret: SECRET, env: { WS_TOKEN_RECHECK_MS: '100' } });
  acme = await server.seed.org({ plan: 'GROWTH' });
});
afterAll(() => server?.stop());

const now = () => Math.floor(Date.now() / 1000);
const claims = (sub: string) =>
  new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuer('intervy-ivy');
const refusal = async (token: string) => (await server.client(token).request(VIEWER)).errors?.[0];

describe('bearer tokens', () => {
  it('refuses a token without exp, without iat or without our audience as invalid', async () => {
    const secret = server.app.jwtSecret;
    const noExp = await claims(acme.admin.id).setAudience('ivy-api').setIssuedAt().sign(secret);
    const noIat = await claims(acme.admin.id).setAudience('ivy-api').setExpirationTime('1h').sign(secret);
    const noAud = await claims(acme.admin.id).setIssuedAt().setExpirationTime('1h').sign(secret);
    const otherAud = await claims(acme.admin.id)
      .setAudience('another-api')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(secret);
    for (const token of [noExp, noIat, noAud, otherAud]) {
      expect(await refusal(token)).toMatchObject({
        message: expect.stringMatching(/invalid/),
        extensions: { code: 'UNAUTHENTICATED' },
      });
    }
  });

  it('refuses a token valid for 100 years, even a fresh one', async () => {
    const forever = await claims(acme.admin.id)
      .setAudience('ivy-api')
      .setIssuedAt()
      .setExpirationTime('100y')
      .sign(server.app.jwtSecret);
    expect(await refusal(forever)).toMatchObject({
      message: expect.stringMatching(/longer than this server allows/),
      extensions: { code: 'UNAUTHENTICATED' },
    });
  });

  it('tells an expired token from an invalid one', async () => {
    const expired = await signUserToken(server.app.jwtSecret, acme.admin.id, 60, now() - 3600);
    const forged = await signUserToken(new TextEncoder().encode('x'.repeat(32)), acme.admin.id);
    const [e, f] = [await refusal(expired), await refusal(forged)];
    expect(e).toMatchObject({ message: expect.stringMatching(/expired/), extensions: { code: 'UNAUTHENTICATED' } });
    expect(f).toMatchObject({ message: expect.stringMatching(/invalid/), extensions: { code: 'UNAUTHENTICATED' } });
    expect(e!.message).not.toBe(f!.message);
  });

  it('refuses to start with a secret shorter than 32 bytes', async () => {
    await expect(startTestServer({ jwtSecret: 'x'.repeat(31) })).rejects.toThrow(/AUTH_JWT_SECRET must be at least 32/);
  });
});

describe('npm run token', () => {
  const cmdEnv = () => ({
    DATABASE_URL: server.config.databaseUrl,
    AUTH_JWT_SECRET: SECRET,
    KEY_ENCRYPTION_KEYS: server.config.keyEncryptionKeys,
  });

  it('prints a 12-hour token for our audience by default, a shorter one with --ttl, and refuses a longer one', async () => {
    const [plain, short, long] = await Promise.all([
      runCommand(tokenCommand, [acme.staffing.email], cmdEnv()),
      runCommand(tokenCommand, [acme.staffing.email, '--ttl', '2h'], cmdEnv()),
      runCommand(tokenCommand, [acme.staffing.email, '--ttl', '13h'], cmdEnv()),
    ]);
    const p = decodeJwt(plain.stdout.trim());
    expect(p).toMatchObject({ sub: acme.staffing.id, aud: 'ivy-api' });
    expect(p.exp! - p.iat!).toBe(12 * 3600);
    const s = decodeJwt(short.stdout.trim());
    expect(s.exp! - s.iat!).toBe(7200);
    expect(long).toMatchObject({ code: 2, stdout: '' });
    expect((await server.client(short.stdout.trim()).data(VIEWER)).viewer.user.id).toBe(acme.staffing.id);
  }, 60_000);

  it('revoke ends every older token of that user on HTTP and closes their open sockets with 4403, and nobody else’s', async () => {
    const victim = await server.seed.member(acme.org.id, 'INTERVIEWER');
    const socket = openRawSocket(server.url, { connectionParams: { authorization: `Bearer ${victim.token}` } });
    const bystander = openRawSocket(server.url, { connectionParams: { authorization: `Bearer ${acme.admin.token}` } });
    await Promise.all([socket.acked, bystander.acked]);
    expect((await server.client(victim.token).data(VIEWER)).viewer.user.id).toBe(victim.id);
    const { pubsub } = server.app.services;
    const listening = pubsub.subscribers(acme.org.id);
    const sse = server.client(victim.token).subscribeSse(
      graphql(`
        subscription AbuseTokensWatch($o: ID!) {
          orgAiSettingsChanged(orgId: $o) {
            provider
          }
        }
      `),
      { o: acme.org.id },
    );
    // Live once the server counts the subscription as listening; then one event gets through.
    await pubsub.whenSubscribed(acme.org.id, listening + 1);
    pubsub.publish('orgAiSettingsChanged', acme.org.id, { orgId: acme.org.id });
    await sse.waitFor(1);
    expect(sse.results[0].data).toBeTruthy();

    // The server keeps the user's revocation instant in memory: the command's write reaches it as a notification.
    const applied = server.app.services.caches.feed.whenApplied(cacheKeys.user(victim.id));
    const revoked = await runCommand(tokenCommand, ['revoke', victim.email], cmdEnv());
    await applied;
    expect(revoked).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Revoked every token issued to /) });

    expect(await refusal(victim.token)).toMatchObject({
      message: expect.stringMatching(/revoked/),
      extensions: { code: 'UNAUTHENTICATED' },
    });
    expect(await socket.closed).toMatchObject({ code: 4403 });
    // A server-sent-events stream opened with the old token ends at its next event.
    await server.client(acme.admin.token).data(SAVE_PROVIDER, { o: acme.org.id });
    expect((await sse.done).at(-1)?.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    // A token issued after the revocation works; the admin's socket and token were never touched.
    const fresh = await signUserToken(server.app.jwtSecret, victim.id, 3600, now() + 1);
    expect((await server.client(fresh).data(VIEWER)).viewer.user.id).toBe(victim.id);
    bystander.send({ id: '1', type: 'subscribe', payload: { query: print(VIEWER) } });
    expect(await bystander.message('1')).toMatchObject({
      payload: { data: { viewer: { user: { id: acme.admin.id } } } },
    });
    bystander.ws.close();
  }, 60_000);
});

describe('tokens at connection_init', () => {
  it('closes the socket with 4403 for a forged or an expired token', async () => {
    const forged = await signUserToken(new TextEncoder().encode('y'.repeat(32)), acme.admin.id);
    const expired = await signUserToken(server.app.jwtSecret, acme.admin.id, 60, now() - 3600);
    for (const token of [forged, expired, 'not.a.jwt']) {
      expect(
        await openRawSocket(server.url, { connectionParams: { authorization: `Bearer ${token}` } }).closed,
      ).toMatchObject({ code: 4403 });
    }
  });

  it('lets a socket without a token connect for public fields', async () => {
    const socket = openRawSocket(server.url);
    await socket.acked;
    socket.send({ id: 'p', type: 'subscribe', payload: { query: '{ __typename }' } });
    const answer = await socket.message('p');
    expect(answer.type === 'next' ? answer.payload : answer).toEqual({ data: { __typename: 'Query' } });
    socket.ws.close();
  });
});
