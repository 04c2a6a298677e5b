// Benchmark knobs from the environment, and the run's size: `npm run bench -- --quick` (or
// BENCH_QUICK=1) picks the small sizes so the whole suite finishes in under a minute.

/** True for `--quick` runs: every benchmark shrinks to a smoke-sized run of the same code. */
export const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';

/** `full` normally, `quick` in a --quick run. */
export function sized<T>(full: T, quick: T): T {
  return QUICK ? quick : full;
}

/** A positive number from env `name`, else `dflt`. */
export function envNumber(name: string, dflt: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

/** A comma-separated list of positive numbers from env `name`, else `dflt`. */
export function envNumbers(name: string, dflt: readonly number[]): number[] {
  const raw = process.env[name];
  if (!raw) return [...dflt];
  const list = raw
    .split(',')
    .map(Number)
    .filter((n) => Number.isFinite(n) && n > 0);
  return list.length ? list : [...dflt];
}
