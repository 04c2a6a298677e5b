// What a benchmark module exports and returns, and how its table is printed. A benchmark reports;
// it never gates: a missed target is printed as MISSED and recorded, the exit code stays 0.

export interface BenchRow {
  metric: string;
  value: string;
  /** Human-readable target, e.g. "< 1100 ms"; absent for informational rows. */
  target?: string;
  /** undefined = informational (no target). */
  pass?: boolean;
}

export interface BenchReport {
  name: string;
  title: string;
  rows: BenchRow[];
  /** Everything measured, written to bench/results/<name>.json. */
  data: Record<string, unknown>;
}

export interface Benchmark {
  /** File-safe name: bench/results/<name>.json. */
  name: string;
  title: string;
  run(log: (message: string) => void): Promise<BenchReport>;
}

export function formatTable(report: BenchReport): string {
  const header = ['metric', 'value', 'target', 'result'];
  const lines = report.rows.map((r) => [
    r.metric,
    r.value,
    r.target ?? '',
    r.pass === undefined ? '' : r.pass ? 'pass' : 'MISSED',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const missed = report.rows.filter((r) => r.pass === false);
  return [
    `${report.title}`,
    fmt(header),
    fmt(widths.map((w) => '-'.repeat(w))),
    ...lines.map(fmt),
    missed.length
      ? `MISSED ${missed.length} target(s): ${missed.map((r) => r.metric).join('; ')}`
      : 'all targets met',
  ].join('\n');
}
