// What else the machine was doing during a measured window, and how fast its disk commits: the
// hub benchmarks share 2 cores with their load generator, and on a shared machine with whatever
// else runs, so each window records the whole machine's busy CPU next to its own processes'.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { clockTicksPerSecond } from './proc.js';
import { summarize, type Summary } from './stats.js';

/** Busy and total CPU time of the whole machine so far, in ms (from /proc/stat). */
export function machineCpu(): { busyMs: number; totalMs: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal …
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const tick = 1000 / clockTicksPerSecond();
    return { busyMs: (total - idle) * tick, totalMs: total * tick };
  } catch {
    return { busyMs: NaN, totalMs: NaN };
  }
}

export function loadAverage(): number[] {
  return os.loadavg().map((x) => Math.round(x * 100) / 100);
}

/**
 * The disk's durable-commit latency as the hub's store sees it: autocommit INSERTs into a WAL
 * SQLite file with synchronous=FULL (one fsync each) — the floor under one ingest transaction.
 */
export function commitProbe(dir: string, n = 300): Summary {
  const tmp = mkdtempSync(join(dir, 'commit-probe-'));
  const db = new Database(join(tmp, 'probe.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const ins = db.prepare('INSERT INTO t (v) VALUES (?)');
    const payload = 'x'.repeat(1000);
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      ins.run(payload);
      times.push((performance.now() - t0) * 1000);
    }
    return summarize(times); // µs
  } finally {
    db.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Which source was measured: HEAD, and whether src/ had uncommitted edits (others work in the same tree). */
export function sourceState(repo: string): { head: string; dirtySrcFiles: number } {
  try {
    const git = (args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
    const dirty = git(['status', '--porcelain', '--', 'src']);
    return {
      head: git(['rev-parse', '--short', 'HEAD']),
      dirtySrcFiles: dirty ? dirty.split('\n').length : 0,
    };
  } catch {
    return { head: 'unknown', dirtySrcFiles: -1 };
  }
}

export interface MachineInfo {
  date: string;
  commit: string;
  dirtySrcFiles: number;
  node: string;
  platform: string;
  cpu: string;
  cores: number;
  memoryGb: number;
  loadAverage: number[];
}

/** What a result was measured on and from which source: recorded in every docs/benchmarks/*.json. */
export function describeMachine(repo: string): MachineInfo {
  const src = sourceState(repo);
  return {
    date: new Date().toISOString(),
    commit: src.head,
    dirtySrcFiles: src.dirtySrcFiles,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverage: loadAverage(),
  };
}

export function machineLine(m: MachineInfo): string {
  return `${m.cores} × ${m.cpu}, ${m.memoryGb} GB, ${m.platform}, Node ${m.node}; load average ${m.loadAverage.join(' / ')}`;
}
