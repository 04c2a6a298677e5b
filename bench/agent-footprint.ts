// Agent footprint (issue #10 item 5; DESIGN.md "Service levels": ≤ 60 MB RSS, ≤ 0.2 % of a core
// at a 1 s poll): the compiled agent (dist/cli/main.js, as production runs it) against the
// simulator and a receiver standing in for the hub (bench/lib/agent-bed.ts).
//
// Measured: start-up time (spawn → the simulator served its first poll), over a few fresh starts;
// then on one agent, after a warm-up event and a quiet settle period (V8's memory reducer runs a few
// GCs after start-up; the window should see the steady state), RSS (VmRSS, RssAnon, VmHWM) and CPU
// time (utime + stime from /proc) over an idle window at a 1 s poll: % of one core and ms per poll.
// With 10 ms clock ticks the CPU resolution is ±1 tick over the window (±0.017 points over 60 s).
//
// dist/ is rebuilt (tsc -p tsconfig.build.json, not timed) when it is missing or older than src/.
// Knobs (env): BENCH_IDLE_MS (60000, quick 5000), BENCH_SETTLE_MS (40000, quick 1000),
// BENCH_STARTS (3, quick 1), BENCH_AGENT_ENTRY (default dist/cli/main.js; `tsx` runs the source).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentChild, agentEntry, waitUntil } from './lib/agent-child.js';
import { startAgentBed, type AgentBed } from './lib/agent-bed.js';
import { envNumber, sized } from './lib/env.js';
import { clockTicksPerSecond, readIo, sampleProc, type ProcSample } from './lib/proc.js';
import type { Benchmark, BenchReport, BenchRow } from './lib/report.js';
import { ms, summarize, wallNow } from './lib/stats.js';

const IDLE_MS = envNumber('BENCH_IDLE_MS', sized(60_000, 5_000));
const SETTLE_MS = envNumber('BENCH_SETTLE_MS', sized(40_000, 1_000));
const STARTS = envNumber('BENCH_STARTS', sized(3, 1));
const INTERVAL_MS = 1000;
const RSS_TARGET_MB = 60;
const CPU_TARGET_PCT = 0.2;

async function start(bed: AgentBed, vm: string, stateDir: string, entry: string | undefined) {
  bed.sim.controller.fleet.add({ name: vm });
  const child = new AgentChild({
    vm,
    simUrl: bed.simUrl,
    hubUrl: bed.receiver.url,
    intervalMs: INTERVAL_MS,
    stateDir,
    entry,
  });
  await waitUntil(`the ${vm} agent's first poll`, () => bed.polls(vm).length > 0, 30_000, child);
  return { child, startupMs: bed.polls(vm)[0]!.at - child.spawnedAt };
}

