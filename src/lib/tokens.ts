// Bearer tokens: HS256, pinned issuer and audience, `exp` and `iat` required, a bounded lifetime, and revocation by
// user (users.tokens_valid_after, checked in src/context.ts).
import { SignJWT, errors, jwtVerify } from 'jose';

const ISSUER = 'intervy-ivy';
export const AUDIENCE = 'ivy-api';
/** HS256 with a shorter secret can be brute-forced offline from one token. */
export const MIN_SECRET_BYTES = 32;

export function assertStrongSecret(secret: Uint8Array, name = 'AUTH_JWT_SECRET'): void {
  if (secret.byteLength < MIN_SECRET_BYTES) {
    throw new Error(
      `${name} must be at least ${MIN_SECRET_BYTES} bytes (got ${secret.byteLength}); generate one with: openssl rand -base64 32`,
    );
  }
}

/** Signs a bearer token whose `sub` is the user id. Roles are never in the token: they come from the database. */
export async function signUserToken(
  secret: Uint8Array,
  userId: string,
  ttlSeconds = 12 * 3600,
  issuedAt = Math.floor(Date.now() / 1000),
): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + ttlSeconds)
    .sign(secret);
}

export type TokenCheck =
  | { ok: true; userId: string; issuedAt: number; expiresAt: number }
  | { ok: false; reason: 'expired' | 'invalid' | 'too-long-lived' };

/** Checks signature, issuer, audience, `exp`, `iat` and the lifetime; says why a token is refused. */
export async function verifyUserToken(secret: Uint8Array, token: string, maxTtlSeconds: number): Promise<TokenCheck> {
  try {
    const { payload } = await jwtVerify(token, secret, {
      algorithms: ['HS256'],
      issuer: ISSUER,
      audience: AUDIENCE,
      requiredClaims: ['exp', 'iat', 'sub'],
      maxTokenAge: maxTtlSeconds,
      // Tokens are signed on operator machines and checked on every instance: allow their clocks a little skew.
      clockTolerance: 5,
    });
    if (typeof payload.sub !== 'string' || !payload.sub) return { ok: false, reason: 'invalid' };
    if (payload.exp! - payload.iat! > maxTtlSeconds) return { ok: false, reason: 'too-long-lived' };
    return { ok: true, userId: payload.sub, issuedAt: payload.iat!, expiresAt: payload.exp! };
  } catch (err) {
    // maxTokenAge surfaces as an "iat" claim failure: the token is simply too old.
    if (err instanceof errors.JWTExpired) return { ok: false, reason: 'expired' };
    return { ok: false, reason: 'invalid' };
  }
}

/** Extracts the token from "Bearer <token>". */
export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : null;
}
