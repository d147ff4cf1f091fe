// What the domain needs from the outside world, built once per process and shared by every request.
import type { Config } from '../config.ts';
import type { Clock } from '../lib/clock.ts';
import type { Keyring } from '../lib/crypto.ts';
import type { Db } from '../lib/database.ts';
import type { Limits } from '../lib/limits/limits.ts';
import type { Logger } from '../lib/logger.ts';
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
  /** Rate and concurrency limits (RATE_LIMITED). */
  limits: Limits;
}

/** The signed-in member acting in one org. */
export interface Actor {
  userId: string;
}
