import { describe, expect, it } from 'vitest';
import { membershipHas, PERMISSIONS, roleHas, type Permission } from '../../src/domain/permissions.ts';
import { ERROR_CODES, FORBIDDEN_MESSAGE } from '../../src/lib/errors.ts';

const ROLES = ['ADMIN', 'STAFFING', 'INTERVIEWER'] as const;
const holders = (p: Permission) => ROLES.filter((role) => roleHas(role, p));

describe('the permission catalogue', () => {
  it('lets only Org Admins manage the org (change the provider, read the audit trail)', () => {
    expect(holders('org:manage')).toEqual(['ADMIN']);
  });

  it('lets Admins and Staffing read Org Settings and Usage, not Interviewers', () => {
    expect(holders('org:view')).toEqual(['ADMIN', 'STAFFING']);
  });

  it('lets every member read AI settings, manage their own keys and ask Ivy', () => {
    for (const p of ['ai-settings:view', 'personal-key:manage', 'ivy:use'] as const) expect(holders(p)).toEqual(ROLES);
  });

  it('lets whoever may ask Ivy see the credit balance, so every final Ivy event can carry it (never null)', () => {
    for (const role of holders('ivy:use')) expect(roleHas(role, 'ai-settings:view'), role).toBe(true);
  });

  it('decides nothing else', () => {
    expect(Object.keys(PERMISSIONS).sort()).toEqual([
      'ai-settings:view',
      'ivy:use',
      'org:manage',
      'org:view',
      'personal-key:manage',
    ]);
  });

  it('refuses every permission to a viewer with no membership, and grants what the role holds', () => {
    for (const p of Object.keys(PERMISSIONS) as Permission[]) expect(membershipHas(null, p)).toBe(false);
    expect(membershipHas({ role: 'STAFFING' }, 'org:manage')).toBe(false);
    expect(membershipHas({ role: 'ADMIN' }, 'org:manage')).toBe(true);
  });

  it('refuses with one FORBIDDEN message, the one the error catalogue documents', () => {
    expect(FORBIDDEN_MESSAGE).toBe(ERROR_CODES.FORBIDDEN);
    expect(FORBIDDEN_MESSAGE).toBe('You are not a member of that org, or your role does not allow this.');
  });
});
