// Per-operation context: who is calling (from the bearer token) and a memoised membership lookup.
import type { Membership } from './generated/prisma/client.ts';
import { bearerToken, verifyUserToken } from './lib/tokens.ts';
import type { Services } from './domain/services.ts';

export interface Viewer {
  userId: string;
}

export interface Context {
  services: Services;
  viewer: Viewer | null;
  /** The viewer's membership in an org, or null (also for malformed ids and orgs that do not exist). */
  membership(orgId: string): Promise<Membership | null>;
  /** The same, read again: a subscription's context outlives role changes and removals. */
  refreshMembership(orgId: string): Promise<Membership | null>;
  /** Aborted when the client goes away (HTTP request closed, subscription stopped). */
  signal?: AbortSignal;
  /** The graphql-ws socket carrying this operation, if any (per-socket limits). */
  socket?: object;
  /** This operation's request id (X-Request-Id, or generated): in its log line and its errors' extensions. */
  requestId?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function createContext(
  services: Services,
  jwtSecret: Uint8Array,
  source: { authorization?: string | null; signal?: AbortSignal; socket?: object; requestId?: string },
): Promise<Context> {
  const token = bearerToken(source.authorization);
  const userId = token ? await verifyUserToken(jwtSecret, token) : null;
  const viewer = userId && UUID.test(userId) ? { userId } : null;
  const cache = new Map<string, Promise<Membership | null>>();
  const membership = (orgId: string): Promise<Membership | null> => {
    if (!viewer || !UUID.test(orgId)) return Promise.resolve(null);
    let found = cache.get(orgId);
    if (!found) {
      found = services.db.membership.findUnique({ where: { orgId_userId: { orgId, userId: viewer.userId } } });
      cache.set(orgId, found);
    }
    return found;
  };
  return {
    services,
    viewer,
    signal: source.signal,
    socket: source.socket,
    requestId: source.requestId,
    membership,
    refreshMembership(orgId) {
      cache.delete(orgId);
      return membership(orgId);
    },
  };
}
