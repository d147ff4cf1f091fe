// Helpers for tests of resumable answers: the server's own detach/attach events, and what a client reassembles.
import { expect } from 'vitest';
import type { IvyEvent } from './ivy.ts';
import type { TestServer } from './server.ts';

type Answered = { completionId: string; requestId: string };

/** Resolves when the server says answer `requestId` lost its last listener (or gained one): register before acting. */
export function whenAnswer(server: TestServer, what: 'detached' | 'attached', requestId: string): Promise<number> {
  const { events } = server.app.services;
  const name = what === 'detached' ? 'answer-detached' : 'answer-attached';
  return new Promise((resolve) => {
    const on = (e: Answered) => {
      if (e.requestId !== requestId) return;
      events.off(name, on);
      resolve(performance.now());
    };
    events.on(name, on);
  });
}

export const textOf = (events: IvyEvent[]) =>
  events.map((e) => (e.__typename === 'IvyTextDelta' ? e.text : '')).join('');

/** The text the stand-ins produce for `[[deltas:n]]`. */
export const deltasText = (n: number) => Array.from({ length: n }, (_, i) => `t${i + 1} `).join('');

/** The index of the last event received (0 when none). */
export const lastIndex = (events: IvyEvent[]) => events.at(-1)?.index ?? 0;

/** Events seen before a cut plus those after a resume: numbered 1, 2, 3… with no gap and no duplicate. */
export function expectWhole(before: IvyEvent[], after: IvyEvent[]): IvyEvent[] {
  const all = [...before, ...after];
  expect(all.map((e) => e.index)).toEqual(all.map((_, i) => i + 1));
  expect(all[0].__typename).toBe('IvyCompletionStarted');
  expect(all.filter((e) => /Finished|Failed/.test(e.__typename))).toHaveLength(1);
  return all;
}
