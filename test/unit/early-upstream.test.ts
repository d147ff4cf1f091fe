// What an instance expects of a credits hold before it is placed (domain/early-upstream.ts): a balance seen here
// recently that covers this hold and every hold being placed, a requestId not seen before, a member with no cap.
import { describe, expect, it } from 'vitest';
import { EarlyStarts } from '../../src/domain/early-upstream.ts';

function book() {
  const clock = { ms: 0 };
  return { clock, starts: new EarlyStarts(() => clock.ms) };
}

describe('EarlyStarts', () => {
  it('expects nothing of an org whose balance it has not seen', () => {
    const { starts } = book();
    expect(starts.expect('org', 'r1', 1, true)).toBe(false);
    starts.balance('org', 100);
    expect(starts.expect('org', 'r2', 1, true)).toBe(true);
  });

  it('counts the holds being placed against the balance until each is placed', () => {
    const { starts } = book();
    starts.balance('org', 100);
    expect(starts.expect('org', 'r1', 60, true)).toBe(true);
    // 100 known, 60 being placed: a second 60 is not covered, a 40 is.
    expect(starts.expect('org', 'r2', 60, true)).toBe(false);
    expect(starts.expect('org', 'r3', 40, true)).toBe(true);
    expect(starts.expect('org', 'r4', 1, true)).toBe(false);
    starts.placed('org', 60);
    starts.placed('org', 40);
    expect(starts.expect('org', 'r5', 100, true)).toBe(true);
  });

  it('expects nothing of a requestId it has seen in the org, in either mode', () => {
    const { starts } = book();
    starts.balance('org', 100);
    starts.remember('org', 'byok-1');
    expect(starts.expect('org', 'byok-1', 1, true)).toBe(false);
    expect(starts.expect('org', 'r1', 1, false)).toBe(false); // not eligible, but remembered
    expect(starts.expect('org', 'r1', 1, true)).toBe(false);
    // The same requestId in another org is another request.
    starts.balance('other', 100);
    expect(starts.expect('other', 'r1', 1, true)).toBe(true);
  });

  it('forgets a balance older than a minute, and one a refusal contradicted', () => {
    const { clock, starts } = book();
    starts.balance('org', 100);
    clock.ms = 60_001;
    expect(starts.expect('org', 'r1', 1, true)).toBe(false);
    starts.balance('org', 100);
    expect(starts.expect('org', 'r2', 1, true)).toBe(true);
    starts.placed('org', 1);
    starts.refused('org');
    expect(starts.expect('org', 'r3', 1, true)).toBe(false);
  });

  it('answers no when the completion is not eligible (a cap applies, or the switch is off)', () => {
    const { starts } = book();
    starts.balance('org', 100);
    expect(starts.expect('org', 'r1', 1, false)).toBe(false);
    // Nothing was counted as being placed for it.
    expect(starts.expect('org', 'r2', 100, true)).toBe(true);
  });
});
