// The answers this instance produces, by completion id, and their events' mirror in Redis when there is one.
// Without Redis an ended answer's log stays in memory for RESUME_RETENTION_MS; with Redis it is read from the stream
// (by any instance, this one included), so memory holds only answers still running.
import type { EventEmitter } from 'node:events';
import type { Config } from '../config.ts';
import type { Logger } from '../lib/logger.ts';
import type { RedisLink } from '../lib/redis.ts';
import { isLast, type IndexedEvent } from './answer-log.ts';
import { RedisAnswerLogs, type ControlNote } from './answer-log-redis.ts';
import type { IvyEvent } from './ivy.ts';
import type { LiveAnswer } from './live-answer.ts';
import type { DomainEvents } from './services.ts';

export class Answers {
  private readonly live = new Map<string, LiveAnswer>();
  readonly redis: RedisAnswerLogs | null;

  constructor(
    private readonly config: Config,
    log: Logger,
    redis: RedisLink | null,
    private readonly events: EventEmitter<DomainEvents>,
  ) {
    this.redis = redis
      ? new RedisAnswerLogs(redis, log, config.resumeRetentionMs, config.resumeOwnerCheckMs, (note) =>
          this.onNote(note),
        )
      : null;
  }

  register(answer: LiveAnswer): void {
    this.live.set(answer.c.completionId, answer);
  }

  /** Appends to the answer's log (and its mirror); after its last event, keeps it only as long as needed. */
  append(answer: LiveAnswer, event: IvyEvent): IndexedEvent {
    const indexed = answer.log.append(event);
    const id = answer.c.completionId;
    this.redis?.append(id, indexed);
    if (isLast(event)) {
      answer.ended();
      if (this.redis) this.live.delete(id);
      else
        setTimeout(() => {
          this.live.delete(id);
          this.events.emit('answer-forgotten', { completionId: id, requestId: answer.c.requestId });
        }, this.config.resumeRetentionMs).unref();
    }
    return indexed;
  }

  local(completionId: string): LiveAnswer | undefined {
    return this.live.get(completionId);
  }

  private onNote(note: ControlNote) {
    const answer = this.live.get(note.completionId);
    if (!answer) return;
    if (note.t === 'stop') void answer.stop();
    else answer.remoteSeenAt = Date.now();
  }
}
