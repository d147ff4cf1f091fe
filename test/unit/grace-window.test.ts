import { describe, expect, it } from 'vitest';
import {
  GRACE_WINDOW_DAYS,
  graceWindowNeedsSweep,
  graceWindowOpen,
  graceWindowView,
  openGraceWindow,
  planChangeClearsGraceWindow,
  providerChangeEndsGraceWindow,
} from '../../src/domain/grace-window.ts';
import { SWEEPS } from '../../src/jobs.ts';
import { DAY_MS } from '../../src/lib/clock.ts';

const NOW = new Date('2026-11-26T12:00:00.000Z');
const ended = new Date(NOW.getTime() - 1);
const open = new Date(NOW.getTime() + 1);

describe('which orgs the grace-window sweep switches back', () => {
  it('switches a FREE org whose saved BYOK provider only an ended window allowed', () => {
    expect(graceWindowNeedsSweep({ plan: 'FREE', aiProvider: 'ANTHROPIC', graceWindowEndsAt: ended }, NOW)).toBe(true);
    expect(graceWindowNeedsSweep({ plan: 'FREE', aiProvider: 'OPENAI', graceWindowEndsAt: NOW }, NOW)).toBe(true);
  });

  it('leaves an open window, a BYOK plan, credits and an org that never had a window alone', () => {
    expect(graceWindowNeedsSweep({ plan: 'FREE', aiProvider: 'ANTHROPIC', graceWindowEndsAt: open }, NOW)).toBe(false);
    expect(graceWindowNeedsSweep({ plan: 'GROWTH', aiProvider: 'ANTHROPIC', graceWindowEndsAt: ended }, NOW)).toBe(
      false,
    );
    expect(graceWindowNeedsSweep({ plan: 'FREE', aiProvider: 'INTERVY_CREDITS', graceWindowEndsAt: ended }, NOW)).toBe(
      false,
    );
    expect(graceWindowNeedsSweep({ plan: 'FREE', aiProvider: 'OPENAI', graceWindowEndsAt: null }, NOW)).toBe(false);
  });

  it('registers itself once with the background jobs', () => {
    expect(SWEEPS.filter((s) => s.name === 'grace-windows')).toHaveLength(1);
  });
});

describe('the grace window, from opening to its end', () => {
  it('opens for 30 days from the legacy move below Growth, and not at all on a BYOK plan', () => {
    expect(GRACE_WINDOW_DAYS).toBe(30);
    expect(openGraceWindow('FREE', NOW)).toEqual(new Date(NOW.getTime() + 30 * DAY_MS));
    expect(openGraceWindow('GROWTH', NOW)).toBeNull();
    expect(openGraceWindow('ENTERPRISE', NOW)).toBeNull();
  });

  it('is active up to, not including, its end', () => {
    expect(graceWindowOpen({ graceWindowEndsAt: open }, NOW)).toBe(true);
    expect(graceWindowOpen({ graceWindowEndsAt: NOW }, NOW)).toBe(false);
    expect(graceWindowOpen({ graceWindowEndsAt: null }, NOW)).toBe(false);
  });

  it('shows whole days left rounded up, 0 once ended, and no banner without a window', () => {
    const in10Days = new Date(NOW.getTime() + 10 * DAY_MS);
    expect(graceWindowView({ graceWindowEndsAt: in10Days }, NOW)).toEqual({
      endsAt: in10Days,
      active: true,
      daysRemaining: 10,
    });
    expect(graceWindowView({ graceWindowEndsAt: open }, NOW)).toMatchObject({ active: true, daysRemaining: 1 });
    expect(graceWindowView({ graceWindowEndsAt: ended }, NOW)).toEqual({
      endsAt: ended,
      active: false,
      daysRemaining: 0,
    });
    expect(graceWindowView({ graceWindowEndsAt: null }, NOW)).toBeNull();
  });

  it('ends when an admin switches back to Intervy Credits, and only then', () => {
    expect(providerChangeEndsGraceWindow({ graceWindowEndsAt: open }, 'INTERVY_CREDITS')).toBe(true);
    expect(providerChangeEndsGraceWindow({ graceWindowEndsAt: ended }, 'INTERVY_CREDITS')).toBe(true);
    expect(providerChangeEndsGraceWindow({ graceWindowEndsAt: open }, 'ANTHROPIC')).toBe(false);
    expect(providerChangeEndsGraceWindow({ graceWindowEndsAt: null }, 'INTERVY_CREDITS')).toBe(false);
  });

  it('is cleared by an upgrade to Growth or Enterprise, not by a change to Free', () => {
    expect(planChangeClearsGraceWindow({ graceWindowEndsAt: open }, 'GROWTH')).toBe(true);
    expect(planChangeClearsGraceWindow({ graceWindowEndsAt: ended }, 'ENTERPRISE')).toBe(true);
    expect(planChangeClearsGraceWindow({ graceWindowEndsAt: open }, 'FREE')).toBe(false);
    expect(planChangeClearsGraceWindow({ graceWindowEndsAt: null }, 'GROWTH')).toBe(false);
  });
});
