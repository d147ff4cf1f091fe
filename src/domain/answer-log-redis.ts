// With REDIS_URL, every answer's events are mirrored to a Redis Stream (one per completion, capped, expiring
// RESUME_RETENTION_MS after its last event), so a client that reconnects to another instance resumes there. Each
// instance also listens on a channel of its own: its subscriber count says whether it is alive (a killed process's
// connection closes at once), and other instances send it their Stop and "still listening" notes on it.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../lib/logger.ts';
import type { RedisLink } from '../lib/redis.ts';
import { isLast, type IndexedEvent } from './answer-log.ts';

// Longer than any answer can be (MAX_TOKENS_LIMIT deltas at most, plus its first and last event): never trimmed.
const STREAM_CAP = 20_000;
const streamKey = (completionId: string) => `ivy:answer:${completionId}`;
const instanceChannel = (instanceId: string) => `ivy:instance:${instanceId}`;

export interface ControlNote {
  /** stop: the member pressed Stop elsewhere. listening: a client reads this answer on another instance. */
  t: 'stop' | 'listening';
  completionId: string;
}

/** What a remote reader found: the events, and why it stopped early if it did. */
export type RemoteEnd = 'owner-lost' | 'gap';

export class RedisAnswerLogs {
  readonly instanceId = randomUUID();

  constructor(
    private readonly redis: RedisLink,
    private readonly log: Logger,
    private readonly retentionMs: number,
    private readonly ownerCheckMs: number,
    onNote: (note: ControlNote) => void,
  ) {
    redis.listen(instanceChannel(this.instanceId), (raw) => {
      try {
        const note = JSON.parse(raw) as ControlNote;
        if (typeof note.completionId === 'string') onNote(note);
      } catch {
        /* not ours */
      }
    });
  }

  /** Events appended this turn of the event loop, written together at its end. */
  private pending: { completionId: string; event: IndexedEvent }[] = [];

  /**
   * Appends one event. The events of one turn of the event loop (every answer's) go to Redis as one pipeline at the
   * turn's end, one round trip instead of one MULTI/EXEC per event; commands on one connection run in order, so each
   * stream keeps its events' order.
   */
  append(completionId: string, event: IndexedEvent): void {
    if (!this.pending.length) setImmediate(() => this.flush());
    this.pending.push({ completionId, event });
  }

  /** Writes what was appended and not yet written (also before a read, so the read comes after it). */
  flush(): void {
    if (!this.pending.length) return;
    const batch = this.pending;
    this.pending = [];
    const pipeline = this.redis.commands.pipeline();
    const keys = new Set<string>();
    for (const { completionId, event } of batch) {
      const key = streamKey(completionId);
      keys.add(key);
      pipeline.xadd(
        key,
        'MAXLEN',
        '~',
        STREAM_CAP,
        '*',
        'i',
        event.index,
        'o',
        this.instanceId,
        'e',
        JSON.stringify(event),
      );
    }
    for (const key of keys) pipeline.pexpire(key, this.retentionMs);
    const warn = (completionId: string, index: number, error: unknown) =>
      // A resumed reader on another instance sees the gap and ends with ANSWER_INTERRUPTED.
      this.log.warn('an answer event was not mirrored to redis', { completionId, index, error });
    pipeline.exec().then(
      (results) => {
        const told = new Set<string>();
        batch.forEach(({ completionId, event }, k) => {
          const error = results?.[k]?.[0];
          if (!error || told.has(completionId)) return;
          told.add(completionId);
          warn(completionId, event.index, error);
        });
      },
      (error: unknown) => {
        for (const completionId of new Set(batch.map((b) => b.completionId)))
          warn(completionId, batch.find((b) => b.completionId === completionId)!.event.index, error);
      },
    );
  }

  /** The instance producing this answer, if its stream exists. */
  async ownerOf(completionId: string): Promise<string | null> {
    this.flush();
    const first = await this.redis.commands.xrange(streamKey(completionId), '-', '+', 'COUNT', 1);
    return first.length ? fieldsOf(first[0][1]).o : null;
  }

  async send(ownerId: string, note: ControlNote): Promise<void> {
    await this.redis.commands.publish(instanceChannel(ownerId), JSON.stringify(note));
  }

  private async ownerAlive(ownerId: string): Promise<boolean> {
    const [, count] = (await this.redis.commands.pubsub('NUMSUB', instanceChannel(ownerId))) as [string, number];
    return Number(count) > 0;
  }

  /**
   * Reads the answer's events after `after` from its stream: what is there, then each new one (XREAD BLOCK on a
   * connection of its own, from the last entry read, so nothing is missed or read twice). Null when no stream is kept.
   * Between events it tells the owner someone listens, and ends with `onEnd('owner-lost')` if the owner is gone.
   */
  async read(
    completionId: string,
    after: number,
    signal: AbortSignal,
  ): Promise<{ events: AsyncGenerator<IndexedEvent>; ended: () => RemoteEnd | null } | null> {
    const key = streamKey(completionId);
    this.flush();
    if (!(await this.redis.commands.exists(key))) return null;
    let end: RemoteEnd | null = null;
    const { redis, ownerCheckMs } = this;
    const ownerAlive = (owner: string) => this.ownerAlive(owner);
    const listening = (owner: string) => this.send(owner, { t: 'listening', completionId });
    async function* events(): AsyncGenerator<IndexedEvent> {
      // Its XREAD BLOCK goes out at once, alone on its connection (not auto-pipelined like the shared commands).
      const conn: Redis = redis.commands.duplicate({
        enableOfflineQueue: true,
        maxRetriesPerRequest: 1,
        enableAutoPipelining: false,
      });
      conn.on('error', () => {});
      const hangUp = () => conn.disconnect();
      signal.addEventListener('abort', hangUp, { once: true });
      let lastId = '0-0';
      let seen = Math.max(0, after);
      let owner: string | null = null;
      let checkedAt = Date.now();
      try {
        while (!signal.aborted) {
          const reply = (await conn.xread('COUNT', 1000, 'BLOCK', ownerCheckMs, 'STREAMS', key, lastId)) as
            [string, [string, string[]][]][] | null;
          const entries = reply?.[0]?.[1] ?? [];
          for (const [id, raw] of entries) {
            lastId = id;
            const f = fieldsOf(raw);
            owner = f.o;
            const index = Number(f.i);
            if (index <= seen) continue;
            if (index !== seen + 1) return void (end = 'gap');
            seen = index;
            const event = JSON.parse(f.e) as IndexedEvent;
            yield event;
            if (isLast(event)) return;
          }
          // Quiet for a while, or busy for a while: either way, check the owner and tell it we are here.
          if (!owner || (entries.length && Date.now() - checkedAt < ownerCheckMs)) continue;
          checkedAt = Date.now();
          if (!(await ownerAlive(owner))) return void (end = 'owner-lost');
          await listening(owner);
        }
      } catch (err) {
        if (!signal.aborted) throw err;
      } finally {
        signal.removeEventListener('abort', hangUp);
        conn.disconnect();
      }
    }
    return { events: events(), ended: () => end };
  }
}

function fieldsOf(raw: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) out[raw[i]] = raw[i + 1];
  return out;
}
