// Per-operation context: who is calling (from the bearer token) and a memoised membership lookup.
import type { Membership } from './generated/prisma/client.ts';
import { bearerToken, verifyUserToken } from './lib/tokens.ts';
import type { Services } from './domain/services.ts';
import type { TokenClaims } from './domain/read-caches.ts';

export interface Viewer {
  userId: string;
}

/** Why a token that was sent does not sign anyone in; each gets its own UNAUTHENTICATED message. */
export type AuthFailure = 'expired' | 'invalid' | 'too-long-lived' | 'revoked' | 'unknown-user';

export const AUTH_FAILURE_MESSAGES: Record<AuthFailure | 'missing', string> = {
  missing: 'Sign in first: send a valid token as "Authorization: Bearer <token>".',
  expired: 'Your token has expired: get a new one and sign in again.',
  invalid: 'Your token is invalid (bad signature, issuer, audience or claims): get a new one.',
  'too-long-lived': 'Your token lives longer than this server allows: get a new one.',
  revoked: 'Your token was revoked: get a new one and sign in again.',
  'unknown-user': 'Your token names a user who does not exist: get a new one.',
};

export interface Context {
  services: Services;
  viewer: Viewer | null;
  /** Set when a token was sent but signs no one in. */
  authFailure: AuthFailure | null;
  /**
   * The viewer's membership in an org, or null (also for malformed ids and orgs that do not exist): as it is when
   * memory holds it, else a promise of it.
   */
  membership(orgId: string): Membership | null | Promise<Membership | null>;
  /**
   * The same, read again: a subscription's context outlives role changes, removals and token revocation. Read from
   * the row itself, since an event may overtake the removal's notification; `periodic` (a check on a timer, not
   * ordered against any event: an answer's re-check every MEMBERSHIP_RECHECK_MS) reads through the shared cache,
   * which the removal's notification clears within milliseconds, well inside the interval.
   */
  refreshMembership(orgId: string, opts?: { periodic?: boolean }): Promise<Membership | null>;
  /**
   * Whether the token still signs the viewer in (re-verified at most every WS_TOKEN_RECHECK_MS, not at each event),
   * for a long-lived stream that reads the viewer's membership some other way (orgAiSettingsChanged: once per event).
   */
  stillSignedIn(): Promise<boolean>;
  /** Aborted when the client goes away (HTTP request closed, subscription stopped). */
  signal?: AbortSignal;
  /** The graphql-ws socket carrying this operation, if any (per-socket limits). */
  socket?: object;
  /** This operation's request id (X-Request-Id, or generated): in its log line and its errors' extensions. */
  requestId?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type Authentication = { viewer: Viewer; failure: null } | { viewer: null; failure: AuthFailure | null };

/**
 * Who a bearer token signs in, checked against the database: the user must exist and the token must be newer than
 * their last revocation. No token at all is not a failure (public fields stay readable).
 */
export async function authenticate(
  services: Services,
  jwtSecret: Uint8Array,
  authorization: string | null | undefined,
): Promise<Authentication> {
  return authenticated(services, jwtSecret, authorization);
}

/**
 * authenticate's work, answered as it is when memory holds the token's claims and the user (every request after a
 * client's first), else as a promise: each promise layer costs a request a microtask and an allocation (issue 10).
 */
function authenticated(
  services: Services,
  jwtSecret: Uint8Array,
  authorization: string | null | undefined,
): Authentication | Promise<Authentication> {
  if (!authorization) return { viewer: null, failure: null };
  const token = bearerToken(authorization);
  if (!token) return { viewer: null, failure: 'invalid' };
  const claims = verifiedClaims(services, jwtSecret, token);
  return claims instanceof Promise ? claims.then((c) => signedIn(services, c)) : signedIn(services, claims);
}

function signedIn(
  services: Services,
  claims: Awaited<ReturnType<typeof verifiedClaims>>,
): Authentication | Promise<Authentication> {
  if ('reason' in claims) return { viewer: null, failure: claims.reason };
  if (!UUID.test(claims.userId)) return { viewer: null, failure: 'unknown-user' };
  const user = services.caches.user(claims.userId);
  return user instanceof Promise ? user.then((u) => notRevoked(claims, u)) : notRevoked(claims, user);
}

function notRevoked(claims: TokenClaims, user: { tokensValidAfter: Date | null } | null): Authentication {
  if (!user) return { viewer: null, failure: 'unknown-user' };
  // iat has second precision: a token from the same second as the revocation is refused too.
  if (user.tokensValidAfter && claims.issuedAt <= Math.floor(user.tokensValidAfter.getTime() / 1000))
    return { viewer: null, failure: 'revoked' };
  return { viewer: { userId: claims.userId }, failure: null };
}

/**
 * A token's verified claims: the HS256 check once per token, then from memory until the token expires or outlives
 * the allowed lifetime (a token already verified stays the same token; only its revocation can change, and that is
 * the user's tokensValidAfter, read above).
 */
export function verifiedClaims(
  services: Pick<Services, 'caches' | 'config'>,
  jwtSecret: Uint8Array,
  token: string,
  nowMs = Date.now(),
): ClaimsCheck | Promise<ClaimsCheck> {
  const nowSeconds = nowMs / 1000;
  const known = services.caches.tokens.get(token);
  if (known && nowSeconds < known.expiresAt && nowSeconds - known.issuedAt <= services.config.tokenMaxTtlSeconds)
    return known;
  return verifiedNow(services, jwtSecret, token);
}

type ClaimsCheck = TokenClaims | { reason: Exclude<AuthFailure, 'revoked' | 'unknown-user'> };

async function verifiedNow(
  services: Pick<Services, 'caches' | 'config'>,
  jwtSecret: Uint8Array,
  token: string,
): Promise<ClaimsCheck> {
  const check = await verifyUserToken(jwtSecret, token, services.config.tokenMaxTtlSeconds);
  if (!check.ok) return { reason: check.reason };
  const claims = { userId: check.userId, issuedAt: check.issuedAt, expiresAt: check.expiresAt };
  services.caches.tokens.set(token, claims);
  return claims;
}

interface TokenCheck {
  checkedAt: number;
  result: Promise<boolean>;
}
const socketChecks = new WeakMap<object, Map<string, TokenCheck>>();

/** The last re-check of a token: shared by every operation on one socket, else this operation's own. */
function tokenCheckOf(socket: object | undefined, authorization: string | null | undefined): TokenCheck {
  const fresh = (): TokenCheck => ({ checkedAt: Date.now(), result: Promise.resolve(true) });
  if (!socket) return fresh();
  let bySocket = socketChecks.get(socket);
  if (!bySocket) socketChecks.set(socket, (bySocket = new Map()));
  let check = bySocket.get(authorization ?? '');
  if (!check) bySocket.set(authorization ?? '', (check = fresh()));
  return check;
}

export async function createContext(
  services: Services,
  jwtSecret: Uint8Array,
  source: { authorization?: string | null; signal?: AbortSignal; socket?: object; requestId?: string },
): Promise<Context> {
  const { viewer, failure } = await authenticated(services, jwtSecret, source.authorization);
  // Memoised per operation too: a field's scope and its resolvers ask again; the shared cache answers the rest.
  const cache = new Map<string, Membership | null | Promise<Membership | null>>();
  const membership = (orgId: string, fresh = false): Membership | null | Promise<Membership | null> => {
    if (!viewer || !UUID.test(orgId)) return null;
    let found = cache.get(orgId);
    if (found === undefined || fresh) {
      // A subscription's per-event re-check reads the row itself: its event may overtake the removal's notification.
      found = fresh
        ? Promise.resolve(
            services.db.membership.findUnique({ where: { orgId_userId: { orgId, userId: viewer.userId } } }),
          )
        : services.caches.membership(orgId, viewer.userId);
      cache.set(orgId, found);
    }
    return found;
  };
  // A long-lived stream (SSE or a socket) must end once its token is revoked, like the next request would; checked
  // at most every WS_TOKEN_RECHECK_MS, not at each event, and once per socket, not once per subscription: every
  // subscription on a graphql-ws connection carries the connection's token (10,000 settings subscribers on 100
  // sockets re-verified 10,000 times per event at the interval, issue 10).
  const check = viewer ? tokenCheckOf(source.socket, source.authorization) : null;
  const stillSignedIn = async (): Promise<boolean> => {
    if (!check) return false;
    if (Date.now() - check.checkedAt >= services.config.transport.wsTokenRecheckMs) {
      check.checkedAt = Date.now();
      check.result = authenticate(services, jwtSecret, source.authorization).then((a) => a.failure === null);
    }
    return check.result;
  };
  return {
    services,
    viewer,
    authFailure: failure,
    signal: source.signal,
    socket: source.socket,
    requestId: source.requestId,
    membership,
    async refreshMembership(orgId, opts) {
      cache.delete(orgId);
      if (!(await stillSignedIn())) return null;
      return membership(orgId, !opts?.periodic);
    },
    stillSignedIn,
  };
}
