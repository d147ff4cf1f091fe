import { SignJWT, jwtVerify } from 'jose';

const ISSUER = 'intervy-ivy';

/** Signs a bearer token whose `sub` is the user id. Roles are never in the token: they come from the database. */
export async function signUserToken(secret: Uint8Array, userId: string, ttl = '30d'): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuer(ISSUER)
    .setIssuedAt()
    .setExpirationTime(ttl)
    .sign(secret);
}

/** The user id in a valid token, or null for a missing, malformed, expired or forged one. */
export async function verifyUserToken(secret: Uint8Array, token: string): Promise<string | null> {
  try {
    const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256'], issuer: ISSUER });
    return typeof payload.sub === 'string' && payload.sub ? payload.sub : null;
  } catch {
    return null;
  }
}

/** Extracts the token from "Bearer <token>". */
export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : null;
}
