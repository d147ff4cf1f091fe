// Opens the database the config names (or the embedded one), brings its schema up to date, and returns a client.
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.ts';
import type { Config } from '../config.ts';
import type { Logger } from './logger.ts';
import { startEmbeddedPostgres } from './embedded-pg.ts';
import { applyMigrations } from './migrate.ts';
import { pgConfigFromUrl } from './pg-url.ts';

export type Db = PrismaClient;

export interface Database {
  db: Db;
  url: string;
  embedded: boolean;
  close(): Promise<void>;
}

export function createPrismaClient(url: string, poolSize = 20): Db {
  return new PrismaClient({
    adapter: new PrismaPg({ ...pgConfigFromUrl(url), max: poolSize }),
    // Bursts (many completions reserving at once) queue for a pooled connection longer than Prisma's 2 s default.
    transactionOptions: { maxWait: 15_000, timeout: 15_000 },
  });
}

export async function openDatabase(config: Config, log: Logger): Promise<Database> {
  const embedded = config.databaseUrl
    ? null
    : await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, log });
  const url = config.databaseUrl ?? embedded!.url;
  try {
    const applied = await applyMigrations(url);
    if (applied.length) log.info('applied migrations', { applied });
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
  const db = createPrismaClient(url);
  return {
    db,
    url,
    embedded: embedded !== null,
    async close() {
      await db.$disconnect();
      await embedded?.stop();
    },
  };
}
