// The permission catalog: `noun:verb` strings and which org roles hold them (from the help-center page).
import type { OrgRole } from '../generated/prisma/enums.ts';

export const PERMISSIONS = {
  /** Org Settings and the Usage page: read. */
  'org:view': ['ADMIN', 'STAFFING'],
  /** Change the org's AI provider and model; read the audit trail. */
  'org:manage': ['ADMIN'],
  /** Every member reads the org's AI settings and credit balance. */
  'ai-settings:view': ['ADMIN', 'STAFFING', 'INTERVIEWER'],
  /** Every member saves, tests and removes their own personal API keys (never anyone else's). */
  'personal-key:manage': ['ADMIN', 'STAFFING', 'INTERVIEWER'],
  /** Every member asks Ivy. */
  'ivy:use': ['ADMIN', 'STAFFING', 'INTERVIEWER'],
} as const satisfies Record<string, readonly OrgRole[]>;

export type Permission = keyof typeof PERMISSIONS;

export function roleHas(role: OrgRole, permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly OrgRole[]).includes(role);
}

/**
 * Every access decision in the API: a membership (null when the viewer is not in the org, or the org does not exist)
 * holds `permission` when its role does.
 */
export function membershipHas(membership: { role: OrgRole } | null, permission: Permission): boolean {
  return membership !== null && roleHas(membership.role, permission);
}
