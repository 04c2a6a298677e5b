// `npm run drills [-- --quick] [-- --only <name>]`: runs the fault drills one after another, prints
// each one's progress and verdict line, and writes docs/benchmarks/drills.json and drills.md.
// Exits 1 when any drill fails. See docs/drills.md.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { Command } from 'commander';
import { DRILLS } from './drills.js';
import type { DrillResult } from './verdict.js';

const program = new Command('drills')
  .description('forewarn fault drills (issue #10 items 6–10)')
  .option('--quick', 'small sizes: every drill in about a minute and a half')
  .option('--only <names>', `comma-separated drills to run: ${DRILLS.map((d) => d.name).join(', ')}`)
  .option('--out <dir>', 'where to write drills.json and drills.md', 'docs/benchmarks')
  .parse();
const opts = program.opts<{ quick?: boolean; only?: string; out: string }>();

const only = opts.only?.split(',').map((s) => s.trim());
const unknown = only?.filter((n) => !DRILLS.some((d) => d.name === n)) ?? [];
if (unknown.length) {
  console.error(`unknown drill(s): ${unknown.join(', ')}; known: ${DRILLS.map((d) => d.name).join(', ')}`);
  process.exit(2);
}
const chosen = DRILLS.filter((d) => !only || only.includes(d.name));
const quick = !!opts.quick;
type Recorded = DrillResult & { what: string; at: string; quick: boolean; table?: string[] };
const results: Recorded[] = [];
const started = Date.now();
for (const d of chosen) {
  console.log(`\n=== ${d.name}: ${d.what}${quick ? ' (quick)' : ''}`);
  let r: DrillResult & { table?: string[] };
  try {
    r = await d.run(quick);
  } catch (err) {
    r = {
      name: d.name,
      outcome: 'FAIL',
      line: `${d.name}: crashed — FAIL (${(err as Error).message.split('\n')[0]})`,
      counts: {},
      failures: [(err as Error).stack ?? String(err)],
      ms: 0,
    };
  }
  console.log(r.line);
  results.push({ ...r, what: d.what, at: new Date().toISOString(), quick });
}

console.log(`\n=== verdicts (${Math.round((Date.now() - started) / 1000)} s)`);
for (const r of results) console.log(r.line);

const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? '?',
  memoryGb: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
};
mkdirSync(opts.out, { recursive: true });
const at = new Date().toISOString();
// With --only, the other drills' last results stay in the file (each result says when it ran).
const file = `${opts.out}/drills.json`;
const previous: Recorded[] =
  only && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { drills: Recorded[] }).drills : [];
const all = DRILLS.map(
  (d) => results.find((r) => r.name === d.name) ?? previous.find((r) => r.name === d.name),
).filter((r): r is Recorded => r !== undefined);
writeFileSync(file, `${JSON.stringify({ at, machine, drills: all }, null, 2)}\n`);
const md = [
  '# Fault drills: latest results',
  '',
  `Written ${at} by \`npm run drills\` on ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGb} GB, Node ${machine.node} (a machine shared with other work). What each drill does: [../drills.md](../drills.md).`,
  '',
  '| drill | verdict | ran | time |',
  '| --- | --- | --- | --- |',
  ...all.map(
    (r) =>
      `| ${r.name} | ${r.line.replace(/\|/g, '\\|')} | ${r.at.slice(0, 16).replace('T', ' ')}${r.quick ? ' (quick)' : ''} | ${Math.round(r.ms / 1000)} s |`,
  ),
  '',
  ...all.flatMap((r) => (r.table ? [`## ${r.name}`, '', ...r.table, ''] : [])),
];
writeFileSync(`${opts.out}/drills.md`, `${md.join('\n')}\n`);
console.log(`wrote ${opts.out}/drills.json and ${opts.out}/drills.md`);
process.exit(results.some((r) => r.outcome === 'FAIL') ? 1 : 0);
