// One structured logger (pino): JSON lines in production, readable lines in development. Secrets are removed twice:
// by path (pino's redact: keys, tokens, prompt text) and by shape (lib/scrub.ts on every finished line).
import { createRequire } from 'node:module';
import { pino, stdTimeFunctions, type DestinationStream } from 'pino';
import { scrubSecrets } from './scrub.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFormat = 'json' | 'pretty';

/** Fields never logged, wherever they appear up to two levels down (variables.input.apiKey, headers.authorization…). */
const SECRET_FIELDS = [
  'apiKey',
  'key',
  'token',
  'authorization',
  'password',
  'jwtSecret',
  'keyEncryptionKeys',
  'legacyByokKey',
  'secret',
];
const PROMPT_FIELDS = ['content', 'system', 'messages', 'prompt', 'text'];
export const REDACT_PATHS = [...SECRET_FIELDS, ...PROMPT_FIELDS].flatMap((f) => [
  f,
  `*.${f}`,
  `*.*.${f}`,
  `*.*.*.${f}`,
]);

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger whose lines all carry these fields (a request id, say). */
  child(fields: Record<string, unknown>): Logger;
}

/** Receives each finished JSON line (tests capture them). */
export type LogSink = (line: string) => void;

function prettyStream(write: (s: string) => void): DestinationStream | null {
  try {
    // A dev dependency: absent from a production install, where the format is json anyway.
    const { prettyFactory } = createRequire(import.meta.url)('pino-pretty') as {
      prettyFactory(o: object): (line: string) => string;
    };
    const format = prettyFactory({
      colorize: process.stderr.isTTY,
      ignore: 'pid,hostname',
      translateTime: 'SYS:HH:MM:ss.l',
    });
    return { write: (line: string) => write(format(line)) };
  } catch {
    return null;
  }
}

const wrap = (p: pino.Logger): Logger => {
  const at = (lvl: 'debug' | 'info' | 'warn' | 'error') => (msg: string, fields?: Record<string, unknown>) =>
    fields ? p[lvl](fields, msg) : p[lvl](msg);
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => wrap(p.child(fields)),
  };
};

export function createLogger(level: LogLevel, sink?: LogSink, format: LogFormat = 'json'): Logger {
  const write = sink ? (line: string) => sink(line.replace(/\n$/, '')) : (line: string) => process.stderr.write(line);
  const scrubbed = (s: string) => write(scrubSecrets(s));
  const destination = (format === 'pretty' && !sink && prettyStream(scrubbed)) || { write: scrubbed };
  return wrap(
    pino(
      {
        level,
        base: undefined,
        timestamp: stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
        redact: { paths: REDACT_PATHS, censor: '[redacted]' },
        serializers: {
          error: (e: unknown) =>
            e instanceof Error
              ? { name: e.name, message: scrubSecrets(e.message), code: (e as { code?: unknown }).code }
              : e,
        },
      },
      destination,
    ),
  );
}
