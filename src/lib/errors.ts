/**
 * The closed list of refusal codes, named for what the caller can do about it. Every refusal the API makes carries
 * one of these in `extensions.code`; the schema exposes them as `enum ErrorCode`.
 */
export const ERROR_CODES = {
  UNAUTHENTICATED: 'No valid bearer token was sent: sign in again.',
  FORBIDDEN: 'You are not a member of that org, or your role does not allow this.',
  BAD_USER_INPUT:
    'An argument or variable value is invalid (a bad cursor, id, date range or value of the wrong type): the message says which and why.',
  PLAN_UPGRADE_REQUIRED: 'The org plan does not include this: upgrade to Growth or above.',
  INVALID_API_KEY_FORMAT: 'The API key does not look like a key of that provider.',
  NO_API_KEY: 'You have no saved API key for the org provider: add one under Org Settings → AI.',
  INSUFFICIENT_CREDITS: 'The org credit balance cannot cover this request.',
  MEMBER_CAP_REACHED:
    'This request would take you past your monthly credit cap in this org; extensions.resetsAt says when it resets (the start of next month, UTC).',
  DUPLICATE_REQUEST: 'A completion with this requestId was already accepted; it is not run or billed again.',
  PROVIDER_AUTH_FAILED: 'The AI provider rejected the API key.',
  PROVIDER_RATE_LIMITED: 'The AI provider is rate limiting requests: try again shortly.',
  PROVIDER_UNAVAILABLE: 'The AI provider could not be reached or failed mid-answer.',
  RATE_LIMITED: 'Too many requests of this kind: wait extensions.retryAfter seconds, then try again.',
  CANCELLED: 'The request was cancelled by the client.',
  SERVER_SHUTTING_DOWN:
    'This server instance is restarting: retry the request (it reaches another instance); only what was streamed was charged.',
  ANSWER_INTERRUPTED:
    'The instance producing this answer stopped before it finished: ask again with a new requestId; its hold is released in full.',
  RESUME_EXPIRED:
    'This answer ended longer ago than its events are kept (RESUME_RETENTION_MS): ask again with a new requestId.',
  OPERATION_LIMIT_EXCEEDED:
    'The operation is too big or too costly (document size, tokens, depth, aliases, directives or cost): the message names the limit. Split it, or pass long text as variables.',
  GRAPHQL_PARSE_FAILED:
    'The operation is not valid GraphQL syntax (the message and `locations` say where): fix the document. Nothing ran.',
  GRAPHQL_VALIDATION_FAILED:
    'The operation does not fit the schema (an unknown field or argument, a wrong type, a missing variable definition): the message names it. Nothing ran.',
  BAD_REQUEST: 'The HTTP request is malformed (invalid JSON, no query, wrong method or content type): fix the client.',
  PAYLOAD_TOO_LARGE: 'The request body or WebSocket message is larger than the server accepts.',
  ORIGIN_NOT_ALLOWED: 'The browser origin of this request is not in the server’s ALLOWED_ORIGINS.',
  INTERNAL_SERVER_ERROR: 'Something unexpected went wrong on our side; nothing was charged for it.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The one FORBIDDEN message: the same whether the org does not exist, the viewer is not in it, or their role falls short. */
export const FORBIDDEN_MESSAGE = ERROR_CODES.FORBIDDEN;

/** A refusal with a stable code and a message a person can act on. Domain code throws these; GraphQL maps them. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra machine-readable fields for extensions (e.g. retryAfter), next to the code. */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const refuse = (code: ErrorCode, message: string): never => {
  throw new DomainError(code, message);
};

/** Refuses access (FORBIDDEN) with the one message, revealing nothing about the org. */
export const forbidden = (): never => refuse('FORBIDDEN', FORBIDDEN_MESSAGE);

/** A refusal from a rate or concurrency limit: RATE_LIMITED, with the seconds to wait in extensions.retryAfter. */
export class RateLimited extends DomainError {
  constructor(message: string, retryAfterSeconds: number) {
    super('RATE_LIMITED', message, { retryAfter: Math.max(1, Math.ceil(retryAfterSeconds)) });
    this.name = 'RateLimited';
  }
}