async function run(log: (m: string) => void): Promise<BenchReport> {
  const { entry, build } = agentEntry(log);
  const label = entry ?? 'tsx src/cli/main.ts';
  const bed = await startAgentBed();
  const stateDir = mkdtempSync(join(os.tmpdir(), 'forewarn-bench-footprint-'));
  try {
    const startups: number[] = [];
    for (let i = 1; i < STARTS; i++) {
      const s = await start(bed, `bench-start-${i}`, join(stateDir, `start-${i}`), entry);
      startups.push(s.startupMs);
      await s.child.stop();
    }
    const vm = 'bench-footprint';
    const { child, startupMs } = await start(bed, vm, join(stateDir, 'main'), entry);
    startups.push(startupMs);
    try {
      log(`start-up to first poll: ${startups.map((s) => ms(s, 0)).join(', ')}`);
      // One event through the whole path, so the window sees a warmed-up agent.
      const [activity] = bed.sim.controller.schedule({
        type: 'Reboot',
        targets: { vms: [vm] },
        notice: '1h',
      });
      bed.tracked.set(activity!.eventId, { vm, createdAt: wallNow(), duplicates: 0 });
      await waitUntil(
        'the warm-up event',
        () => bed.tracked.get(activity!.eventId)!.receivedAt !== undefined,
        15_000,
        child,
      );
      log(`settling ${SETTLE_MS / 1000} s, then an idle window of ${IDLE_MS / 1000} s at a 1 s poll…`);
      await sleep(SETTLE_MS);
      child.assertAlive();
      const samples: ProcSample[] = [sampleProc(child.pid)];
      const io0 = readIo(child.pid);
      const end = samples[0]!.at + IDLE_MS;
      while (wallNow() < end) {
        await sleep(Math.min(1000, Math.max(0, end - wallNow())));
        child.assertAlive();
        samples.push(sampleProc(child.pid));
      }
      const io1 = readIo(child.pid);
      const first = samples[0]!;
      const last = samples[samples.length - 1]!;
      const tck = clockTicksPerSecond();
      const cpuMs = ((last.ticks - first.ticks) / tck) * 1000;
      const wallMs = last.at - first.at;
      const polls = bed.polls(vm, first.at, last.at).length;
      const idle = {
        wallMs: Math.round(wallMs),
        polls,
        cpuTicks: last.ticks - first.ticks,
        cpuPctOfCore: Math.round((cpuMs / wallMs) * 100 * 1000) / 1000,
        cpuMsPerPoll: polls ? Math.round((cpuMs / polls) * 100) / 100 : NaN,
        rssKb: last.rssKb,
        rssKbMax: Math.max(...samples.map((s) => s.rssKb)),
        anonKb: last.anonKb,
        fileKb: last.fileKb,
        hwmKb: last.hwmKb,
        diskWriteBytes: io0 && io1 ? io1.writeBytes - io0.writeBytes : null,
      };
      return report(summarize(startups), startups, idle, `${label}, ${build}`);
    } finally {
      await child.stop();
    }
  } finally {
    await bed.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

function report(
  startup: ReturnType<typeof summarize>,
  startups: number[],
  idle: {
    wallMs: number;
    polls: number;
    cpuPctOfCore: number;
    cpuMsPerPoll: number;
    rssKb: number;
    rssKbMax: number;
    anonKb: number;
    fileKb: number;
    hwmKb: number;
    diskWriteBytes: number | null;
  },
  build: string,
): BenchReport {
  const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;
  const perPollTarget = (CPU_TARGET_PCT / 100) * INTERVAL_MS;
  const rows: BenchRow[] = [
    {
      metric: `start-up: spawn → first poll (p50 of ${startups.length})`,
      value: `${ms(startup.p50, 0)} (max ${ms(startup.max, 0)})`,
    },
    {
      metric: `idle RSS (VmRSS, max over ${Math.round(idle.wallMs / 1000)} s)`,
      value: mb(idle.rssKbMax),
      target: `≤ ${RSS_TARGET_MB} MB`,
      pass: idle.rssKbMax / 1024 <= RSS_TARGET_MB,
      headline: true,
    },
    {
      metric: '  of which private (RssAnon) / file-backed (RssFile)',
      value: `${mb(idle.anonKb)} / ${mb(idle.fileKb)}`,
    },
    { metric: 'VmHWM (peak since start, incl. start-up)', value: mb(idle.hwmKb) },
    {
      metric: `idle CPU at a 1 s poll (${idle.polls} polls)`,
      value: `${idle.cpuPctOfCore.toFixed(3)} % of a core`,
      target: `≤ ${CPU_TARGET_PCT} %`,
      pass: idle.cpuPctOfCore <= CPU_TARGET_PCT,
      headline: true,
    },
    {
      metric: 'CPU per poll',
      value: ms(idle.cpuMsPerPoll, 2),
      target: `≤ ${perPollTarget} ms`,
      pass: idle.cpuMsPerPoll <= perPollTarget,
    },
    {
      metric: 'idle disk writes',
      value:
        idle.diskWriteBytes === null
          ? 'n/a'
          : `${(idle.diskWriteBytes / 1024 / (idle.wallMs / 1000)).toFixed(1)} KB/s`,
    },
  ];
  return {
    name: 'agent-footprint',
    title: `Agent footprint: RSS, CPU per poll, start-up [${build}]`,
    rows,
    notes: [
      `The agent (${build}), \`--poll-interval 1s\`, against the simulator. RSS includes about 40–45 MB of the node binary's own file-backed pages, shared with every other Node process; RssAnon is what this agent alone costs.`,
      `CPU: utime + stime from /proc over a ${Math.round(idle.wallMs / 1000)} s idle window after ${SETTLE_MS / 1000} s of settling; the resolution is one clock tick (${(1000 / clockTicksPerSecond()).toFixed(0)} ms) over the window.`,
    ],
    data: {
      config: {
        entry: build,
        idleMs: IDLE_MS,
        settleMs: SETTLE_MS,
        starts: STARTS,
        intervalMs: INTERVAL_MS,
      },
      targets: { rssMb: RSS_TARGET_MB, cpuPctOfCore: CPU_TARGET_PCT },
      startupMs: { ...startup, all: startups.map(Math.round) },
      idle,
    },
  };
}

export const benchmark: Benchmark = {
  name: 'agent-footprint',
  title: 'Agent footprint: RSS, CPU per poll, start-up (compiled)',
  run,
};
