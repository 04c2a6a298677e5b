// `command`: runs a program on the hub host, what the old setups' scripts did. argv is executed
// directly (no shell unless `shell: true`); the event arrives as FOREWARN_* environment variables
// and as JSON on stdin. The process gets its own process group, so a timeout (or the step's own
// timeout) kills everything it started. Exit 0 is success; other codes are retryable failures
// unless listed in `nonRetryableCodes`. The tail of stdout and stderr is kept in the attempt.
import { spawn } from 'node:child_process';
import { parseDuration } from '../core/time.js';
import type { Action, ActionContext, ActionResult } from './action.js';
import { ActionConfigError } from './action.js';
import { CONTEXT_ROOTS, eventContext, noticeOf } from './event-context.js';
import { isSecretRef, resolveSecret } from './secrets.js';
import { checkTemplate, renderString } from './template.js';

const FIELDS = new Set(['argv', 'shell', 'cwd', 'env', 'timeout', 'nonRetryableCodes', 'maxOutput']);
const DEFAULT_MAX_OUTPUT = 4096;

/** The event as FOREWARN_* variables (strings only; lists comma-separated). */
export function eventEnv(ctx: ActionContext, params: Record<string, unknown>): Record<string, string> {
  const e = ctx.event;
  const notice = noticeOf(params);
  const env: Record<string, string | undefined> = {
    FOREWARN_RULE: ctx.rule,
    FOREWARN_STEP: ctx.step,
    FOREWARN_PHASE: ctx.phase,
    FOREWARN_VM: ctx.vm,
    FOREWARN_TRANSITION: ctx.transition,
    FOREWARN_PROVIDER: e.provider,
    FOREWARN_EVENT_ID: e.eventId,
    FOREWARN_EVENT_KEY: e.key,
    FOREWARN_EVENT_TYPE: e.type,
    FOREWARN_EVENT_STATUS: e.status,
    FOREWARN_NOT_BEFORE: e.notBefore,
    FOREWARN_DURATION_SECONDS: e.durationSeconds === undefined ? undefined : String(e.durationSeconds),
    FOREWARN_DESCRIPTION: e.description,
    FOREWARN_ORIGIN: e.origin,
    FOREWARN_RESOURCES: e.resources.join(','),
    FOREWARN_EVENT_URL: ctx.eventUrl,
    FOREWARN_IDEMPOTENCY_KEY: ctx.idempotencyKey,
    FOREWARN_ATTEMPT: String(ctx.attempt),
    FOREWARN_DEADLINE: ctx.deadline,
    FOREWARN_NOTICE: notice?.kind,
  };
  return Object.fromEntries(Object.entries(env).filter((kv): kv is [string, string] => kv[1] !== undefined));
}

