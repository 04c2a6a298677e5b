// The real `forewarn agent` CLI as a child process of a benchmark (tsx by default, or a compiled
// entry such as dist/cli/main.js), plus the small helpers the agent benchmarks share.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const AGENT_TOKEN = 'bench-agent-token';

/** Agents still running: killed if this process exits without stopping them (a crash, Ctrl-C). */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

export interface AgentChildOptions {
  vm: string;
  simUrl: string;
  hubUrl: string;
  intervalMs: number;
  stateDir: string;
  /** A compiled CLI entry (e.g. dist/cli/main.js); default `--import tsx src/cli/main.ts`. */
  entry?: string;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
}

export class AgentChild {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Wall clock (performance.timeOrigin + now) just before spawn. */
  readonly spawnedAt: number;
  private stderr = '';
  exitCode: number | null | undefined;
  readonly exited: Promise<void>;

  constructor(o: AgentChildOptions) {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (k.startsWith('FOREWARN_') || /^(https?|all|no)_proxy$/i.test(k)) continue;
      env[k] = v;
    }
    env.FOREWARN_HUB_TOKEN = AGENT_TOKEN;
    const nodeArgs = [...(o.entry ? [] : ['--import', 'tsx']), ...(o.nodeArgs ?? [])];
    this.spawnedAt = performance.timeOrigin + performance.now();
    this.proc = spawn(
      process.execPath,
      [
        ...nodeArgs,
        o.entry ?? 'src/cli/main.ts',
        'agent',
        '--vm',
        o.vm,
        '--metadata-url',
        `${o.simUrl}/vm/${o.vm}`,
        '--hub-url',
        o.hubUrl,
        '--state-dir',
        o.stateDir,
        '--poll-interval',
        `${o.intervalMs}ms`,
        '--log-level',
        'silent',
      ],
      { cwd: REPO, env, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    if (this.proc.pid === undefined) throw new Error('could not start the agent child process');
    this.pid = this.proc.pid;
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stderr!.on('data', (c: string) => {
      this.stderr = (this.stderr + c).slice(-4000);
    });
    running.add(this.proc);
    this.exited = new Promise((resolve) =>
      this.proc.once('exit', (code) => {
        running.delete(this.proc);
        this.exitCode = code;
        resolve();
      }),
    );
  }

  get alive(): boolean {
    return this.exitCode === undefined;
  }

  assertAlive(): void {
    if (!this.alive) throw new Error(`agent exited early (code ${this.exitCode}): ${this.stderr.trim()}`);
  }

  /** SIGTERM (a clean stop, which also writes a --cpu-prof profile), then SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.alive && this.proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

export async function waitUntil(
  what: string,
  cond: () => boolean,
  timeoutMs: number,
  child?: AgentChild,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    child?.assertAlive();
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** mulberry32: a small seeded PRNG so the event gaps are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Which CLI the agent benchmarks run: BENCH_AGENT_ENTRY, by default the compiled dist/cli/main.js
 * (what production runs; it also starts in a second, not eight under tsx on a busy machine),
 * rebuilt with tsc first when missing or older than src/ (not timed). `tsx` runs the source.
 */
export function agentEntry(log: (m: string) => void): { entry: string | undefined; build: string } {
  const wanted = process.env.BENCH_AGENT_ENTRY || 'dist/cli/main.js';
  if (wanted === 'tsx') return { entry: undefined, build: 'source under tsx' };
  if (wanted !== 'dist/cli/main.js') return { entry: wanted, build: 'as given' };
  const main = join(REPO, wanted);
  const built = existsSync(main) ? statSync(main).mtimeMs : 0;
  if (built >= newestMtime(join(REPO, 'src'))) return { entry: wanted, build: 'dist/ up to date' };
  log('dist/ is missing or older than src/: tsc -p tsconfig.build.json (not timed)…');
  execFileSync(
    process.execPath,
    [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: REPO,
      stdio: 'inherit',
    },
  );
  return { entry: wanted, build: 'dist/ rebuilt for this run' };
}
