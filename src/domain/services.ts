// What the domain needs from the outside world, built once per process and shared by every request.
import type { EventEmitter } from 'node:events';
import type { Config } from '../config.ts';
import type { Clock } from '../lib/clock.ts';
import type { Keyring } from '../lib/crypto.ts';
import type { Db } from '../lib/database.ts';
import type { FleetLock } from '../lib/fleet-lock.ts';
import type { Limits } from '../lib/limits/limits.ts';
import type { Lifecycle } from '../lib/lifecycle.ts';
import type { Logger } from '../lib/logger.ts';
import type { AppMetrics } from '../lib/metrics.ts';
import type { AppPubSub } from '../lib/pubsub.ts';
import type { ProviderAdapter } from '../providers/types.ts';
import type { Answers } from './answers.ts';
import type { ModelCatalogue } from './models.ts';
import type { ReadCaches } from './read-caches.ts';
import type { Vendor } from './vendors.ts';

export interface Services {
  config: Config;
  db: Db;
  clock: Clock;
  log: Logger;
  keyring: Keyring;
  models: ModelCatalogue;
  providers: Record<Vendor, ProviderAdapter>;
  pubsub: AppPubSub;
  /** In-process notifications of what the domain did (tests wait on them; metrics can count them). */
  events: EventEmitter<DomainEvents>;
  /** Completions streaming in this process, so that stopping the server can settle every one of them. */
  inflight: Set<{ cancel(): Promise<unknown> }>;
  /** Answers produced on this instance, and their events (resume), mirrored to Redis when there is one. */
  answers: Answers;
  /** Rate and concurrency limits (RATE_LIMITED). */
  limits: Limits;
  /** Background work that one instance of the fleet runs at a time (Redis lock; always granted without Redis). */
  locks: FleetLock;
  /** Serving or draining; completions end with SERVER_SHUTTING_DOWN when shutdownSignal aborts. */
  lifecycle?: Lifecycle;
  /** Users, memberships, org settings and members' keys in memory, dropped by the database's own notifications. */
  caches: ReadCaches;
  /** Prometheus counters of our own (lib/metrics.ts); absent in operator commands. */
  metrics?: AppMetrics;
}

export interface DomainEvents {
  'completion-settled': [
    { completionId: string; orgId: string; requestId: string; status: string; creditsCharged: number },
  ];
  /** The last listener of a running answer went away: the resume window starts. */
  'answer-detached': [{ completionId: string; requestId: string }];
  /** Without Redis: an ended answer's events were dropped from memory after RESUME_RETENTION_MS. */
  'answer-forgotten': [{ completionId: string; requestId: string }];
  /** A listener (the first, or one resuming) started reading a running answer on this instance. */
  'answer-attached': [{ completionId: string; requestId: string }];
  /** A completion started being accepted, or one left `inflight` (settled, or refused before it held anything). */
  'inflight-changed': [size: number];
  /** A round of scheduled key re-tests ran on this instance. */
  'key-retest-round': [round: import('./key-retests.ts').RetestRound];
}

/** The signed-in member acting in one org. */
export interface Actor {
  userId: string;
}
