// Start the suite's longest files first, so that the workers finish together instead of one running a 15 s file
// alone at the end. Vitest's own order does this from its cache of last run's durations; a fresh clone (CI) has no
// cache, and its fallback (largest file first) put the spawned-command files last: 55 s where 43 s would do.
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Files that spawn built servers or operator commands, longest first (seconds on a quiet two-core machine). */
const LONGEST_FIRST = [
  // CI runs the one-org ledger test at the 10,000 completions (LEDGER_LOAD_N, .ci/run): 15–30 s then.
  ...(Number(process.env.LEDGER_LOAD_N ?? 0) >= 5_000 ? ['test/api/ledger-constraints.test.ts'] : []),
  'test/api/production.test.ts', // 15 s: the built server, drained and restarted
  'test/api/operator-smoke.test.ts', // 8 s: each operator command spawned once
  'test/api/ledger-checker.test.ts', // 7 s: 240 attempts against the ledger checker
  'test/providers/adapters.test.ts', // 4 s
  'test/api/shutdown.test.ts', // 3 s: child servers drained
];

export default class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const i = LONGEST_FIRST.findIndex((suffix) => spec.moduleId.endsWith(suffix));
      return i === -1 ? LONGEST_FIRST.length : i;
    };
    return sorted
      .map((spec, i) => ({ spec, i }))
      .sort((a, b) => rank(a.spec) - rank(b.spec) || a.i - b.i)
      .map(({ spec }) => spec);
  }
}
