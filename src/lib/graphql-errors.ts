// Turns whatever a resolver or the transport threw into what a client may see: refusals keep (or get) a code of
// enum ErrorCode and a sentence; anything unexpected is masked and logged without secrets. Nothing a client sent
// (the body, the document) is echoed back or logged.
import { PothosValidationError } from '@pothos/core';
import { GraphQLError } from 'graphql';
import { DomainError, ERROR_CODES, type ErrorCode } from './errors.ts';
import type { Logger } from './logger.ts';

/**
 * Yoga's and graphql-js's own codes that are not ours, mapped onto ours (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED
 * and BAD_REQUEST are ours as they are). This server has no persisted-query store, so none of those codes can occur.
 */
const TRANSPORT_CODES: Record<string, ErrorCode> = {
  REQUEST_ENTITY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  OPERATION_RESOLUTION_FAILURE: 'BAD_REQUEST',
};

/** A page cursor this API did not hand out (schema/cursors.ts, and Pothos's own decoding failures). */
export const FOREIGN_CURSOR =
  'The cursor is not one this API returned: pass pageInfo.endCursor (after) or pageInfo.startCursor (before) from a previous page.';
// Pothos's words for a cursor it cannot decode quote the cursor back, and nothing a client sent is echoed.
const POTHOS_CURSOR_REFUSAL = /^(Invalid cursor|Cursor must be a string)/;

/**
 * The code of enum ErrorCode for an error's extensions: its own when it is one of ours, mapped when it is Yoga's,
 * else from its HTTP status, else `fallback` (a GraphQL error without a code: variable coercion, an auth scope).
 */
export function ourCode(
  extensions: Record<string, unknown> | undefined,
  fallback: ErrorCode = 'BAD_USER_INPUT',
): ErrorCode {
  const code = typeof extensions?.code === 'string' ? extensions.code : undefined;
  if (code && code in ERROR_CODES) return code as ErrorCode;
  if (code && TRANSPORT_CODES[code]) return TRANSPORT_CODES[code];
  const status = (extensions?.http as { status?: number } | undefined)?.status;
  return status && status >= 400 && status < 500 && status !== 400 ? 'BAD_REQUEST' : fallback;
}

/** Keeps only what is ours to say: the code, the limit facts, and the HTTP status/headers Yoga uses for the response. */
function safeExtensions(extensions: Record<string, unknown> | undefined, code: ErrorCode) {
  const { originalError: _dropped, code: _old, ...rest } = extensions ?? {};
  return { ...rest, code };
}

/** The code a client will see for an error, before or after masking: ours, mapped, or INTERNAL_SERVER_ERROR. */
export function codeOf(error: unknown): ErrorCode {
  const original = (error instanceof GraphQLError ? error.originalError : undefined) ?? error;
  if (original instanceof DomainError) return original.code;
  if (original instanceof PothosValidationError) return 'BAD_USER_INPUT';
  if (original instanceof GraphQLError) return ourCode(original.extensions);
  return 'INTERNAL_SERVER_ERROR';
}

export function createMaskError(log: Logger) {
  return (error: unknown): Error => {
    const gqlError = error instanceof GraphQLError ? error : null;
    const original = gqlError?.originalError ?? error;
    const at = {
      path: gqlError?.path,
      nodes: gqlError?.nodes,
      source: gqlError?.source,
      positions: gqlError?.positions,
    };
    // The request id (lib/operation-plugins.ts) survives masking, so a client can quote it.
    const requestId = gqlError?.extensions?.requestId;
    const tag = requestId === undefined ? {} : { requestId };
    const refused = (message: string, code: ErrorCode, extensions?: Record<string, unknown>) => {
      // Client mistakes are expected traffic: info, with the code and where, never the document or variables.
      log.info('request refused', { code, path: gqlError?.path?.join('.'), ...tag });
      return new GraphQLError(message, { ...at, extensions: { ...safeExtensions(extensions, code), ...tag } });
    };
    // A domain refusal may carry facts of its own (RATE_LIMITED's retryAfter).
    if (original instanceof DomainError) return refused(original.message, original.code, original.extensions);
    if (original instanceof PothosValidationError) {
      const cursor = POTHOS_CURSOR_REFUSAL.test(original.message);
      return refused(cursor ? FOREIGN_CURSOR : original.message, 'BAD_USER_INPUT');
    }
    if (original instanceof GraphQLError) {
      // A GraphQL-level refusal (auth scope, variable coercion, parse, validation, HTTP): keep it with one of our codes.
      return refused(original.message, ourCode(original.extensions), original.extensions);
    }
    log.error('unexpected error in a resolver', { error: original, path: gqlError?.path?.join('.'), ...tag });
    return new GraphQLError(
      'Something unexpected went wrong on our side. Try again; if it keeps happening, contact support.',
      {
        ...at,
        extensions: { code: 'INTERNAL_SERVER_ERROR', ...tag },
      },
    );
  };
}
