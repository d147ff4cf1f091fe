// The ledger's invariants are PostgreSQL's to keep too: a bad direct write is refused by the database itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCompletion } from '../support/ivy.ts';
import { startServerWithVendors, type ServerWithVendors } from '../support/server-with-vendors.ts';

let env: ServerWithVendors;
beforeAll(async () => {
  env = await startServerWithVendors();
});
afterAll(() => env?.stop());

describe('the credit ledger in PostgreSQL', () => {
  it('refuses an amount whose sign does not match its kind, a negative balance_after, and a second settlement of one completion', async () => {
    const { server } = env;
    const { org, admin } = await server.seed.org({ credits: 100 });
    await runCompletion(server.client(admin.token), 'ws', {
      orgId: org.id,
      messages: [{ role: 'USER', content: 'hi' }],
    });
    const db = server.app.services.db;
    const completion = await db.completion.findFirstOrThrow({ where: { orgId: org.id } });
    const row = (
      kind: 'GRANT' | 'HOLD' | 'RELEASE' | 'OVERAGE',
      amount: number,
      balanceAfter = 50,
      completionId: string | null = null,
    ) => db.creditLedgerEntry.create({ data: { orgId: org.id, kind, amount, balanceAfter, completionId } });
    await expect(row('GRANT', -5)).rejects.toThrow(/credit_ledger_amount_sign/);
    await expect(row('HOLD', 5)).rejects.toThrow(/credit_ledger_amount_sign/);
    await expect(row('RELEASE', -1)).rejects.toThrow(/credit_ledger_amount_sign/);
    await expect(row('OVERAGE', 3)).rejects.toThrow(/credit_ledger_amount_sign/);
    await expect(row('GRANT', 5, -1)).rejects.toThrow(/credit_ledger_balance_after_nonnegative/);
    await expect(row('RELEASE', 1, 50, completion.id)).rejects.toThrow(
      /Unique constraint|credit_ledger_completion_id_kind_key/,
    );
    await expect(db.org.update({ where: { id: org.id }, data: { overageOwed: -1 } })).rejects.toThrow(
      /orgs_overage_owed_nonnegative/,
    );
    await expect(db.completion.update({ where: { id: completion.id }, data: { billing: 'BYOK' } })).rejects.toThrow(
      /completions_byok_holds_nothing/,
    );
  });
});
