// `haproxy`: take a VM's server out of an HAProxy backend and put it back, through the runtime
// API. `drain` stops new sessions and waits for the current ones (`scur`) to finish; `maint`
// takes it out at once; `ready` restores it, optionally only once an HTTP health check passes.
// The reply to `set server` proves nothing, so every operation ends by reading
// `show servers state`: a state that did not take is a retryable failure, an unknown
// backend/server (or a socket without admin level) is not.
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { parseDuration } from '../core/time.js';
import type { Action, ActionContext, ActionResult } from './action.js';
import { ActionConfigError } from './action.js';
import {
  adminMode,
  currentSessions,
  describeTarget,
  RuntimeCommandError,
  serverState,
  setServerState,
  type RuntimeTarget,
  type ServerState,
} from './haproxy-runtime.js';
import { renderTemplate } from './template.js';

const OPERATIONS = ['drain', 'maint', 'ready'] as const;
type Operation = (typeof OPERATIONS)[number];
const FIELDS = new Set([
  'operation',
  'socket',
  'address',
  'backend',
  'server',
  'map',
  'drainTimeout',
  'onDrainTimeout',
  'healthCheck',
  'afterHeartbeat',
]);
const HEALTH_FIELDS = new Set(['url', 'path', 'expectStatus', 'timeout']);
/** HAProxy proxy and server names; anything else could smuggle a second command. */
const NAME = /^[A-Za-z0-9_.:-]{1,128}$/;
const POLL_MS = 200;

interface HealthCheck {
  url?: string;
  path?: string;
  expectStatus?: number;
  timeout?: string;
}

