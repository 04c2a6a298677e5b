// What every drill hands back: one verdict line with its counts, the counts themselves (for
// docs/benchmarks/drills.json) and the reasons it failed, if it did.

export type Outcome = 'PASS' | 'FAIL' | 'SKIPPED';

export interface DrillResult {
  name: string;
  outcome: Outcome;
  /** `<what>: <counts> — PASS` (or FAIL with reasons, or SKIPPED with why). */
  line: string;
  counts: Record<string, number>;
  failures: string[];
  ms: number;
}

/** Prints progress lines of a drill, prefixed with its name (silent when `quiet`). */
export type Say = (message: string) => void;

export function sayer(name: string, quiet = false): Say {
  return (message) => {
    if (!quiet) console.log(`[${name}] ${message}`);
  };
}

/**
 * Builds the result: PASS when no check failed. `summary` is the line without its verdict,
 * e.g. `kill -9 sqlite: 10 kills, 5000 events, …`.
 */
export function verdict(
  name: string,
  summary: string,
  counts: Record<string, number>,
  failures: string[],
  startedAt: number,
): DrillResult {
  const outcome: Outcome = failures.length ? 'FAIL' : 'PASS';
  const why = failures.length ? ` (${failures.join('; ')})` : '';
  return {
    name,
    outcome,
    line: `${summary} — ${outcome}${why}`,
    counts,
    failures,
    ms: Date.now() - startedAt,
  };
}

/** A drill that cannot run here: SKIPPED locally, FAIL when CI=true (CI must run every drill). */
export function skipped(name: string, summary: string, why: string, startedAt: number): DrillResult {
  if (process.env.CI === 'true') return verdict(name, summary, {}, [`cannot run in CI: ${why}`], startedAt);
  return {
    name,
    outcome: 'SKIPPED',
    line: `${summary} — SKIPPED (${why})`,
    counts: {},
    failures: [],
    ms: Date.now() - startedAt,
  };
}

/** Collects failed checks instead of throwing, so a drill reports every broken count at once. */
export class Checks {
  readonly failures: string[] = [];
  equal(what: string, actual: unknown, expected: unknown): void {
    if (JSON.stringify(actual) !== JSON.stringify(expected))
      this.failures.push(`${what}: ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
  }
  that(what: string, ok: boolean): void {
    if (!ok) this.failures.push(what);
  }
}
