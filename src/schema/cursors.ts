// A prismaConnection cursor is opaque to clients (base64 of the row id, encoded by Pothos). Pothos refuses one it
// cannot decode (PothosValidationError, masked as BAD_USER_INPUT in our words); these refuse the rest before the query
// runs: one that decodes to something other than a uuid (it would fail in PostgreSQL as our error), and one that names
// no row of this very list (another list's cursor, another org's, a tampered one, or one outside the date range),
// which Prisma would answer with an empty page as if the list had ended.
import { refuse } from '../lib/errors.ts';
import { FOREIGN_CURSOR } from '../lib/graphql-errors.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Refuses a cursor this API did not hand out; returns the query unchanged otherwise. */
export function ownIdCursor<Q extends object>(query: Q): Q {
  const id = (query as { cursor?: { id?: unknown } }).cursor?.id;
  if (id !== undefined && !(typeof id === 'string' && UUID.test(id))) refuse('BAD_USER_INPUT', FOREIGN_CURSOR);
  return query;
}

/** As ownIdCursor, and refuses a cursor whose row `inList` does not find in the list being paged. */
export async function listCursor<Q extends object>(query: Q, inList: (id: string) => Promise<unknown>): Promise<Q> {
  const id = (ownIdCursor(query) as { cursor?: { id?: string } }).cursor?.id;
  if (id !== undefined && !(await inList(id))) refuse('BAD_USER_INPUT', FOREIGN_CURSOR);
  return query;
}
