// `npm run bench [-- <name>...] [--quick] [--out <dir>]`: runs every benchmark module in bench/
// (each *.ts here that exports `benchmark`), one after the other, prints progress and its table,
// and writes <name>.json, <name>.md and its SVG charts to docs/benchmarks/ (a --quick run writes to
// bench/out/ unless --out says otherwise, so smoke numbers never replace the published ones), then
// regenerates that directory's README.md. Benchmarks report, they do not gate: a missed target is
// printed as MISSED and the exit code stays 0; only a benchmark that crashes makes it non-zero.
import { readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { QUICK, envNumber } from './lib/env.js';
import { describeMachine } from './lib/machine.js';
import { isDocsDir, writeIndex, writeResult } from './lib/publish.js';
import { BenchSkipped, formatTable, type Benchmark, type BenchRow } from './lib/report.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = resolve(here, '..');
const args = process.argv.slice(2);
const outIdx = args.indexOf('--out');
const outDir = resolve(
  outIdx >= 0 && args[outIdx + 1]
    ? args[outIdx + 1]!
    : QUICK
      ? join(repo, 'bench', 'out')
      : join(repo, 'docs', 'benchmarks'),
);
const only = args.filter((a, i) => !a.startsWith('-') && (outIdx < 0 || i !== outIdx + 1));

const files = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.d.ts'))
  .sort();

// A stray rejection (e.g. a hub pass that outlives its store at close) is reported against the
// benchmark that was running and fails the run, but does not kill the benchmarks after it.
let current = '';
const strays: string[] = [];
process.on('unhandledRejection', (err) => {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  console.error(`\nunhandled rejection during ${current || 'start-up'}: ${message}`);
  strays.push(`${current || 'start-up'}: ${err instanceof Error ? err.message : String(err)}`);
});

/** No benchmark may run longer than this: each has deadlines of its own, this catches a hang. */
const LIMIT_S = envNumber('BENCH_LIMIT_S', QUICK ? 120 : 600);
let timedOut = false;

const t0 = Date.now();
const summary: { name: string; seconds: number; rows: BenchRow[]; error?: string; skipped?: string }[] = [];
for (const file of files) {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { benchmark?: Benchmark };
  const b = mod.benchmark;
  if (!b || (only.length && !only.includes(b.name))) continue;
  current = b.name;
  const started = Date.now();
  const seconds = () => Math.round((Date.now() - started) / 1000);
  console.log(`\n== ${b.name}${QUICK ? ' (quick)' : ''}: ${b.title}`);
  try {
    const machine = describeMachine(repo);
    let timer: NodeJS.Timeout | undefined;
    const report = await Promise.race([
      b.run((m) => console.log(`   [${((Date.now() - started) / 1000).toFixed(1)} s] ${m}`)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          timedOut = true;
          reject(new Error(`gave up after ${LIMIT_S} s (BENCH_LIMIT_S)`));
        }, LIMIT_S * 1000);
      }),
    ]).finally(() => clearTimeout(timer));
    console.log(`\n${formatTable(report)}`);
    const written = await writeResult(outDir, report, machine, QUICK, seconds());
    console.log(`\nwrote ${written.map((w) => relative(repo, w)).join(', ')} (${seconds()} s)`);
    summary.push({ name: report.name, seconds: seconds(), rows: report.rows });
  } catch (err) {
    if (err instanceof BenchSkipped) {
      console.log(`   skipped: ${err.message}`);
      summary.push({ name: b.name, seconds: seconds(), rows: [], skipped: err.message });
      continue;
    }
    console.error(`\n${b.name} FAILED: ${(err as Error).stack ?? String(err)}`);
    summary.push({ name: b.name, seconds: seconds(), rows: [], error: (err as Error).message });
  }
}

if (summary.length === 0) {
  console.error(`no benchmark matched ${only.join(', ')}`);
  process.exitCode = 1;
} else {
  const index = await writeIndex(outDir, isDocsDir(outDir, repo) ? join(repo, 'README.md') : undefined);
  if (index.length) console.log(`\nwrote ${index.map((w) => relative(repo, w)).join(', ')}`);
  console.log(`\n== summary (${Math.round((Date.now() - t0) / 1000)} s${QUICK ? ', quick' : ''})`);
  for (const s of summary) {
    const targets = s.rows.filter((r) => r.pass !== undefined);
    const missed = targets.filter((r) => r.pass === false);
    console.log(
      s.skipped
        ? `   ${s.name.padEnd(20)} skipped: ${s.skipped}`
        : s.error
          ? `   ${s.name.padEnd(20)} FAILED after ${s.seconds} s: ${s.error}`
          : `   ${s.name.padEnd(20)} ${String(s.seconds).padStart(4)} s  ${targets.length - missed.length} PASS, ${missed.length} MISSED${missed.length ? ` (${missed.map((r) => r.metric).join('; ')})` : ''}`,
    );
  }
  for (const s of strays) console.log(`   unhandled rejection: ${s}`);
  if (summary.some((s) => s.error) || strays.length) process.exitCode = 1;
}
// A benchmark that was given up on may still hold servers and timers open: end here (its child
// processes are killed on exit).
if (timedOut) process.exit();
