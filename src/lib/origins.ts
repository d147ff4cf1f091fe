// Which browser origins may call the API (CORS) and open WebSockets: the server's own origin, ALLOWED_ORIGINS, and on
// the embedded default http(s)://localhost and 127.0.0.1 on any port. Requests without an Origin (curl, servers,
// SDKs) are not browsers and pass. Tokens travel in headers, never cookies, so CORS never allows credentials.
import type { TransportConfig } from '../config.ts';

const LOCALHOST = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

export function createOriginCheck(transport: Pick<TransportConfig, 'allowedOrigins' | 'allowLocalhostOrigins'>) {
  const listed = new Set(transport.allowedOrigins);
  /** `host` is the request's Host header: a page served by this server may always call it. */
  return (origin: string | null | undefined, host: string | null | undefined): boolean => {
    if (!origin) return true;
    if (listed.has(origin)) return true;
    if (transport.allowLocalhostOrigins && LOCALHOST.test(origin)) return true;
    try {
      return host != null && new URL(origin).host === host;
    } catch {
      return false;
    }
  };
}
