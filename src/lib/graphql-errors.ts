// Turns whatever a resolver threw into what a client may see: refusals keep their code and sentence; anything
// unexpected is masked and logged without secrets.
import { GraphQLError } from 'graphql';
import { DomainError } from './errors.ts';
import type { Logger } from './logger.ts';

export function createMaskError(log: Logger) {
  return (error: unknown): Error => {
    const gqlError = error instanceof GraphQLError ? error : null;
    const original = gqlError?.originalError ?? error;
    const at = { path: gqlError?.path, nodes: gqlError?.nodes, source: gqlError?.source, positions: gqlError?.positions };
    // The request id (lib/operation-plugins.ts) survives masking, so a client can quote it.
    const requestId = gqlError?.extensions?.requestId;
    const tag = requestId === undefined ? {} : { requestId };
    if (original instanceof DomainError) {
      return new GraphQLError(original.message, { ...at, extensions: { ...original.extensions, code: original.code, ...tag } });
    }
    if (original instanceof GraphQLError) {
      // A GraphQL-level refusal (auth scope, variable coercion): keep it, and give it a code if it has none.
      if (original.extensions?.code) return original === gqlError ? original : new GraphQLError(original.message, { ...at, extensions: { ...original.extensions, ...tag } });
      return new GraphQLError(original.message, { ...at, extensions: { ...original.extensions, code: 'BAD_USER_INPUT', ...tag } });
    }
    log.error('unexpected error in a resolver', { error: original, path: gqlError?.path?.join('.'), ...tag });
    return new GraphQLError('Something unexpected went wrong on our side. Try again; if it keeps happening, contact support.', {
      ...at,
      extensions: { code: 'INTERNAL_SERVER_ERROR', ...tag },
    });
  };
}
