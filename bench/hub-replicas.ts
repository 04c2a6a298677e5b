// Ingest throughput and wave latency of `forewarn hub` processes: the SQLite single node, then 1, 2
// and 3 replicas on one PostgreSQL schema, side by side in one run (issue #8 acceptance).
//
// Each configuration: fresh store (temp SQLite file / fresh schema), N hub child processes started
// from the compiled CLI (bench/lib/hub-child.ts; BENCH_HUB_ENTRY=tsx for the source) with one rule (a webhook step on every `scheduled` reboot), and from this process a
// wave: BENCH_REPLICAS_VMS agents (default 50) each POST one batch of BENCH_REPLICAS_EVENTS_PER_VM
// (default 100) scheduled transitions at once, VM i to replica i mod N (as a load balancer would
// spread them). This process is also the webhook receiver, so "accepted → webhook" is one clock.
// Measured: ingest rate (events / (last 2xx − first POST)), accepted → webhook p50 / p99, the whole
// wave's duration, accepted (batch 2xx) → webhook per event, duplicates (same Idempotency-Key twice: must be 0), and CPU of the hubs and of
// PostgreSQL's processes against the machine's, which says where the time goes on 2 cores.
//
// The `jetstream:N` sets are N replicas on PostgreSQL fed through NATS JetStream instead: each VM's
// agent publishes its transitions to a private nats-server (NatsPublisher, one connection per VM),
// "accepted" is the last PubAck of its batch, and the hubs share one durable consumer (one hub at a
// time consumes, the ingest-lease holder) with BENCH_REPLICAS_NATS_MAX_ACK_PENDING messages in
// flight (default 1024, the transport's default).
//
// Knobs (env): BENCH_REPLICAS_VMS, BENCH_REPLICAS_EVENTS_PER_VM, BENCH_REPLICAS_DEADLINE_S (120),
// BENCH_REPLICAS_SETS (e.g. "sqlite:1,postgres:1,postgres:3,jetstream:2"), FOREWARN_TEST_PG_URL,
// BENCH_REPLICAS_NATS_MAX_ACK_PENDING.
// Quick (--quick): 10 × 20 events, sets sqlite:1, postgres:2 and jetstream:2.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { deriveAgentToken } from '../src/hub/auth.js';
import { idempotencyKey } from '../src/hub/planner.js';
import { eventKey } from '../src/store/store.js';
import type { HubProcess } from '../test/helpers/hub-process.js';
import { dropSchema, PG_URL, postgresMissing, uniqueSchema } from '../test/helpers/postgres.js';
import { BATCH_CONTENT_TYPE, VmBatcher, benchRecord, eventIdOf, vmName } from './lib/ce-batch.js';
import { natsTransportYaml, publishAsAgent, startBenchNats } from './lib/nats-wave.js';
import { waitFor } from '../test/helpers/wait.js';
import { startHubChild } from './lib/hub-child.js';
import { loadAverage, machineCpu } from './lib/machine.js';
import { clockTicksPerSecond, sampleProc } from './lib/proc.js';
import type { Benchmark, BenchReport, BenchRow, Chart } from './lib/report.js';
import { ms, summarize, wallNow, type Summary } from './lib/stats.js';
import { envNumber, sized } from './lib/env.js';
import { barChart } from './lib/svg.js';

const VMS = envNumber('BENCH_REPLICAS_VMS', sized(50, 10));
const PER_VM = envNumber('BENCH_REPLICAS_EVENTS_PER_VM', sized(100, 20));
const DEADLINE_S = envNumber('BENCH_REPLICAS_DEADLINE_S', 120);
const SETS = (
  process.env.BENCH_REPLICAS_SETS ??
  sized('sqlite:1,postgres:1,postgres:2,postgres:3,jetstream:3', 'sqlite:1,postgres:2,jetstream:2')
)
  .split(',')
  .map((s) => {
    const [kind, n] = s.split(':');
    return { kind: kind as Kind, replicas: Number(n ?? 1) };
  });
const MAX_ACK_PENDING = envNumber('BENCH_REPLICAS_NATS_MAX_ACK_PENDING', 1024);
const AGENT_SECRET = 'bench-replicas-agent-secret';
type Kind = 'sqlite' | 'postgres' | 'jetstream';
const k = (x: number) => Math.round(x).toLocaleString('en-US');

/** CPU ticks of every PostgreSQL server process on this machine. */
function postgresTicks(): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
      ticks += sampleProc(Number(pid)).ticks;
    } catch {
      // gone
    }
  }
  return ticks;
}

interface SetResult {
  label: string;
  ingestPerS: number;
  publish: Summary;
  latency: Summary;
  waveMs: number;
  delivered: number;
  expected: number;
  duplicates: number;
  rejected: number;
  cpuPct: { hubs: number; postgres: number; machine: number };
}

