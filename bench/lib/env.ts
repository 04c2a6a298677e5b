// Benchmark knobs from the environment.

/** A positive number from env `name`, else `dflt`. */
export function envNumber(name: string, dflt: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
}
