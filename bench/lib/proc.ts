// Reads a process's memory and CPU time from /proc (Linux only).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface ProcSample {
  /** Wall clock, ms. */
  at: number;
  rssKb: number;
  /** Private anonymous memory (heap, malloc): what this process alone costs. */
  anonKb: number;
  /** File-backed resident pages, mostly the node binary's code: shared and reclaimable. */
  fileKb: number;
  hwmKb: number;
  /** utime + stime, clock ticks. */
  ticks: number;
  utime: number;
  stime: number;
}

let clkTck: number | undefined;

/** `getconf CLK_TCK`, normally 100. */
export function clockTicksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

function statusField(status: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
  return m ? Number(m[1]) : NaN;
}

export function sampleProc(pid: number): ProcSample {
  const at = performance.timeOrigin + performance.now();
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "pid (comm) ": the comm may contain spaces and parentheses, so cut at the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return {
    at,
    rssKb: statusField(status, 'VmRSS'),
    anonKb: statusField(status, 'RssAnon'),
    fileKb: statusField(status, 'RssFile'),
    hwmKb: statusField(status, 'VmHWM'),
    ticks: utime + stime,
    utime,
    stime,
  };
}

/** Direct children of a process (e.g. a helper process the child started). */
export function childPids(pid: number): number[] {
  try {
    const raw = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return raw ? raw.split(/\s+/).map(Number) : [];
  } catch {
    return [];
  }
}

export function threadCount(pid: number): number {
  const m = /^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** /proc/<pid>/io: bytes the process caused to be written to storage, and write syscalls. */
export function readIo(pid: number): { writeBytes: number; syscw: number } | undefined {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(io)?.[1] ?? NaN);
    return { writeBytes: field('write_bytes'), syscw: field('syscw') };
  } catch {
    return undefined;
  }
}
