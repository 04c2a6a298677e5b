// Hub ingest vs concurrency (issue #10 item 2; DESIGN.md "Service levels": ≥ 20,000 events/s
// durable with SQLite and ≥ 0.5 × a bare Fastify route, on 2 cores).
//
// In this process, one after the other per concurrency level: a bare Fastify route (parses the
// JSON body, answers 200), the real hub on SQLite (WAL, synchronous=FULL as shipped, the writer
// thread by default) and the real hub on PostgreSQL (a fresh schema; skipped with a note when no
// server answers) — each hub on a fresh store, no rules (bench/lib/ingest-targets.ts). In a child
// process: autocannon with N keep-alive connections, sending what agents send: CloudEvents batches
// of `scheduled` transitions with unique ids, round-robin from 200 VMs, each with its own token.
// Each window: a warm-up, then a measured window; events/s counts events in 2xx responses;
// latency is per request. After a hub window every acknowledged event must have its receipt in
// the store (durable before the 2xx). The ratio column is hub / bare route at the same
// concurrency in the same run. The load generator shares the cores with the servers: its CPU, the
// server's and the rest of the machine's are recorded per window.
//
// Knobs (env): BENCH_INGEST_CONCURRENCY (1,8,32,128; quick 16), BENCH_INGEST_BATCH (events per
// request: 10), BENCH_INGEST_SECONDS (5; quick 1), BENCH_INGEST_WARMUP_SECONDS (1; quick 0.3),
// BENCH_INGEST_VMS (200), BENCH_INGEST_TARGETS ("bare,sqlite,postgres"), BENCH_WHATIF (patches on
// the SQLite store, see bench/lib/what-if.ts), BENCH_INGEST_CPU_PROF=<dir> (a .cpuprofile of the
// servers per hub window). Full runs also time the hub's functions without HTTP (ingest-costs.ts).
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { postgresMissing } from '../test/helpers/postgres.js';
import { QUICK, envNumber, envNumbers, sized } from './lib/env.js';
import { LoadDriver, type WindowResult } from './lib/ingest-drive.js';
import { measureIngestCosts, type IngestCosts } from './lib/ingest-costs.js';
import {
  INGEST_AGENT_SECRET,
  INGEST_PATH,
  startBare,
  startHubTarget,
  type IngestTarget,
  type TargetKind,
} from './lib/ingest-targets.js';
import { commitProbe } from './lib/machine.js';
import type { Benchmark, BenchReport, BenchRow } from './lib/report.js';
import { ms, type Summary } from './lib/stats.js';
import { lineChart } from './lib/svg.js';
import { parseWhatIfs } from './lib/what-if.js';

const CONCURRENCY = envNumbers('BENCH_INGEST_CONCURRENCY', sized([1, 8, 32, 128], [16]));
// 10, not 100: at 128 connections × 100 events a request outlasts a 5 s window on 2 cores and the
// window counts nothing (autocannon drops responses still in flight when its window ends).
const BATCH = envNumber('BENCH_INGEST_BATCH', 10);
const SECONDS = envNumber('BENCH_INGEST_SECONDS', sized(5, 1));
const WARMUP = envNumber('BENCH_INGEST_WARMUP_SECONDS', sized(1, 0.3));
const VMS = envNumber('BENCH_INGEST_VMS', 200);
const TARGETS = (process.env.BENCH_INGEST_TARGETS ?? 'bare,sqlite,postgres').split(',') as TargetKind[];
const CPU_PROF_DIR = process.env.BENCH_INGEST_CPU_PROF;
const WHATIF = parseWhatIfs(process.env.BENCH_WHATIF);
const NAME = WHATIF.length ? `hub-ingest-whatif-${WHATIF.join('+')}` : 'hub-ingest';

const EVENTS_PER_S_TARGET = 20_000;
const RATIO_TARGET = 0.5;

interface Window extends WindowResult {
  target: TargetKind;
  /** Acknowledged events (warm-up included) and how many of them the store lacks. */
  acknowledged: number;
  missing: number;
  planBehind: number;
  planDrainMs: number;
}

const k = (x: number) => Math.round(x).toLocaleString('en-US');

