// Drives one measured ingest window through the load-generator child (bench/lib/ingest-load.ts,
// autocannon) and samples this process — the servers — over it: CPU, event-loop utilisation, and
// the whole machine's busy CPU (what else ran). One child serves every window of a run.
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { LoadConfig, LoadResult } from './ingest-load.js';
import { loadAverage, machineCpu } from './machine.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const LOAD = fileURLToPath(new URL('./ingest-load.ts', import.meta.url));

export interface WindowResult {
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
}

type Message = { kind: string; message?: string };

export class LoadDriver {
  private readonly child: ChildProcess;
  private listener: ((m: Message) => void) | undefined;
  private exitCode: number | null | undefined;

  constructor() {
    this.child = fork(LOAD, [], {
      cwd: REPO,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (m: Message) => this.listener?.(m));
    this.child.once('exit', (code) => {
      this.exitCode = code;
      this.listener?.({ kind: 'error', message: `load generator exited with ${code}` });
    });
  }

  /** Runs one warm-up + measured window against `config.url`; `profile` writes a .cpuprofile of this process. */
  async window(config: LoadConfig, profile?: string): Promise<WindowResult> {
    if (this.exitCode !== undefined) throw new Error(`load generator exited with ${this.exitCode}`);
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
        () => reject(new Error('load generator did not finish in time')),
        (config.warmupS + config.durationS + 60) * 1000,
      );
      this.listener = (m) => {
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
      };
      this.child.send(config);
    });
    this.listener = undefined;
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

  async close(): Promise<void> {
    if (this.exitCode !== undefined) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.send({ kind: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
