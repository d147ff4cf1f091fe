// Plan facts: which plans include Bring Your Own Key. What an org below them may still use during its legacy grace
// window, and what Ivy uses at a given instant, is the grace window's rule (grace-window.ts).
import type { AiProvider, Plan } from '../generated/prisma/enums.ts';

/** The plans that include Bring Your Own Key. */
export const BYOK_PLANS: readonly Plan[] = ['GROWTH', 'ENTERPRISE'];

export function planAllowsByok(plan: Plan): boolean {
  return BYOK_PLANS.includes(plan);
}

export interface OrgAiState {
  plan: Plan;
  aiProvider: AiProvider;
  graceWindowEndsAt: Date | null;
}
