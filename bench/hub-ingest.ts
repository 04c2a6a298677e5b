// Hub ingest: durable throughput and latency vs a bare Fastify route in the same run (issue #4
// acceptance; DESIGN.md "Service levels": ≥ 20,000 events/s durable with SQLite and ≥ 0.5 × a bare
// Fastify route, on 2 cores).
//
// In this process: the real hub (createHub, SqliteStore on a temp file, no rules, agent tokens
// derived from a secret) and a bare Fastify route (POST that parses the JSON body, answers 200).
// In a child process: the load generator (autocannon, N keep-alive connections to 127.0.0.1),
// sending what agents send: CloudEvents batches (`application/cloudevents-batch+json`) of
// `scheduled` transitions with unique ids, round-robin from 200 VMs, each with its own token.
// Two rows: 1 event per request and 100 events per request. Each target gets a warm-up, then a
// measured window. The hub gets a fresh database per row. After a hub window the bench checks
// that the store holds every event that got a 2xx (durable), and how far the planner (which
// plans every stored transition even with no rules) fell behind.
//
// The load generator shares the machine's 2 cores with the server: its CPU share is reported.
//
// Knobs (env): BENCH_INGEST_SECONDS (10), BENCH_INGEST_WARMUP_SECONDS (2),
// BENCH_INGEST_CONNECTIONS (32 for 1-event rows), BENCH_INGEST_BATCH_CONNECTIONS (8 for 100-event
// rows), BENCH_INGEST_VMS (200), BENCH_INGEST_ROWS (e.g. "1,100"), BENCH_INGEST_TARGETS
// ("bare,hub"), BENCH_WHATIF (e.g. "stmt-cache,plan-txn,sync-normal": patches on the hub's store
// to estimate a change to src/, see bench/lib/what-if.ts), BENCH_INGEST_CPU_PROF=<dir> (writes a .cpuprofile of this process — the servers —
// per hub window, via the inspector).
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import Fastify, { type FastifyInstance } from 'fastify';
import { createHub, type Hub } from '../src/hub/server.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { SqliteThreadedStore } from '../src/store/sqlite-threaded.js';
import type { LoadConfig, LoadResult } from './lib/ingest-load.js';
import { measureIngestCosts } from './lib/ingest-costs.js';
import { applyWhatIfs, parseWhatIfs } from './lib/what-if.js';
import { commitProbe, loadAverage, machineCpu, sourceState } from './lib/machine.js';
import type { Benchmark, BenchReport, BenchRow } from './lib/report.js';
import { ms } from './lib/stats.js';
import { envNumber } from './lib/env.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const LOAD = fileURLToPath(new URL('./lib/ingest-load.ts', import.meta.url));
const AGENT_SECRET = 'bench-agent-secret';
const PATH = '/api/v1/events';

const SECONDS = envNumber('BENCH_INGEST_SECONDS', 10);
const WARMUP = envNumber('BENCH_INGEST_WARMUP_SECONDS', 2);
const CONNECTIONS = envNumber('BENCH_INGEST_CONNECTIONS', 32);
const BATCH_CONNECTIONS = envNumber('BENCH_INGEST_BATCH_CONNECTIONS', 8);
const VMS = envNumber('BENCH_INGEST_VMS', 200);
const ROWS = (process.env.BENCH_INGEST_ROWS ?? '1,100')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const TARGETS = (process.env.BENCH_INGEST_TARGETS ?? 'bare,hub').split(',');
const CPU_PROF_DIR = process.env.BENCH_INGEST_CPU_PROF;
/** What-if patches on the hub's store (bench/lib/what-if.ts); none by default. */
const WHATIF = parseWhatIfs(process.env.BENCH_WHATIF);
const WHATIF_LABEL = WHATIF.length ? ` [what-if: ${WHATIF.join(', ')}]` : '';

// Targets (DESIGN.md "Service levels", issue #4).
const EVENTS_PER_S_TARGET = 20_000;
const RATIO_TARGET = 0.5;

