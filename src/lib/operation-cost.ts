// What a field costs toward LIMIT_COST (@pothos/plugin-complexity), declared on each field: an upstream provider
// call is dear, a write is moderate, a list costs its page size times its items. Plain fields cost 1; lists without a
// page size count 10 items.

/** One upstream call (a key check, a completion stream): with LIMIT_COST 2500, at most two per operation. */
export const PROVIDER_CALL_COST = 1000;
/** A database write that also publishes a settings event. */
export const WRITE_COST = 50;

/** A connection costs its page size (`first`, else the default, never more than the maximum) times its items. */
export function pageCost(defaultSize: number, maxSize: number) {
  return (args: { first?: number | null; last?: number | null }) => ({
    field: 1,
    multiplier: Math.min(Math.max(args.first ?? args.last ?? defaultSize, 1), maxSize),
  });
}
