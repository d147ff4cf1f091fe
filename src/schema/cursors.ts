// A prismaConnection cursor decodes to a row id. Pothos refuses one it cannot decode (PothosValidationError, masked as
// BAD_USER_INPUT, in our words); one that decodes to something other than a uuid would reach PostgreSQL and fail there as our error.
import { refuse } from '../lib/errors.ts';
import { FOREIGN_CURSOR } from '../lib/graphql-errors.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Refuses a cursor this API did not hand out; returns the query unchanged otherwise. */
export function ownIdCursor<Q extends object>(query: Q): Q {
  const id = (query as { cursor?: { id?: unknown } }).cursor?.id;
  if (id !== undefined && !(typeof id === 'string' && UUID.test(id))) refuse('BAD_USER_INPUT', FOREIGN_CURSOR);
  return query;
}
