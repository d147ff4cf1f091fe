// Prisma CLI configuration. The JS engine with a driver adapter keeps the CLI offline (no native engine download).
// The CLI reaches the same database as the server: DATABASE_URL (from the environment or .env), else the embedded
// database under DATA_DIR (start the server first: `npx prisma migrate status`, `npx prisma studio`).
import path from 'node:path';
import { defineConfig } from 'prisma/config';
import { PrismaPg } from '@prisma/adapter-pg';
import { loadDotEnv } from './src/config.ts';
import { embeddedDatabaseUrl } from './src/lib/embedded-pg.ts';
import { pgConfigFromUrl } from './src/lib/pg-url.ts';

loadDotEnv();
// The schema's datasource must hold a valid URL even for `prisma generate`, or the CLI falls back to downloading a
// native engine (which fails offline). The adapter below is what actually connects.
process.env.DATABASE_URL ??=
  embeddedDatabaseUrl(path.resolve(process.env.DATA_DIR ?? './data'), Number(process.env.EMBEDDED_PG_PORT) || 54329) ??
  'postgresql://postgres@127.0.0.1:5432/postgres';

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join('prisma', 'schema.prisma'),
  migrations: { path: path.join('prisma', 'migrations') },
  async adapter() {
    const url = process.env.DATABASE_URL!;
    return new PrismaPg(pgConfigFromUrl(url));
  },
});
