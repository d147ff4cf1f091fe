// A concurrency slot is freed however a completion ends: it finishes, the provider fails, it is refused after the
// slot was taken, or its socket drops. With one slot per member, each next completion starting proves it.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestServer } from '../support/server.ts';
import { startServerWithVendors, type ServerWithVendors } from '../support/server-with-vendors.ts';
import type { SeededOrg } from '../../dev/seed.ts';
import { IVY } from '../../dev/documents.ts';

let env: ServerWithVendors;
let server: TestServer;
let o: SeededOrg;

beforeAll(async () => {
  // No resume window: a client that leaves cancels its answer at once, so the slot frees on leaving, not at the
  // provider's stall timer (with a window, a detached answer rightly keeps its slot until it settles).
  env = await startServerWithVendors({
    env: { MAX_COMPLETIONS_PER_MEMBER: '1', MAX_COMPLETIONS_PER_ORG: '2', RESUME_WINDOW_MS: '0' },
  });
  server = env.server;
  o = await server.seed.org({ plan: 'GROWTH', credits: 100_000 });
});
afterAll(() => env?.stop());

const ask = (content: string, orgId = o.org.id) =>
  server.client(o.interviewer.token).subscribeWs(IVY, { input: { orgId, messages: [{ role: 'USER', content }] } });
const last = async (content: string) => (await ask(content).done).at(-1)!;

it('frees the slot when a completion finishes, so the next one starts', async () => {
  expect((await last('first')).data?.ivyCompletion.__typename).toBe('IvyCompletionFinished');
  expect((await last('second')).data?.ivyCompletion.__typename).toBe('IvyCompletionFinished');
});

it('frees the slot when the provider fails mid-answer', async () => {
  expect((await last('[[500]] fails')).data?.ivyCompletion).toMatchObject({
    __typename: 'IvyCompletionFailed',
    code: 'PROVIDER_UNAVAILABLE',
  });
  expect((await last('[[deltas:2]] [[drop]] cut off')).data?.ivyCompletion.__typename).toBe('IvyCompletionFailed');
  expect((await last('after the failures')).data?.ivyCompletion.__typename).toBe('IvyCompletionFinished');
});

it('frees the slot when the completion is refused after taking it (INSUFFICIENT_CREDITS)', async () => {
  const poor = await server.seed.org({ plan: 'GROWTH', credits: 0 });
  const refused = await server
    .client(poor.interviewer.token)
    .subscribeWs(IVY, { input: { orgId: poor.org.id, messages: [{ role: 'USER', content: 'hi' }] } }).done;
  expect(refused[0].errors?.[0].extensions?.code).toBe('INSUFFICIENT_CREDITS');
  const again = await server
    .client(poor.interviewer.token)
    .subscribeWs(IVY, { input: { orgId: poor.org.id, messages: [{ role: 'USER', content: 'hi' }] } }).done;
  expect(again[0].errors?.[0].extensions?.code).toBe('INSUFFICIENT_CREDITS'); // not RATE_LIMITED: the slot came back
});

it('holds the slot while a stream runs, refusing a second with RATE_LIMITED, and frees it when the socket drops', async () => {
  const running = ask('[[hang]] long answer');
  await running.waitFor(1);
  const second = await ask('meanwhile').done;
  expect(second[0].errors?.[0]).toMatchObject({ extensions: { code: 'RATE_LIMITED', retryAfter: 5 } });

  const limits = server.app.services.limits;
  const freed = limits.whenReleased(
    'completions-member',
    o.interviewer.id,
    limits.released('completions-member', o.interviewer.id) + 1,
  );
  running.stop(); // disposes the socket
  await freed;
  expect((await last('after the drop')).data?.ivyCompletion.__typename).toBe('IvyCompletionFinished');
});

it('frees the slot when the client unsubscribes over SSE', async () => {
  const running = server
    .client(o.interviewer.token)
    .subscribeSse(IVY, { input: { orgId: o.org.id, messages: [{ role: 'USER', content: '[[hang]] over SSE' }] } });
  await running.waitFor(1);
  const limits = server.app.services.limits;
  const freed = limits.whenReleased(
    'completions-member',
    o.interviewer.id,
    limits.released('completions-member', o.interviewer.id) + 1,
  );
  running.stop();
  await freed;
  expect((await last('after SSE')).data?.ivyCompletion.__typename).toBe('IvyCompletionFinished');
});

it('caps an org at 2 streams across its members, and admits another member once one ends', async () => {
  const team = await server.seed.org({ plan: 'GROWTH', credits: 100_000 });
  const askAs = (token: string, content: string) =>
    server.client(token).subscribeWs(IVY, { input: { orgId: team.org.id, messages: [{ role: 'USER', content }] } });
  const first = askAs(team.admin.token, '[[hang]] one');
  const second = askAs(team.staffing.token, '[[hang]] two');
  await Promise.all([first.waitFor(1), second.waitFor(1)]);
  const third = await askAs(team.interviewer.token, 'three').done;
  expect(third[0].errors?.[0]).toMatchObject({
    message: expect.stringMatching(/This org already has 2 Ivy answers streaming/),
    extensions: { code: 'RATE_LIMITED' },
  });
  // Refused before anything was sent upstream; and all or none: the member's slot was not kept for the org's refusal
  // (with one slot per member, 'three again' below could not start until its lease lapsed).
  expect(env.anthropic.requests.filter((r) => JSON.stringify(r.body).includes('three'))).toHaveLength(0);

  const limits = server.app.services.limits;
  const freed = limits.whenReleased(
    'completions-org',
    team.org.id,
    limits.released('completions-org', team.org.id) + 1,
  );
  first.stop();
  await freed;
  expect((await askAs(team.interviewer.token, 'three again').done).at(-1)?.data?.ivyCompletion.__typename).toBe(
    'IvyCompletionFinished',
  );
  second.stop();
});
