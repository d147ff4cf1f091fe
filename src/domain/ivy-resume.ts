// Resume and Stop by requestId, from any transport and any instance. Both are for the member who asked: someone
// else's requestId gets the same FORBIDDEN as one that does not exist, so neither says whether it does.
import { forbidden, refuse } from '../lib/errors.ts';
import type { IndexedEvent } from './answer-log.ts';
import type { AttachOptions } from './live-answer.ts';
import type { Actor, Services } from './services.ts';

async function ownCompletion(s: Services, actor: Actor, orgId: string, requestId: string) {
  const row = await s.db.completion.findUnique({
    where: { orgId_requestId: { orgId, requestId } },
    select: { id: true, userId: true, status: true },
  });
  // The one FORBIDDEN message: nothing tells someone else's requestId from one that does not exist.
  if (!row || row.userId !== actor.userId) return forbidden();
  return row;
}

/**
 * The member's answer `requestId`, from the event after index `resumeFrom`: replayed, then live, to its end. Nothing
 * is sent upstream again and nothing is billed again. Read from this instance's memory when it produces the answer,
 * else from Redis; if the instance producing it is gone, the stream ends with ANSWER_INTERRUPTED.
 */
export async function resumeCompletion(
  s: Services,
  actor: Actor,
  input: { orgId: string; requestId: string; resumeFrom: number },
  opts: AttachOptions = {},
): Promise<AsyncGenerator<IndexedEvent>> {
  const { orgId, requestId, resumeFrom } = input;
  if (!Number.isInteger(resumeFrom) || resumeFrom < 0)
    refuse('BAD_USER_INPUT', 'resumeFrom is the index of the last event you received: 0 or more.');
  const row = await ownCompletion(s, actor, orgId, requestId);
  const local = s.answers.local(row.id);
  if (local) return local.attach(resumeFrom, opts);
  const reading = new AbortController();
  const remote = await s.answers.redis?.read(row.id, resumeFrom, reading.signal);
  if (!remote && row.status !== 'RUNNING')
    refuse('RESUME_EXPIRED', 'This answer ended longer ago than its events are kept: ask again with a new requestId.');
  const lost = async (index: number): Promise<IndexedEvent> => {
    const org = await s.db.org.findUniqueOrThrow({ where: { id: orgId }, select: { creditBalance: true } });
    return {
      kind: 'failed',
      index,
      code: 'ANSWER_INTERRUPTED',
      message:
        'The server producing this answer stopped before it finished: ask again. Its hold is released in full; nothing more is charged.',
      creditsCharged: 0,
      creditBalance: org.creditBalance,
    };
  };
  async function* events(): AsyncGenerator<IndexedEvent> {
    let last = resumeFrom;
    if (remote) {
      for await (const event of remote.events) {
        last = event.index;
        yield event;
      }
      if (!remote.ended()) return;
    }
    if (!reading.signal.aborted) yield await lost(last + 1);
  }
  const inner = events();
  const clientGone = () => reading.abort();
  opts.clientGone?.addEventListener('abort', clientGone, { once: true });
  // return() must not wait for the next event (an XREAD may be blocked): hang up first.
  const wrapper: AsyncGenerator<IndexedEvent> = {
    next: (...args) => inner.next(...args),
    return: async (value) => {
      opts.clientGone?.removeEventListener('abort', clientGone);
      // graphql-ws `complete` is Stop here too, as on the instance producing the answer.
      const stop = !reading.signal.aborted && opts.stopOnReturn?.() === true;
      reading.abort();
      await Promise.all([inner.return(value), stop ? stopCompletion(s, actor, { orgId, requestId }) : undefined]);
      return { done: true, value };
    },
    throw: async (err) => {
      reading.abort();
      await inner.return(undefined);
      throw err;
    },
    [Symbol.asyncIterator]: () => wrapper,
  } as AsyncGenerator<IndexedEvent>;
  return wrapper;
}

/**
 * Stop, from any transport and any instance: the instance producing the answer aborts its upstream request at once
 * and bills what was produced; readers see IvyCompletionFailed CANCELLED. `stopping` is false when it had ended.
 */
export async function stopCompletion(
  s: Services,
  actor: Actor,
  input: { orgId: string; requestId: string },
): Promise<{ requestId: string; stopping: boolean }> {
  const row = await ownCompletion(s, actor, input.orgId, input.requestId);
  const answer = { requestId: input.requestId, stopping: row.status === 'RUNNING' };
  if (!answer.stopping) return answer;
  const local = s.answers.local(row.id);
  if (local) {
    await local.stop();
    return answer;
  }
  const owner = await s.answers.redis?.ownerOf(row.id);
  if (owner) await s.answers.redis!.send(owner, { t: 'stop', completionId: row.id });
  return answer;
}