async function measure(
  driver: LoadDriver,
  target: IngestTarget,
  connections: number,
  tmp: string,
  runTag: number,
): Promise<Window> {
  const ackFile = join(tmp, `acked-${target.kind}-${connections}.tsv`);
  const profile =
    CPU_PROF_DIR && target.kind !== 'bare'
      ? join(CPU_PROF_DIR, `hub-ingest-${target.kind}-c${connections}.cpuprofile`)
      : undefined;
  const w = await driver.window(
    {
      url: target.url,
      path: INGEST_PATH,
      batch: BATCH,
      connections,
      vms: VMS,
      agentSecret: INGEST_AGENT_SECRET,
      warmupS: WARMUP,
      durationS: SECONDS,
      runTag,
      ackFile,
    },
    profile,
  );
  if (target.kind === 'bare')
    return { ...w, target: 'bare', acknowledged: 0, missing: 0, planBehind: NaN, planDrainMs: NaN };
  const planBehind = target.planBehind();
  const t0 = performance.now();
  await target.idle();
  const planDrainMs = performance.now() - t0;
  const text = readFileSync(ackFile, 'utf8');
  const acked = text ? text.split('\n') : [];
  const stored = await target.receipts();
  const missing = acked.filter((a) => !stored.has(a)).length;
  return { ...w, target: target.kind, acknowledged: acked.length, missing, planBehind, planDrainMs };
}

async function run(log: (m: string) => void): Promise<BenchReport> {
  const tmp = mkdtempSync(join(os.tmpdir(), 'forewarn-bench-ingest-'));
  if (CPU_PROF_DIR) mkdirSync(CPU_PROF_DIR, { recursive: true });
  const notes: string[] = [];
  const probe = commitProbe(tmp, sized(300, 50));
  log(`disk: one durable SQLite commit takes p50 ${probe.p50.toFixed(0)} µs, p99 ${probe.p99.toFixed(0)} µs`);
  const costs = QUICK ? undefined : await measureIngestCosts();
  const pgMissing = TARGETS.includes('postgres') ? await postgresMissing() : undefined;
  const targets = TARGETS.filter((t) => t !== 'postgres' || !pgMissing);
  if (pgMissing) {
    log(`PostgreSQL rows skipped: ${pgMissing}`);
    notes.push(`PostgreSQL rows were skipped: ${pgMissing}.`);
  }
  const driver = new LoadDriver();
  const windows: Window[] = [];
  let runTag = (Date.now() & 0x7fffffff) >>> 0;
  try {
    for (const connections of CONCURRENCY)
      for (const kind of targets) {
        const dir = join(tmp, `${kind}-${connections}`);
        mkdirSync(dir, { recursive: true });
        const target = kind === 'bare' ? await startBare() : await startHubTarget(kind, dir, WHATIF);
        try {
          const w = await measure(driver, target, connections, tmp, runTag++);
          windows.push(w);
          log(
            `${kind.padEnd(8)} ${String(connections).padStart(3)} conns: ${k(w.eventsPerS)} events/s, p50 ${ms(w.load.latency.p50, 1)}, p99 ${ms(w.load.latency.p99, 1)}${kind === 'bare' ? '' : `; ${k(w.missing)} of ${k(w.acknowledged)} acknowledged missing`}; machine busy ${w.machineBusyPct.toFixed(0)} % (other ${w.otherPct.toFixed(0)} %)`,
          );
        } finally {
          await target.close();
        }
      }
  } finally {
    await driver.close();
    rmSync(tmp, { recursive: true, force: true });
  }
  return report(windows, probe, costs, notes);
}

