// A credits completion's upstream request sent while its hold is placed (issue 10). The hold is one round trip to
// PostgreSQL, and on the way to the first text it came before the upstream request, which waits longer still for its
// response headers: one after the other they added up. Side by side, the first text waits only for the longer.
//
// What the member sees does not change: no event is produced, nothing is read from the response and nothing is billed
// until the hold is placed. A hold refused (the balance, a duplicate requestId) aborts the request at once; only
// Intervy's own key ever paid for such a cut request, never a member's (BYOK never starts early).
//
// To keep cut requests rare, a completion starts early only when this instance has every reason to expect its hold:
// - the org's balance is known here (from this instance's own holds and settlements in the last minute) and covers
//   this hold on top of every hold this instance is placing for the org right now;
// - no monthly cap applies to the member (a cap's spend is the ledger's to count);
// - the requestId is not one this instance has seen in the org.
// A refusal forgets the org's balance: until a hold is placed again the normal way, nothing of the org starts early.
// What is left is a race with another instance (it spent the balance, or took the same requestId, a moment before):
// one cut request, after which this instance no longer knows the balance. EARLY_UPSTREAM_START=false turns it off.
import type { StreamPart } from '../providers/types.ts';
import type { Db } from '../lib/database.ts';

/** A started upstream request: the SDK's stream, its first part on the way, and the controller that aborts it. */
export interface EarlyUpstream {
  controller: AbortController;
  parts: AsyncIterator<StreamPart>;
  first: Promise<IteratorResult<StreamPart>>;
}

/** How long a balance seen here stays worth trusting; other instances may have moved it meanwhile. */
const BALANCE_KNOWN_MS = 60_000;
/** requestIds, and orgs' balances, remembered per instance (the oldest forgotten first). */
const REQUEST_IDS_KEPT = 50_000;
const BALANCES_KEPT = 10_000;

/** What this instance knows of each org's credits: enough to predict whether a hold will be placed. */
export class EarlyStarts {
  private readonly balances = new Map<string, { balance: number; at: number }>();
  private readonly placing = new Map<string, number>();
  private readonly seen = new Set<string>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /**
   * Whether a hold of `amount` is expected to succeed (counts it as being placed when so: call `placed` after).
   * `requestId` is remembered either way; `eligible` false (a cap applies, or the switch is off) answers no.
   */
  expect(orgId: string, requestId: string, amount: number, eligible: boolean): boolean {
    const repeat = this.remember(orgId, requestId);
    const known = this.balances.get(orgId);
    if (!eligible || repeat || !known || this.now() - known.at > BALANCE_KNOWN_MS) return false;
    const placing = this.placing.get(orgId) ?? 0;
    if (known.balance - placing < amount) return false;
    this.placing.set(orgId, placing + amount);
    return true;
  }

  /** The hold `expect` counted is placed (or refused): it no longer counts as being placed. */
  placed(orgId: string, amount: number): void {
    const left = (this.placing.get(orgId) ?? 0) - amount;
    if (left > 0) this.placing.set(orgId, left);
    else this.placing.delete(orgId);
  }

  /** The org's balance after a movement this instance made (a hold placed, a settlement). */
  balance(orgId: string, balance: number): void {
    this.balances.delete(orgId); // re-inserted: the Map's order is the eviction order
    this.balances.set(orgId, { balance, at: this.now() });
    if (this.balances.size > BALANCES_KEPT) this.balances.delete(this.balances.keys().next().value!);
  }

  /** A hold was refused: the balance known here was wrong (or the request a repeat). */
  refused(orgId: string): void {
    this.balances.delete(orgId);
  }

  /** Remembers a requestId accepted in the org (a BYOK one too); true when it was already known here. */
  remember(orgId: string, requestId: string): boolean {
    const key = `${orgId}\0${requestId}`;
    if (this.seen.has(key)) return true;
    this.seen.add(key);
    if (this.seen.size > REQUEST_IDS_KEPT) this.seen.delete(this.seen.values().next().value!);
    return false;
  }
}

const perDb = new WeakMap<Db, EarlyStarts>();

/** One per database client: each instance predicts from its own movements. */
export function earlyStartsFor(db: Db): EarlyStarts {
  let book = perDb.get(db);
  if (!book) perDb.set(db, (book = new EarlyStarts()));
  return book;
}

/** Sends the request now: the stream's first step is taken (the adapter's stream never throws, ending in a part). */
export function startUpstream(open: (signal: AbortSignal) => AsyncIterable<StreamPart>): EarlyUpstream {
  const controller = new AbortController();
  const parts = open(controller.signal)[Symbol.asyncIterator]();
  const first = parts.next();
  first.catch(() => {}); // read (or dropped) later; never an unhandled rejection meanwhile
  return { controller, parts, first };
}

/** Aborts a request whose hold was refused, and lets its stream end. */
export function discardUpstream(early: EarlyUpstream): void {
  early.controller.abort();
  void early.first.then(
    () => early.parts.return?.(),
    () => {},
  );
}

/** The parts of a started request, from its first one on; returning it returns the SDK's stream (which aborts it). */
export async function* partsOf(early: EarlyUpstream): AsyncGenerator<StreamPart> {
  try {
    for (let r = await early.first; !r.done; r = await early.parts.next()) yield r.value;
  } finally {
    await early.parts.return?.();
  }
}
