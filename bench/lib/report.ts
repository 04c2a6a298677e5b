// What a benchmark module exports and returns, and how its table is printed. A benchmark reports;
// it never gates: a missed target is printed as MISSED and recorded, the exit code stays 0.

export interface BenchRow {
  metric: string;
  value: string;
  /** Human-readable target, e.g. "< 1100 ms"; absent for informational rows. */
  target?: string;
  /** undefined = informational (no target). */
  pass?: boolean;
  /** Shown in docs/benchmarks/README.md's headline table and the README's. */
  headline?: boolean;
}

/** A table of its own in the benchmark's Markdown (e.g. one row per size or concurrency). */
export interface MdTable {
  title: string;
  header: string[];
  rows: string[][];
}

export interface Chart {
  /** File name under docs/benchmarks/, e.g. "agent-detection.svg". */
  file: string;
  title: string;
  svg: string;
}

export interface BenchReport {
  name: string;
  title: string;
  rows: BenchRow[];
  /** Everything measured, written to docs/benchmarks/<name>.json. */
  data: Record<string, unknown>;
  tables?: MdTable[];
  charts?: Chart[];
  /** Paragraphs for the Markdown: how it was measured, what a row means, what was cut. */
  notes?: string[];
}

export interface Benchmark {
  /** File-safe name: docs/benchmarks/<name>.json. */
  name: string;
  title: string;
  run(log: (message: string) => void): Promise<BenchReport>;
}

export function verdict(r: BenchRow): string {
  return r.pass === undefined ? '' : r.pass ? 'PASS' : 'MISSED';
}

export function formatTable(report: BenchReport): string {
  const header = ['metric', 'value', 'target', 'result'];
  const lines = report.rows.map((r) => [r.metric, r.value, r.target ?? '', verdict(r)]);
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

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function markdownTable(header: string[], rows: string[][]): string {
  return [
    `| ${header.map(cell).join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');
}

export function rowsTable(rows: BenchRow[]): string {
  return markdownTable(
    ['metric', 'value', 'target', 'result'],
    rows.map((r) => [r.metric, r.value, r.target ?? '', verdict(r)]),
  );
}

/** Thrown by a benchmark that cannot run here (e.g. no Chromium): reported as skipped, not failed. */
export class BenchSkipped extends Error {}
