// `npm run bench [-- <name>...]`: runs every benchmark module in bench/ (each *.ts here that
// exports `benchmark`), one after the other, prints its table and writes
// bench/results/<name>.json. Benchmarks report, they do not gate: a missed target is printed as
// MISSED and the exit code stays 0; only a benchmark that crashes makes it non-zero.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as prettier from 'prettier';
import { formatTable, type Benchmark } from './lib/report.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const resultsDir = join(here, 'results');
const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));

async function writeJson(path: string, value: unknown): Promise<void> {
  const text = JSON.stringify(value, null, 2);
  // Formatted as `npm run lint` (prettier --check) expects, so committed baselines stay clean.
  const options = (await prettier.resolveConfig(path)) ?? {};
  writeFileSync(path, await prettier.format(text, { ...options, filepath: path }));
}

const files = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.d.ts'))
  .sort();

let failed = 0;
let ran = 0;
for (const file of files) {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { benchmark?: Benchmark };
  const b = mod.benchmark;
  if (!b || (only.length && !only.includes(b.name))) continue;
  ran++;
  const started = Date.now();
  console.log(`\n== ${b.name}: ${b.title}`);
  try {
    const report = await b.run((m) =>
      console.log(`   [${((Date.now() - started) / 1000).toFixed(1)} s] ${m}`),
    );
    console.log(`\n${formatTable(report)}`);
    mkdirSync(resultsDir, { recursive: true });
    const out = join(resultsDir, `${report.name}.json`);
    await writeJson(out, {
      name: report.name,
      title: report.title,
      rows: report.rows,
      ...report.data,
    });
    console.log(`\nwrote ${out} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  } catch (err) {
    failed++;
    console.error(`\n${b.name} FAILED: ${(err as Error).stack ?? String(err)}`);
  }
}
if (ran === 0) {
  console.error(`no benchmark matched ${only.join(', ')}`);
  process.exitCode = 1;
} else if (failed > 0) {
  process.exitCode = 1;
}