interface Window {
  target: 'bare' | 'hub';
  batch: number;
  connections: number;
  load: LoadResult;
  eventsPerS: number;
  requestsPerS: number;
  /** Server process (this one) CPU during the window, % of one core. */
  serverCpuPct: number;
  /** Event-loop utilisation of this process's main thread during the window (0–1). */
  serverElu: number;
  /** Busy CPU of the whole machine during the window, % of one core (200 % = both cores). */
  machineBusyPct: number;
  /** Of which neither this process nor the load generator: other work on the machine. */
  otherPct: number;
  loadAverage: number[];
  hub?: {
    stored: number;
    /** Events acknowledged with a 2xx (warm-up included). */
    acknowledged: number;
    /** Acknowledged events whose (source, id) receipt is not in the store. */
    missing: number;
    unplannedAtEnd: number;
    /** Time for the planner to catch up after the window (it blocks the event loop meanwhile). */
    planDrainMs: number;
    dbBytes: number;
  };
}

async function startBare(): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  app.addContentTypeParser(
    ['application/cloudevents-batch+json', 'application/cloudevents+json'],
    { parseAs: 'string' },
    (_req, body, done) => {
      try {
        done(null, JSON.parse(body as string));
      } catch (err) {
        done(err as Error, undefined);
      }
    },
  );
  app.post(PATH, async (req) => ({ received: Array.isArray(req.body) ? req.body.length : 1 }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const a = app.server.address();
  return { app, url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}` };
}

async function startHub(dir: string): Promise<{ hub: Hub; url: string; store: SqliteStore; dbPath: string }> {
  const dbPath = join(dir, 'hub.db');
  const store =
    process.env.BENCH_STORE === 'sqlite' ? new SqliteStore(dbPath) : new SqliteThreadedStore(dbPath);
  applyWhatIfs(store, WHATIF);
  const hub = await createHub({
    store,
    auth: { agentSecret: AGENT_SECRET, operators: [{ name: 'root', role: 'admin', token: 'bench-admin' }] },
    rules: [],
  });
  const url = await hub.listen(0, '127.0.0.1');
  return { hub, url, store, dbPath };
}

/** Runs the load child against `url`; samples this process's CPU and ELU over the measured window. */
async function drive(config: LoadConfig, profile?: string): Promise<Omit<Window, 'target' | 'hub'>> {
  const child = fork(LOAD, [], {
    cwd: REPO,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let cpu0: NodeJS.CpuUsage | undefined;
  let m0 = machineCpu();
  let elu0: ReturnType<typeof performance.eventLoopUtilization> | undefined;
  let t0 = 0;
  let session: Session | undefined;
  const result = await new Promise<{
    load: LoadResult;
    cpu: NodeJS.CpuUsage;
    elu: number;
    wallMs: number;
    machine: { busyMs: number; totalMs: number };
  }>((resolve, reject) => {
    const timer = setTimeout(
      () => {
        child.kill('SIGKILL');
        reject(new Error('load generator did not finish in time'));
      },
      (config.warmupS + config.durationS + 60) * 1000,
    );
    child.on('message', (m: { kind: string; message?: string }) => {
      if (m.kind === 'measuring') {
        cpu0 = process.cpuUsage();
        m0 = machineCpu();
        elu0 = performance.eventLoopUtilization();
        t0 = performance.now();
        if (profile) {
          session = new Session();
          session.connect();
          void session.post('Profiler.enable').then(() => session!.post('Profiler.start'));
        }
      } else if (m.kind === 'result') {
        clearTimeout(timer);
        resolve({
          load: m as unknown as LoadResult,
          cpu: process.cpuUsage(cpu0),
          machine: machineCpu(),
          elu: performance.eventLoopUtilization(elu0).utilization,
          wallMs: performance.now() - t0,
        });
      } else if (m.kind === 'error') {
        clearTimeout(timer);
        reject(new Error(`load generator failed: ${m.message}`));
      }
    });
    child.once('exit', (code) => {
      if (code !== 0) {
        clearTimeout(timer);
        reject(new Error(`load generator exited with ${code}`));
      }
    });
    child.send(config);
  });
  if (session && profile) {
    const { profile: p } = await session.post('Profiler.stop');
    writeFileSync(profile, JSON.stringify(p));
    session.disconnect();
  }
  const { load } = result;
  const serverCpuPct = ((result.cpu.user + result.cpu.system) / 1000 / result.wallMs) * 100;
  const machineBusyPct = ((result.machine.busyMs - m0.busyMs) / result.wallMs) * 100;
  return {
    batch: config.batch,
    connections: config.connections,
    load,
    eventsPerS: load.events2xx / load.durationS,
    requestsPerS: load.ok / load.durationS,
    serverCpuPct,
    serverElu: result.elu,
    machineBusyPct,
    otherPct: Math.max(0, machineBusyPct - serverCpuPct - load.cpuPct),
    loadAverage: loadAverage(),
  };
}

const k = (x: number) => Math.round(x).toLocaleString('en-US');

/** Every acknowledged event must have its receipt in the store (durable before the 2xx). */
function missingAcknowledged(store: SqliteStore, ackFile: string): { acknowledged: number; missing: number } {
  const text = readFileSync(ackFile, 'utf8');
  const lines = text ? text.split('\n') : [];
  const has = store.db.prepare('SELECT 1 FROM receipts WHERE ce_source = ? AND ce_id = ?').pluck();
  let missing = 0;
  for (const line of lines) {
    const tab = line.indexOf('\t');
    if (!has.get(line.slice(0, tab), line.slice(tab + 1))) missing++;
  }
  return { acknowledged: lines.length, missing };
}

async function run(log: (m: string) => void): Promise<BenchReport> {
  const tmp = mkdtempSync(join(os.tmpdir(), 'forewarn-bench-ingest-'));
  if (CPU_PROF_DIR) mkdirSync(CPU_PROF_DIR, { recursive: true });
  const probe = commitProbe(tmp);
  log(
    `disk: one durable SQLite commit (WAL, synchronous=FULL) takes p50 ${probe.p50.toFixed(0)} µs, p99 ${probe.p99.toFixed(0)} µs`,
  );
  const costs = await measureIngestCosts();
  log(`costs per event without HTTP (µs): ${JSON.stringify(costs)}`);
  const bare = TARGETS.includes('bare') ? await startBare() : undefined;
  const windows: Window[] = [];
  let runTag = (Date.now() & 0x7fffffff) >>> 0;
  try {
    for (const batch of ROWS) {
      const connections = batch === 1 ? CONNECTIONS : BATCH_CONNECTIONS;
      const base = {
        path: PATH,
        batch,
        connections,
        vms: VMS,
        agentSecret: AGENT_SECRET,
        warmupS: WARMUP,
        durationS: SECONDS,
        ackFile: join(tmp, `acked-${batch}.tsv`),
      };
      if (bare) {
        log(`bare route, ${batch} event(s)/request, ${connections} connections…`);
        const w = await drive({ ...base, url: bare.url, runTag: runTag++ });
        windows.push({ target: 'bare', ...w });
        log(
          `  bare: ${k(w.eventsPerS)} events/s, p99 ${ms(w.load.latency.p99, 2)}, machine busy ${w.machineBusyPct.toFixed(0)} % (other work ${w.otherPct.toFixed(0)} %)`,
        );
      }
      if (TARGETS.includes('hub')) {
        const dir = join(tmp, `hub-${batch}`);
        mkdirSync(dir, { recursive: true });
        const h = await startHub(dir);
        try {
          log(`hub${WHATIF_LABEL}, ${batch} event(s)/request, ${connections} connections…`);
          const profile = CPU_PROF_DIR
            ? join(CPU_PROF_DIR, `hub-ingest-batch${batch}.cpuprofile`)
            : undefined;
          const w = await drive({ ...base, url: h.url, runTag: runTag++ }, profile);
          const db = h.store.db;
          const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
          const stored = count('SELECT COUNT(*) AS n FROM transitions');
          const unplannedAtEnd = count(
            'SELECT COUNT(*) AS n FROM transitions WHERE id > (SELECT id FROM plan_cursor)',
          );
          const t0 = performance.now();
          await h.hub.idle();
          const planDrainMs = performance.now() - t0;
          const { acknowledged, missing } = missingAcknowledged(h.store, base.ackFile);
          const dbBytes =
            (db.pragma('page_count', { simple: true }) as number) *
            (db.pragma('page_size', { simple: true }) as number);
          windows.push({
            target: 'hub',
            ...w,
            hub: { stored, acknowledged, missing, unplannedAtEnd, planDrainMs, dbBytes },
          });
          log(
            `  hub: ${k(w.eventsPerS)} events/s, p99 ${ms(w.load.latency.p99, 2)}; ${k(acknowledged)} acknowledged, ${k(missing)} of them missing, ${k(stored)} stored; planner ${k(unplannedAtEnd)} behind, caught up in ${ms(planDrainMs, 0)}; machine busy ${w.machineBusyPct.toFixed(0)} % (other work ${w.otherPct.toFixed(0)} %)`,
          );
          if (profile) log(`  wrote ${profile}`);
        } finally {
          await h.hub.close();
          await h.store.close();
        }
      }
    }
  } finally {
    await bare?.app.close();
    rmSync(tmp, { recursive: true, force: true });
  }

  const rows: BenchRow[] = [
    {
      metric: 'disk: durable SQLite commit p50 / p99',
      value: `${(probe.p50 / 1000).toFixed(2)} ms / ${(probe.p99 / 1000).toFixed(2)} ms`,
    },
  ];
  const us = (x: number) => `${x.toFixed(0)} µs`;
  const ceiling = (store: { batch1: number; batch100: number }, plan: number, b: 'batch1' | 'batch100') =>
    k(1e6 / (costs.parse[b] + store[b] + plan));
  rows.push(
    {
      metric: 'per event, no HTTP: parse+validate (1 / 100 per batch)',
      value: `${us(costs.parse.batch1)} / ${us(costs.parse.batch100)}`,
    },
    {
      metric: 'per event: store.ingest, FULL (1 / 100 per txn)',
      value: `${us(costs.storeFull.batch1)} / ${us(costs.storeFull.batch100)}`,
    },
    {
      metric: 'per event: store.ingest, NORMAL (1 / 100 per txn)',
      value: `${us(costs.storeNormal.batch1)} / ${us(costs.storeNormal.batch100)}`,
    },
    {
      metric: 'per event: planner with no rules, FULL / NORMAL',
      value: `${us(costs.planNoRules.full)} / ${us(costs.planNoRules.normal)}`,
    },
    {
      metric: `planner.vmTags per affected VM: 0 / ${k(costs.vmTagsMs.vms)} VMs known`,
      value: `${costs.vmTagsMs.empty.toFixed(2)} ms / ${costs.vmTagsMs.full.toFixed(2)} ms`,
    },
    {
      metric: 'one-thread ceiling, parse+store+plan (1 / 100 per req)',
      value: `${ceiling(costs.storeFull, costs.planNoRules.full, 'batch1')} / ${ceiling(costs.storeFull, costs.planNoRules.full, 'batch100')} events/s FULL; ${ceiling(costs.storeNormal, costs.planNoRules.normal, 'batch1')} / ${ceiling(costs.storeNormal, costs.planNoRules.normal, 'batch100')} NORMAL`,
    },
  );
  const best = { eventsPerS: 0, batch: 0 };
  for (const batch of ROWS) {
    const b = windows.find((w) => w.target === 'bare' && w.batch === batch);
    const h = windows.find((w) => w.target === 'hub' && w.batch === batch);
    const label = `${batch} event${batch === 1 ? '' : 's'}/req, ${(h ?? b)?.connections} conns`;
    if (b) {
      rows.push({ metric: `bare route, ${label}: events/s`, value: k(b.eventsPerS) });
      rows.push({
        metric: `bare route, ${label}: request p50 / p99`,
        value: `${ms(b.load.latency.p50, 2)} / ${ms(b.load.latency.p99, 2)}`,
      });
    }
    if (h) {
      const hub = h.hub!;
      if (h.eventsPerS > best.eventsPerS) Object.assign(best, { eventsPerS: h.eventsPerS, batch });
      rows.push({
        metric: `hub, ${label}: events/s (durable)`,
        value: k(h.eventsPerS),
        target: `≥ ${k(EVENTS_PER_S_TARGET)}`,
        pass: h.eventsPerS >= EVENTS_PER_S_TARGET,
      });
      rows.push({
        metric: `hub, ${label}: request p50 / p99 / max`,
        value: `${ms(h.load.latency.p50, 2)} / ${ms(h.load.latency.p99, 2)} / ${ms(h.load.latency.max, 0)}`,
      });
      if (b)
        rows.push({
          metric: `hub / bare route, ${label}`,
          value: `${(h.eventsPerS / b.eventsPerS).toFixed(3)}×`,
          target: `≥ ${RATIO_TARGET}×`,
          pass: h.eventsPerS / b.eventsPerS >= RATIO_TARGET,
        });
      rows.push({
        metric: `hub, ${label}: acknowledged events missing from store`,
        value: `${k(hub.missing)} of ${k(hub.acknowledged)}; non-2xx ${h.load.non2xx}, errors ${h.load.errors} (timeouts ${h.load.timeouts})`,
        target: '0, no errors',
        pass: hub.missing === 0 && h.load.non2xx === 0 && h.load.errors === 0,
      });
      rows.push({
        metric: `hub, ${label}: planner behind at end / catch-up`,
        value: `${k(hub.unplannedAtEnd)} / ${ms(hub.planDrainMs, 0)}`,
      });
      rows.push({
        metric: `hub, ${label}: CPU hub / load gen / other`,
        value: `${h.serverCpuPct.toFixed(0)} / ${h.load.cpuPct.toFixed(0)} / ${h.otherPct.toFixed(0)} % of a core; hub ELU ${h.serverElu.toFixed(2)}`,
      });
    }
  }
  if (best.batch)
    rows.push({
      metric: 'best hub row',
      value: `${best.batch} event(s)/req: ${k(best.eventsPerS)} events/s`,
      target: `≥ ${k(EVENTS_PER_S_TARGET)}`,
      pass: best.eventsPerS >= EVENTS_PER_S_TARGET,
    });

  return {
    name: WHATIF.length ? `hub-ingest-whatif-${WHATIF.join('+')}` : 'hub-ingest',
    title: `Hub ingest, durable (SQLite WAL, synchronous=FULL) vs a bare Fastify route; ${os.cpus().length} cores shared with the load generator${WHATIF_LABEL}`,
    rows,
    data: {
      machine: {
        cpus: os.cpus().length,
        cpu: os.cpus()[0]?.model,
        node: process.version,
        platform: process.platform,
        durableCommitMicros: probe,
      },
      costsMicrosPerEvent: costs,
      source: sourceState(REPO),
      config: {
        seconds: SECONDS,
        warmupSeconds: WARMUP,
        vms: VMS,
        connections: CONNECTIONS,
        batchConnections: BATCH_CONNECTIONS,
        rows: ROWS,
        whatIf: WHATIF,
        loadGenerator: 'autocannon 9 in a child process on the same 2 cores, keep-alive, pipelining 1',
      },
      targets: { eventsPerS: EVENTS_PER_S_TARGET, ratioToBare: RATIO_TARGET },
      windows,
    },
  };
}

export const benchmark: Benchmark = {
  name: 'hub-ingest',
  title: 'Hub ingest: durable events/s and request latency vs a bare Fastify route',
  run,
};
