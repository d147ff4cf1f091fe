// What the domain needs from the outside world, built once per process and shared by every request.
import type { Config } from '../config.ts';
import type { Clock } from '../lib/clock.ts';
import type { Keyring } from '../lib/crypto.ts';
import type { Db } from '../lib/database.ts';
import type { Lifecycle } from '../lib/lifecycle.ts';
import type { Logger } from '../lib/logger.ts';
import type { AppMetrics } from '../lib/metrics.ts';
import type { AppPubSub } from '../lib/pubsub.ts';
import type { ProviderAdapter } from '../providers/types.ts';
import type { ModelCatalogue, Vendor } from './models.ts';

export interface Services {
  config: Config;
  db: Db;
  clock: Clock;
  log: Logger;
  keyring: Keyring;
  models: ModelCatalogue;
  providers: Record<Vendor, ProviderAdapter>;
  pubsub: AppPubSub;
  /** Serving or draining; completions end with SERVER_SHUTTING_DOWN when shutdownSignal aborts. */
  lifecycle?: Lifecycle;
  /** Prometheus counters of our own (lib/metrics.ts); absent in operator commands. */
  metrics?: AppMetrics;
}

/** The signed-in member acting in one org. */
export interface Actor {
  userId: string;
}
