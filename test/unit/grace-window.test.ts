import { describe, expect, it } from 'vitest';
import { graceWindowNeedsSweep } from '../../src/domain/grace-window.ts';
import { SWEEPS } from '../../src/jobs.ts';

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
