import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { GraphQLEnumType } from 'graphql';
import {
  AiProvider,
  BillingMode,
  CompletionStatus,
  KeyStatus,
  OrgRole,
  Plan,
} from '../../src/generated/prisma/enums.ts';
import { getDatamodel } from '../../src/generated/pothos-types.ts';
import { schema } from '../../src/app.ts';
import { createPrismaClient, type Db } from '../../src/lib/database.ts';
import { pgConfigFromUrl } from '../../src/lib/pg-url.ts';
import { createTestDatabase } from '../support/server.ts';

// The database comes from the committed migrations; the client from schema.prisma. Reading every model through the
// client selects every scalar column it expects, so a field without a migration (or a renamed column) fails here.
let db: Db;
let url: string;
beforeAll(async () => {
  url = await createTestDatabase();
  db = createPrismaClient(url, 2);
});
afterAll(() => db?.$disconnect());

it('has a column in the migrated database for every field of every model in schema.prisma', async () => {
  const models = Object.keys(getDatamodel().datamodel.models);
  expect(models.length).toBeGreaterThanOrEqual(8);
  for (const model of models) {
    // Model names come from the datamodel at run time, so the delegate is looked up by name.
    const delegates = db as unknown as Record<string, { findFirst(): Promise<unknown> }>;
    const delegate = delegates[model[0].toLowerCase() + model.slice(1)];
    // Rejects (P2022, column does not exist) when the migrations lack a field.
    await delegate.findFirst();
  }
});

it('enforces the invariants the code relies on: no negative balance, charge within hold, no credits-mode keys', async () => {
  const client = new pg.Client(pgConfigFromUrl(url));
  await client.connect();
  try {
    const { rows } = await client.query<{ conname: string }>(
      `SELECT conname FROM pg_constraint WHERE contype = 'c' ORDER BY conname`,
    );
    expect(rows.map((r) => r.conname)).toEqual(
      expect.arrayContaining([
        'completions_amounts_valid',
        'orgs_credit_balance_nonnegative',
        'personal_api_keys_byok_only',
      ]),
    );
    await client.query(
      `INSERT INTO orgs (id, slug, name, credit_balance, updated_at) VALUES (gen_random_uuid(), 'neg', 'neg', 0, now())`,
    );
    await expect(client.query(`UPDATE orgs SET credit_balance = -1 WHERE slug = 'neg'`)).rejects.toThrow(
      /orgs_credit_balance_nonnegative/,
    );
  } finally {
    await client.end();
  }
});

it('offers exactly the values of the database enum behind every enum the API mirrors', () => {
  const mirrored = { AiProvider, Plan, OrgRole, KeyStatus, BillingMode, CompletionStatus };
  for (const [name, prismaEnum] of Object.entries(mirrored)) {
    const type = schema.getType(name);
    expect(type, name).toBeInstanceOf(GraphQLEnumType);
    expect((type as GraphQLEnumType).getValues().map((v) => v.value)).toEqual(Object.values(prismaEnum));
  }
});
