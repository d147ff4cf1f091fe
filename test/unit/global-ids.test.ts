import { describe, expect, it } from 'vitest';
import { decodeGlobalId, encodeGlobalId, orgKey } from '../../src/lib/global-ids.ts';
import { DomainError } from '../../src/lib/errors.ts';

const UUID = '0b7e4a52-3f1c-4d2e-9a8b-5c6d7e8f9a0b';

describe('org ids in arguments', () => {
  it("takes an Org's global id to its uuid and passes a uuid, another type's id or garbage through as sent", () => {
    expect(orgKey(encodeGlobalId('Org', UUID))).toBe(UUID);
    expect(orgKey(UUID)).toBe(UUID);
    const settingsId = encodeGlobalId('OrgAiSettings', UUID);
    expect(orgKey(settingsId)).toBe(settingsId);
    expect(orgKey('not an id!')).toBe('not an id!');
    expect(orgKey(42)).toBe(42);
  });

  it('refuses an id this API did not return with BAD_USER_INPUT, never echoing it', () => {
    const refusal = (() => {
      try {
        decodeGlobalId(UUID);
      } catch (err) {
        return err;
      }
    })();
    expect(refusal).toBeInstanceOf(DomainError);
    expect((refusal as DomainError).code).toBe('BAD_USER_INPUT');
    expect((refusal as DomainError).message).not.toContain(UUID);
    expect(decodeGlobalId(encodeGlobalId('Org', UUID))).toEqual({ typename: 'Org', id: UUID });
  });
});