async function runSet(kind: Kind, replicas: number, log: (m: string) => void) {
  const label = kind === 'jetstream' ? `jetstream → postgres × ${replicas}` : `${kind} × ${replicas}`;
  const nats =
    kind === 'jetstream' ? await startBenchNats(Array.from({ length: VMS }, (_, v) => vmName(v))) : undefined;
  const dir = mkdtempSync(join(os.tmpdir(), 'forewarn-bench-replicas-'));
  const schema = uniqueSchema('bench');
  const arrivals = new Map<string, number[]>();
  let onArrival = () => {};
  const server = createServer((req, res) => {
    const key = String(req.headers['idempotency-key'] ?? '');
    req.resume();
    req.on('end', () => {
      const list = arrivals.get(key) ?? [];
      list.push(wallNow());
      arrivals.set(key, list);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 }).end('{}');
      onArrival();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const config = join(dir, 'hub.yaml');
  writeFileSync(
    config,
    [
      ...(nats ? natsTransportYaml(nats, MAX_ACK_PENDING) : []),
      ...(kind !== 'sqlite'
        ? ['store:', '  kind: postgres', `  url: ${PG_URL}`, `  schema: ${schema}`, '  poolSize: 8']
        : ['store:', `  path: ${join(dir, 'hub.db')}`]),
      'log: { level: info }',
      'rules:',
      '  - name: wave',
      '    match: { types: [reboot], transitions: [scheduled] }',
      `    steps: [{ name: notify, action: webhook, with: { url: "${hookUrl}" } }]`,
      '',
    ].join('\n'),
  );
  const hubs: HubProcess[] = [];
  const dispatcher = new Agent({ connections: VMS, keepAliveTimeout: 30_000 });
  try {
    for (let i = 0; i < replicas; i++) {
      const h = await startHubChild({ config, env: { FOREWARN_AGENT_SECRET: AGENT_SECRET } }, log);
      hubs.push(h);
      if (nats) await waitFor(() => /consuming the NATS stream|standing by/.test(h.output()), 30_000, 50);
    }
    log(`${label}: ${hubs.length} hub(s) up; wave of ${k(VMS * PER_VM)} events`);
    const runTag = (Date.now() & 0x7fffffff) >>> 0;
    const notBefore = new Date(Date.now() + 3_600_000).toISOString();
    const batches = Array.from({ length: VMS }, (_, v) => {
      const b = new VmBatcher(vmName(v), notBefore);
      const ids = Array.from({ length: PER_VM }, (_, s) => eventIdOf(runTag, v, s));
      return {
        vm: vmName(v),
        body: b.batch(ids),
        ids,
        records: ids.map((id) => benchRecord(vmName(v), id, notBefore)),
      };
    });
    const expected = VMS * PER_VM;
    const ticks0 = hubs.map((h) => sampleProc(h.child.pid!).ticks);
    const pg0 = postgresTicks();
    const m0 = machineCpu();
    const t0 = wallNow();
    /** Idempotency-Key of each event's step → when its batch was acknowledged. */
    const accepted = new Map<string, number>();
    const publishMs: number[] = [];
    let rejected = 0;
    const done = new Promise<void>((resolve) => {
      const check = () => {
        if (arrivals.size >= expected) resolve();
      };
      onArrival = check;
      setTimeout(resolve, DEADLINE_S * 1000).unref();
    });
    await Promise.all(
      batches.map(async (b, i) => {
        const s = wallNow();
        if (nats) {
          const ok = await publishAsAgent(nats, b.vm, b.records).then(
            () => true,
            () => false,
          );
          const at = wallNow();
          publishMs.push(at - s);
          if (!ok) rejected++;
          else
            for (const id of b.ids)
              accepted.set(idempotencyKey(`wave|${eventKey('azure', id)}|${b.vm}|scheduled`, 0), at);
          return;
        }
        const res = await request(`${hubs[i % hubs.length]!.url}/api/v1/events`, {
          method: 'POST',
          headers: {
            'content-type': BATCH_CONTENT_TYPE,
            authorization: `Bearer ${deriveAgentToken(AGENT_SECRET, b.vm)}`,
          },
          body: b.body,
          dispatcher,
        });
        await res.body.text();
        const at = wallNow();
        publishMs.push(at - s);
        if (res.statusCode !== 200) rejected++;
        else
          for (const id of b.ids)
            accepted.set(idempotencyKey(`wave|${eventKey('azure', id)}|${b.vm}|scheduled`, 0), at);
      }),
    );
    const lastAccepted = wallNow();
    await done;
    const wallMs = wallNow() - t0;
    const hubTicks = hubs.reduce((sum, h, i) => sum + sampleProc(h.child.pid!).ticks - ticks0[i]!, 0);
    const pgTicks = postgresTicks() - pg0;
    const m1 = machineCpu();
    const tick = 1000 / clockTicksPerSecond();
    const firstArrivals = [...arrivals.values()].map((l) => l[0]!);
    // Per event: its batch's 2xx → its webhook; one never delivered counts as Infinity.
    const latencies = [...accepted].map(([key, at]) => (arrivals.get(key)?.[0] ?? Infinity) - at);
    const result: SetResult = {
      label,
      ingestPerS: (accepted.size / (lastAccepted - t0)) * 1000,
      publish: summarize(publishMs),
      latency: summarize(latencies),
      waveMs: firstArrivals.reduce((a, b) => Math.max(a, b), -Infinity) - t0,
      delivered: arrivals.size,
      expected,
      duplicates: [...arrivals.values()].filter((l) => l.length > 1).length,
      rejected,
      cpuPct: {
        hubs: ((hubTicks * tick) / wallMs) * 100,
        postgres: ((pgTicks * tick) / wallMs) * 100,
        machine: ((m1.busyMs - m0.busyMs) / wallMs) * 100,
      },
    };
    log(
      `${label}: ingest ${k(result.ingestPerS)} events/s, ${k(result.delivered)} of ${k(expected)} webhooks in ${ms(result.waveMs, 0)}`,
    );
    return result;
  } finally {
    await Promise.all(hubs.map((h) => h.kill('SIGTERM')));
    await dispatcher.close();
    server.closeAllConnections();
    server.close();
    if (kind !== 'sqlite') await dropSchema(schema).catch(() => undefined);
    await nats?.stop();
  }
}

async function run(log: (m: string) => void): Promise<BenchReport> {
  const missing = await postgresMissing();
  const sets = SETS.filter((s) => s.kind === 'sqlite' || !missing);
  if (missing) log(`PostgreSQL sets skipped: ${missing}`);
  const results: SetResult[] = [];
  for (const s of sets) results.push(await runSet(s.kind, s.replicas, log));
  const rows: BenchRow[] = results.flatMap((r) => [
    {
      metric: r.label.startsWith('jetstream')
        ? `${r.label}: publish (first publish → last PubAck), batch p50 / p99`
        : `${r.label}: ingest (first POST → last 2xx), POST p50 / p99`,
      value: `${k(r.ingestPerS)} events/s, ${ms(r.publish.p50, 0)} / ${ms(r.publish.p99, 0)}${r.rejected ? `; ${r.rejected} rejected` : ''}`,
    },
    {
      metric: `${r.label}: wave, first POST → last webhook`,
      value: `${ms(r.waveMs, 0)} (${k((r.delivered / r.waveMs) * 1000)} webhooks/s); accepted → webhook p50 / p99 ${ms(r.latency.p50, 0)} / ${ms(r.latency.p99, 0)}`,
    },
    {
      metric: `${r.label}: delivered / twice`,
      value: `${k(r.delivered)} of ${k(r.expected)} / ${r.duplicates}`,
      target: 'all / 0',
      pass: r.delivered === r.expected && r.duplicates === 0,
    },
    {
      metric: `${r.label}: CPU hubs / postgres / machine`,
      value: `${r.cpuPct.hubs.toFixed(0)} / ${r.cpuPct.postgres.toFixed(0)} / ${r.cpuPct.machine.toFixed(0)} % of a core`,
    },
  ]);
  return {
    name: 'hub-replicas',
    title: `Hub replicas: ${k(VMS * PER_VM)} events (${VMS} batches of ${PER_VM}), 1 webhook rule, SQLite single node vs PostgreSQL × 1/2/3 hub processes; ${os.cpus().length} cores shared with this load generator and PostgreSQL`,
    rows,
    charts: charts(results),
    data: {
      machine: {
        cpus: os.cpus().length,
        cpu: os.cpus()[0]?.model,
        node: process.version,
        loadAverage: loadAverage(),
      },
      config: { vms: VMS, eventsPerVm: PER_VM, deadlineS: DEADLINE_S, sets },
      results,
    },
  };
}

/** Ingest and wave rates side by side, one group per set (SQLite × 1, PostgreSQL × n, …). */
function charts(results: SetResult[]): Chart[] {
  const svg = barChart({
    title: `Hub replicas: ingest and wave rates (${k(VMS * PER_VM)} events, 1 webhook rule)`,
    yLabel: 'per second',
    categories: results.map((r) => r.label),
    series: [
      { name: 'ingest, events/s', values: results.map((r) => r.ingestPerS) },
      { name: 'wave, webhooks/s', values: results.map((r) => (r.delivered / r.waveMs) * 1000) },
    ],
  });
  return [{ file: 'hub-replicas.svg', title: 'Ingest and wave rates by set', svg }];
}

export const benchmark: Benchmark = {
  name: 'hub-replicas',
  title: 'Hub ingest and wave: SQLite vs PostgreSQL with 1, 2, 3 replicas',
  run,
};