function report(
  windows: Window[],
  probe: Summary,
  costs: IngestCosts | undefined,
  notes: string[],
): BenchReport {
  const bareAt = (c: number) => windows.find((w) => w.target === 'bare' && w.connections === c);
  const ratio = (w: Window) => {
    const b = bareAt(w.connections);
    return b ? w.eventsPerS / b.eventsPerS : NaN;
  };
  const hubs = windows.filter((w) => w.target !== 'bare');
  const rows: BenchRow[] = hubs.map((w) => {
    const r = ratio(w);
    const sqlite = w.target === 'sqlite';
    return {
      metric: `${w.target}, ${w.connections} conns: events/s (ratio to bare)`,
      value: `${k(w.eventsPerS)} (${Number.isFinite(r) ? `${r.toFixed(3)}×` : 'no bare row'}); p50 / p99 ${ms(w.load.latency.p50, 1)} / ${ms(w.load.latency.p99, 1)}`,
      ...(sqlite
        ? {
            target: `≥ ${k(EVENTS_PER_S_TARGET)}/s and ≥ ${RATIO_TARGET}×`,
            pass: w.eventsPerS >= EVENTS_PER_S_TARGET && r >= RATIO_TARGET,
          }
        : {}),
    };
  });
  for (const kind of ['sqlite', 'postgres'] as const) {
    const ws = hubs.filter((w) => w.target === kind);
    if (!ws.length) continue;
    const best = ws.reduce((a, b) => (b.eventsPerS > a.eventsPerS ? b : a));
    rows.push({
      metric: `${kind}: best durable events/s (${best.connections} conns)`,
      value: `${k(best.eventsPerS)} (${ratio(best).toFixed(3)}× bare)`,
      ...(kind === 'sqlite'
        ? { target: `≥ ${k(EVENTS_PER_S_TARGET)}/s`, pass: best.eventsPerS >= EVENTS_PER_S_TARGET }
        : {}),
      headline: true,
    });
    const acked = ws.reduce((a, w) => a + w.acknowledged, 0);
    const missing = ws.reduce((a, w) => a + w.missing, 0);
    const errors = ws.reduce((a, w) => a + w.load.non2xx + w.load.errors, 0);
    rows.push({
      metric: `${kind}: acknowledged events missing from the store`,
      value: `${k(missing)} of ${k(acked)}; non-2xx or errors ${k(errors)}`,
      target: '0',
      pass: missing === 0 && errors === 0,
    });
  }
  rows.push({
    metric: 'disk: durable SQLite commit p50 / p99',
    value: `${(probe.p50 / 1000).toFixed(2)} / ${(probe.p99 / 1000).toFixed(2)} ms`,
  });
  if (costs)
    rows.push({
      metric: 'per event without HTTP, 100/batch: parse / store.ingest FULL / plan (no rules)',
      value: `${costs.parse.batch100.toFixed(0)} / ${costs.storeFull.batch100.toFixed(0)} / ${costs.planNoRules.full.toFixed(0)} µs`,
    });
  const kinds = [...new Set(windows.map((w) => w.target))];
  const series = (y: (w: Window) => number) =>
    kinds.map((kind) => ({
      name: kind === 'bare' ? 'bare Fastify route' : `hub, ${kind}`,
      points: windows.filter((w) => w.target === kind).map((w) => ({ x: w.connections, y: y(w) })),
    }));
  const throughput = lineChart({
    title: `Ingest throughput vs concurrency (${BATCH} events/request)`,
    xLabel: 'connections',
    yLabel: 'events/s (2xx)',
    logX: true,
    logY: true,
    series: [
      ...series((w) => w.eventsPerS),
      {
        name: `target ${k(EVENTS_PER_S_TARGET)}/s (SQLite)`,
        dashed: true,
        points: CONCURRENCY.map((c) => ({ x: c, y: EVENTS_PER_S_TARGET })),
      },
    ],
  });
  const latency = lineChart({
    title: `Ingest request latency p99 vs concurrency (${BATCH} events/request)`,
    xLabel: 'connections',
    yLabel: 'request p99 (ms)',
    logX: true,
    logY: true,
    series: series((w) => w.load.latency.p99),
  });
  return {
    // A what-if run is kept apart from the published baseline.
    name: NAME,
    title: `Hub ingest vs concurrency: SQLite and PostgreSQL next to a bare Fastify route (${BATCH} events/request)`,
    rows,
    charts: [
      { file: `${NAME}.svg`, title: 'Ingest throughput vs concurrency', svg: throughput },
      { file: `${NAME}-latency.svg`, title: 'Ingest request p99 vs concurrency', svg: latency },
    ],
    tables: [
      {
        title: 'By concurrency',
        header: [
          'target',
          'conns',
          'events/s',
          'ratio to bare',
          'p50',
          'p99',
          'missing',
          'CPU server / loadgen / other',
        ],
        rows: windows.map((w) => [
          w.target,
          String(w.connections),
          k(w.eventsPerS),
          w.target === 'bare' ? '1' : `${ratio(w).toFixed(3)}×`,
          ms(w.load.latency.p50, 1),
          ms(w.load.latency.p99, 1),
          w.target === 'bare' ? '' : `${k(w.missing)} of ${k(w.acknowledged)}`,
          `${w.serverCpuPct.toFixed(0)} / ${w.load.cpuPct.toFixed(0)} / ${w.otherPct.toFixed(0)} %`,
        ]),
      },
    ],
    notes: [
      `Each window: ${WARMUP} s warm-up, ${SECONDS} s measured; ${BATCH} events per request from ${VMS} VMs; a fresh store per hub window. Responses still in flight when a window ends are not counted, so a row whose p99 approaches the window understates its rate. The load generator (autocannon, one child process) shares the cores with the servers. Targets (DESIGN.md) are stated for SQLite; PostgreSQL rows are for comparison.`,
      ...notes,
    ],
    data: {
      config: {
        concurrency: CONCURRENCY,
        batch: BATCH,
        seconds: SECONDS,
        warmupSeconds: WARMUP,
        vms: VMS,
        targets: TARGETS,
        whatIf: WHATIF,
      },
      targets: { eventsPerS: EVENTS_PER_S_TARGET, ratioToBare: RATIO_TARGET },
      durableCommitMicros: probe,
      costsMicrosPerEvent: costs ?? null,
      windows,
    },
  };
}

export const benchmark: Benchmark = {
  name: 'hub-ingest',
  title: 'Hub ingest: events/s and latency vs concurrency, SQLite and PostgreSQL vs a bare route',
  run,
};
