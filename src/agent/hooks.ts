// Local hooks: operator scripts run on the VM for a transition (drain, graceful shutdown …).
// argv, never a shell; the event as FOREWARN_* variables and as JSON on stdin; a timeout that
// kills the whole process group; output kept, truncated.
import { spawn } from 'node:child_process';
import type { TransitionRecord } from '../core/transition.js';

export interface HookSpec {
  name: string;
  /** argv: command[0] is the program. */
  command: string[];
  timeoutMs: number;
  env?: Record<string, string>;
  cwd?: string;
}

export interface HookResult {
  hook: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  stdout: string;
  stderr: string;
  /** Could not start at all (missing program, permissions). */
  error?: string;
  ok: boolean;
}

const OUTPUT_LIMIT = 16 * 1024;

export function hookEnv(t: TransitionRecord): Record<string, string> {
  const e = t.event;
  return {
    FOREWARN_TRANSITION: t.transition,
    FOREWARN_TRANSITION_ID: t.id,
    FOREWARN_PROVIDER: e.provider,
    FOREWARN_EVENT_ID: e.eventId,
    FOREWARN_EVENT_TYPE: e.type,
    FOREWARN_EVENT_STATUS: e.status,
    FOREWARN_NOT_BEFORE: e.notBefore ?? '',
    FOREWARN_DURATION_SECONDS: e.durationSeconds === undefined ? '' : String(e.durationSeconds),
    FOREWARN_DESCRIPTION: e.description ?? '',
    FOREWARN_ORIGIN: e.origin,
    FOREWARN_RESOURCES: e.resources.join(','),
    FOREWARN_VM: e.vm,
    FOREWARN_MINE: t.mine ? 'true' : 'false',
  };
}

function capped(chunks: Buffer[]): string {
  const all = Buffer.concat(chunks);
  return all.length <= OUTPUT_LIMIT
    ? all.toString('utf8')
    : `${all.subarray(0, OUTPUT_LIMIT).toString('utf8')}\n…[truncated ${all.length - OUTPUT_LIMIT} bytes]`;
}

export function runHook(
  spec: HookSpec,
  input: { env: Record<string, string>; stdin: string },
): Promise<HookResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const [program, ...args] = spec.command;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outSize = 0;
    let errSize = 0;
    let timedOut = false;
    let settled = false;
    const finish = (r: Omit<HookResult, 'hook' | 'durationMs' | 'stdout' | 'stderr' | 'ok'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const ok = !r.error && !r.timedOut && r.exitCode === 0;
      resolve({
        hook: spec.name,
        ...r,
        ok,
        durationMs: Math.round(performance.now() - started),
        stdout: capped(out),
        stderr: capped(err),
      });
    };
    const child = spawn(program!, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...spec.env, ...input.env },
      cwd: spec.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true, // own process group, so a timeout kills the script's children too
    });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, spec.timeoutMs);
    child.stdout.on('data', (c: Buffer) => {
      if (outSize < OUTPUT_LIMIT * 2) out.push(c);
      outSize += c.length;
    });
    child.stderr.on('data', (c: Buffer) => {
      if (errSize < OUTPUT_LIMIT * 2) err.push(c);
      errSize += c.length;
    });
    child.stdin.on('error', () => {
      // the hook may exit without reading stdin: not an error of ours
    });
    child.stdin.end(input.stdin);
    child.on('error', (e) => finish({ exitCode: null, signal: null, timedOut: false, error: e.message }));
    child.on('close', (code, signal) => finish({ exitCode: code, signal, timedOut }));
  });
}