/** Where the runtime API listens: `socket: /run/haproxy/admin.sock` or `address: host:port`. */
export function runtimeTarget(params: Record<string, unknown>): RuntimeTarget {
  if (typeof params.socket === 'string') return { socket: params.socket };
  const m = /^(.+):(\d{1,5})$/.exec(String(params.address));
  return { host: m![1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(m![2]) };
}

export function validateTarget(kind: string, params: Record<string, unknown>): void {
  const hasSocket = params.socket !== undefined;
  const hasAddress = params.address !== undefined;
  if (hasSocket === hasAddress)
    throw new ActionConfigError(`${kind}: give exactly one of socket (unix path) or address (host:port)`);
  if (hasSocket && (typeof params.socket !== 'string' || !params.socket))
    throw new ActionConfigError(`${kind}: socket must be a unix socket path`);
  if (hasAddress && (typeof params.address !== 'string' || !/^.+:\d{1,5}$/.test(params.address)))
    throw new ActionConfigError(`${kind}: address must be host:port`);
}

function checkDuration(field: string, value: unknown): void {
  if (value === undefined) return;
  try {
    parseDuration(value as string);
  } catch (err) {
    throw new ActionConfigError(`haproxy: ${field}: ${(err as Error).message}`);
  }
}

/** The backend and server of this VM: from `map` (VM name → "backend/server"), else the templates. */
export async function serverOf(
  ctx: ActionContext,
  params: Record<string, unknown>,
): Promise<{ backend: string; server: string }> {
  const map = params.map as Record<string, string> | undefined;
  const mapped = map
    ? Object.entries(map).find(([vm]) => vm.toLowerCase() === ctx.vm.toLowerCase())?.[1]
    : undefined;
  if (map && !mapped && params.backend === undefined)
    throw new RuntimeCommandError(`map has no entry for VM ${ctx.vm}`);
  const vmRow = await ctx.store.getVm(ctx.vm);
  const tags = (vmRow?.identity as { tags?: unknown } | undefined)?.tags ?? {};
  const context = { vm: ctx.vm, tags, event: ctx.event, rule: ctx.rule, step: ctx.step };
  const render = (t: unknown) => {
    const v = renderTemplate(t, context);
    return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
  };
  const [backend, server] = mapped
    ? (mapped.split('/') as [string, string])
    : [render(params.backend), render(params.server ?? '{{vm}}')];
  for (const [what, name] of [
    ['backend', backend],
    ['server', server],
  ] as const)
    if (!NAME.test(name ?? ''))
      throw new RuntimeCommandError(`${what} name ${JSON.stringify(name)} for VM ${ctx.vm} is not valid`);
  return { backend, server };
}

/** One HTTP GET; undefined when healthy, else why not. */
async function healthProblem(
  url: string,
  check: HealthCheck,
  signal: AbortSignal,
): Promise<string | undefined> {
  const timeout = AbortSignal.timeout(check.timeout ? parseDuration(check.timeout) : 5000);
  try {
    const res = await request(url, { method: 'GET', signal: AbortSignal.any([signal, timeout]) });
    await res.body.dump();
    const ok = check.expectStatus ? res.statusCode === check.expectStatus : res.statusCode < 300;
    return ok ? undefined : `health check ${url} answered ${res.statusCode}`;
  } catch (err) {
    return `health check ${url} failed: ${(err as Error).message}`;
  }
}

function summary(s: ServerState) {
  return { mode: adminMode(s.adminState), adminState: s.adminState, opState: s.opState };
}

async function waitForDrain(
  ctx: ActionContext,
  target: RuntimeTarget,
  backend: string,
  server: string,
  timeoutMs: number,
): Promise<{ sessions: number; waitedMs: number }> {
  const start = ctx.now();
  for (;;) {
    const sessions = await currentSessions(target, backend, server, ctx.signal);
    const waitedMs = ctx.now() - start;
    if (sessions === 0 || waitedMs >= timeoutMs || ctx.signal.aborted) return { sessions, waitedMs };
    await sleep(Math.min(POLL_MS, timeoutMs - waitedMs), undefined, { signal: ctx.signal }).catch(() => {});
  }
}

async function operate(ctx: ActionContext, params: Record<string, unknown>): Promise<ActionResult> {
  const op = params.operation as Operation;
  const target = runtimeTarget(params);
  const { backend, server } = await serverOf(ctx, params);
  const name = `${backend}/${server}`;
  const before = await serverState(target, backend, server, ctx.signal);

  // After a reboot the VM's agent reports again: until then, the VM is not back.
  if (op === 'ready' && params.afterHeartbeat === true && ctx.transition === 'completed') {
    const seen = (await ctx.store.getVm(ctx.vm))?.lastHeartbeatAt;
    if (!seen || seen <= ctx.event.updatedAt)
      return {
        ok: false,
        retryable: true,
        detail: `${name} stays ${adminMode(before.adminState)}: no heartbeat from ${ctx.vm}'s agent since the event completed at ${ctx.event.updatedAt}`,
        output: { backend, server, before: summary(before), lastHeartbeatAt: seen },
      };
  }
  if (op === 'ready' && params.healthCheck) {
    const check = params.healthCheck as HealthCheck;
    const url = check.url
      ? String(renderTemplate(check.url, { vm: ctx.vm, event: ctx.event }))
      : `http://${before.address.includes(':') ? `[${before.address}]` : before.address}:${before.port}${check.path ?? '/'}`;
    const problem = await healthProblem(url, check, ctx.signal);
    if (problem)
      return {
        ok: false,
        retryable: true,
        detail: `${name} stays ${adminMode(before.adminState)}: ${problem}`,
        output: { backend, server, before: summary(before) },
      };
  }

  await setServerState(target, backend, server, op, ctx.signal);
  const after = await serverState(target, backend, server, ctx.signal);
  const output: Record<string, unknown> = { backend, server, before: summary(before), after: summary(after) };
  if (adminMode(after.adminState) !== op)
    return {
      ok: false,
      retryable: true,
      detail: `${name}: asked for ${op} but show servers state says ${adminMode(after.adminState)} (admin state ${after.adminState})`,
      output,
    };
  if (op !== 'drain') return { ok: true, detail: `${name} is ${op}`, output };

  // 25 s by default: within a step's default 30 s timeout.
  const timeoutMs = parseDuration((params.drainTimeout as string | undefined) ?? '25s');
  const { sessions, waitedMs } = await waitForDrain(ctx, target, backend, server, timeoutMs);
  Object.assign(output, { sessions, waitedMs });
  if (sessions === 0)
    return { ok: true, detail: `${name} drained (0 sessions after ${waitedMs} ms)`, output };
  if (params.onDrainTimeout === 'proceed' && !ctx.signal.aborted)
    return { ok: true, detail: `${name} is drain; ${sessions} sessions left after ${waitedMs} ms`, output };
  return {
    ok: false,
    retryable: true,
    detail: `${name} is drain but still has ${sessions} sessions after ${waitedMs} ms`,
    output,
  };
}

export const haproxyAction: Action = {
  kind: 'haproxy',
  validate(params) {
    for (const k of Object.keys(params))
      if (!FIELDS.has(k)) throw new ActionConfigError(`haproxy: unknown field ${k}`);
    if (!OPERATIONS.includes(params.operation as Operation))
      throw new ActionConfigError(`haproxy: operation must be one of ${OPERATIONS.join(', ')}`);
    validateTarget('haproxy', params);
    for (const f of ['backend', 'server'] as const)
      if (params[f] !== undefined && (typeof params[f] !== 'string' || !params[f]))
        throw new ActionConfigError(`haproxy: ${f} must be a name or a template such as '{{vm}}'`);
    if (params.map !== undefined) {
      const map = params.map;
      if (!map || typeof map !== 'object' || Array.isArray(map))
        throw new ActionConfigError('haproxy: map must map VM names to "backend/server"');
      for (const [vm, v] of Object.entries(map))
        if (typeof v !== 'string' || !/^[A-Za-z0-9_.:-]+\/[A-Za-z0-9_.:-]+$/.test(v))
          throw new ActionConfigError(`haproxy: map.${vm} must be "backend/server"`);
    } else if (params.backend === undefined) {
      throw new ActionConfigError('haproxy: give backend (and optionally server, default {{vm}}) or map');
    }
    checkDuration('drainTimeout', params.drainTimeout);
    if (
      params.onDrainTimeout !== undefined &&
      params.onDrainTimeout !== 'fail' &&
      params.onDrainTimeout !== 'proceed'
    )
      throw new ActionConfigError('haproxy: onDrainTimeout must be fail or proceed');
    if (params.operation !== 'drain' && (params.drainTimeout ?? params.onDrainTimeout) !== undefined)
      throw new ActionConfigError('haproxy: drainTimeout and onDrainTimeout apply to drain only');
    if (params.afterHeartbeat !== undefined) {
      if (typeof params.afterHeartbeat !== 'boolean')
        throw new ActionConfigError('haproxy: afterHeartbeat must be true or false');
      if (params.operation !== 'ready')
        throw new ActionConfigError('haproxy: afterHeartbeat applies to ready only');
    }
    if (params.healthCheck !== undefined) {
      const hc = params.healthCheck as Record<string, unknown>;
      if (params.operation !== 'ready')
        throw new ActionConfigError('haproxy: healthCheck applies to ready only');
      if (!hc || typeof hc !== 'object' || Array.isArray(hc))
        throw new ActionConfigError('haproxy: healthCheck must be an object');
      for (const k of Object.keys(hc))
        if (!HEALTH_FIELDS.has(k)) throw new ActionConfigError(`haproxy: unknown field healthCheck.${k}`);
      if (hc.url !== undefined && (typeof hc.url !== 'string' || !/^https?:\/\//.test(hc.url)))
        throw new ActionConfigError('haproxy: healthCheck.url must be an http(s) URL');
      if (hc.path !== undefined && (typeof hc.path !== 'string' || !hc.path.startsWith('/')))
        throw new ActionConfigError('haproxy: healthCheck.path must start with /');
      if (
        hc.expectStatus !== undefined &&
        (!Number.isInteger(hc.expectStatus) ||
          (hc.expectStatus as number) < 100 ||
          (hc.expectStatus as number) > 599)
      )
        throw new ActionConfigError('haproxy: healthCheck.expectStatus must be an HTTP status');
      checkDuration('healthCheck.timeout', hc.timeout);
    }
  },

  async run(ctx, params): Promise<ActionResult> {
    try {
      return await operate(ctx, params);
    } catch (err) {
      const refused = err instanceof RuntimeCommandError;
      return {
        ok: false,
        retryable: !refused,
        detail: refused
          ? `haproxy ${describeTarget(runtimeTarget(params))}: ${(err as Error).message}`
          : (err as Error).message,
      };
    }
  },
};