/** Keeps the last `max` bytes: the end of a script's output says why it failed. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  total = 0;
  constructor(private readonly max: number) {}
  push(b: Buffer): void {
    this.total += b.length;
    this.chunks.push(b);
    this.size += b.length;
    while (this.size - this.chunks[0]!.length >= this.max) this.size -= this.chunks.shift()!.length;
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    const cut = all.length > this.max ? all.subarray(all.length - this.max) : all;
    return (this.total > this.max ? `[… ${this.total - this.max} bytes cut]\n` : '') + cut.toString('utf8');
  }
}

export const commandAction: Action = {
  kind: 'command',
  validate(params) {
    for (const k of Object.keys(params))
      if (!FIELDS.has(k)) throw new ActionConfigError(`command: unknown field ${k}`);
    const argv = params.argv;
    if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string') || !argv[0])
      throw new ActionConfigError('command: argv (a list: the program, then its arguments) is required');
    if (params.shell !== undefined && typeof params.shell !== 'boolean')
      throw new ActionConfigError('command: shell must be true or false');
    if (params.shell === true && argv.length !== 1)
      throw new ActionConfigError('command: with shell: true, argv is one string (the shell command line)');
    // Event data in a shell command line could inject commands: with a shell, use $FOREWARN_*.
    if (params.shell === true && /\{\{/.test(argv[0] as string))
      throw new ActionConfigError(
        'command: with shell: true, use $FOREWARN_* variables, not {{placeholders}}',
      );
    checkTemplate(argv, CONTEXT_ROOTS, 'command: argv');
    if (params.env !== undefined) {
      if (!params.env || typeof params.env !== 'object')
        throw new ActionConfigError('command: env maps names to values');
      for (const [k, v] of Object.entries(params.env))
        if (typeof v !== 'string' && !isSecretRef(v))
          throw new ActionConfigError(`command: env/${k} must be a string or {env: NAME} / {file: path}`);
    }
    if (params.cwd !== undefined && typeof params.cwd !== 'string')
      throw new ActionConfigError('command: cwd must be a path');
    if (params.timeout !== undefined) {
      try {
        parseDuration(params.timeout as string);
      } catch (err) {
        throw new ActionConfigError(`command: timeout: ${(err as Error).message}`);
      }
    }
    const codes = params.nonRetryableCodes;
    if (
      codes !== undefined &&
      (!Array.isArray(codes) || codes.some((c) => !Number.isInteger(c) || c < 1 || c > 255))
    )
      throw new ActionConfigError('command: nonRetryableCodes must be a list of exit codes 1..255');
    if (
      params.maxOutput !== undefined &&
      (!Number.isInteger(params.maxOutput) || (params.maxOutput as number) < 0)
    )
      throw new ActionConfigError('command: maxOutput must be a number of bytes');
  },

  async run(ctx, params): Promise<ActionResult> {
    const context = eventContext(ctx, params);
    const argv =
      params.shell === true
        ? (params.argv as string[])
        : (params.argv as string[]).map((a) => renderString(a, context));
    const extra: Record<string, string> = {};
    try {
      for (const [k, v] of Object.entries((params.env as Record<string, unknown> | undefined) ?? {}))
        extra[k] = isSecretRef(v) ? resolveSecret(v, `command: env/${k}`) : String(v);
    } catch (err) {
      // A missing variable or file needs the operator (then a redrive), not a retry.
      return { ok: false, retryable: false, detail: (err as Error).message };
    }
    const max = (params.maxOutput as number | undefined) ?? DEFAULT_MAX_OUTPUT;
    const timeoutMs = params.timeout === undefined ? undefined : parseDuration(params.timeout as string);
    const stdout = new Tail(max);
    const stderr = new Tail(max);
    const child = spawn(argv[0]!, argv.slice(1), {
      shell: params.shell === true,
      cwd: params.cwd as string | undefined,
      env: { ...process.env, ...eventEnv(ctx, params), ...extra },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true, // its own process group: a timeout kills the script and its children
    });
    let killedBy: string | undefined;
    const killGroup = (why: string) => {
      if (killedBy || child.pid === undefined || child.exitCode !== null) return;
      killedBy = why;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => killGroup(`timed out after ${params.timeout as string}`), timeoutMs);
    const onAbort = () => killGroup('the step timed out or the hub is stopping');
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (b: Buffer) => stdout.push(b));
    child.stderr.on('data', (b: Buffer) => stderr.push(b));
    child.stdin.on('error', () => undefined); // a script that does not read stdin closes it early
    child.stdin.end(JSON.stringify({ ...context, event: ctx.event }));
    const exit = await new Promise<{ code: number | null; signal: string | null; error?: Error }>(
      (resolve) => {
        child.once('error', (error) => resolve({ code: null, signal: null, error }));
        child.once('close', (code, signal) => resolve({ code, signal }));
      },
    );
    clearTimeout(timer);
    ctx.signal.removeEventListener('abort', onAbort);
    const output = { exitCode: exit.code, signal: exit.signal, stdout: stdout.text(), stderr: stderr.text() };
    if (exit.error) {
      const missing = (exit.error as NodeJS.ErrnoException).code === 'ENOENT';
      return {
        ok: false,
        retryable: !missing,
        detail: `cannot run ${argv[0]}: ${exit.error.message}`,
        output,
      };
    }
    if (killedBy) return { ok: false, retryable: true, detail: `${argv[0]} killed: ${killedBy}`, output };
    if (exit.code === 0) return { ok: true, detail: 'exit 0', output };
    const nonRetryable = ((params.nonRetryableCodes as number[] | undefined) ?? []).includes(exit.code ?? -1);
    const last = stderr.text().trim().split('\n').pop() ?? '';
    return {
      ok: false,
      retryable: !nonRetryable,
      detail: `${argv[0]} exited with ${exit.code ?? exit.signal}${last ? `: ${last.slice(0, 300)}` : ''}`,
      output,
    };
  },
};
