// Prisma CLI configuration. The JS engine with a driver adapter keeps the CLI offline (no native engine download).
import path from 'node:path';
import { defineConfig } from 'prisma/config';
import { PrismaPg } from '@prisma/adapter-pg';
import { pgConfigFromUrl } from './src/lib/pg-url.ts';

// The schema's datasource must hold a valid URL even for `prisma generate`, or the CLI falls back to downloading a
// native engine (which fails offline). The adapter below is what actually connects.
process.env.DATABASE_URL ??= 'postgresql://postgres@127.0.0.1:5432/postgres';

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
