// What the cloud actions (snapshot, reset) share: access keys from the environment or files
// (never from the rules, never logged), which instance an event is about, the endpoint to call,
// and how a cloud's error code maps to retryable or not.
import { isIP } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDuration } from '../core/time.js';
import { redact } from '../hub/redact.js';
import type { ActionContext } from './action.js';
import { ActionConfigError } from './action.js';
import { isSecretRef, resolveSecret, type SecretRef } from './secrets.js';
import { renderTemplate } from './template.js';
import { eventContext } from './event-context.js';

export interface CloudKeyPair {
  id: string;
  secret: string;
}

/** Default variables per cloud: `NAME` or `NAME_FILE` (a path whose content is the value). */
export const CREDENTIAL_ENV = {
  alibaba: ['ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET'],
  tencent: ['TENCENTCLOUD_SECRET_ID', 'TENCENTCLOUD_SECRET_KEY'],
  aws: ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'],
} as const;

export function checkCredentials(value: unknown, where: string): void {
  if (value === undefined) return;
  const c = value as Record<string, unknown>;
  if (!c || typeof c !== 'object' || Array.isArray(c))
    throw new ActionConfigError(`${where}: must be {id, secret}`);
  for (const k of Object.keys(c))
    if (k !== 'id' && k !== 'secret') throw new ActionConfigError(`${where}: unknown field ${k}`);
  for (const k of ['id', 'secret'])
    if (!isSecretRef(c[k]))
      throw new ActionConfigError(`${where}.${k}: give it as {env: NAME} or {file: path}, never inline`);
}

function fromEnv(name: string): string {
  const direct = process.env[name];
  if (direct) return direct;
  const file = process.env[`${name}_FILE`];
  if (file) return resolveSecret({ file }, `${name}_FILE`);
  throw new ActionConfigError(`credentials: set ${name} or ${name}_FILE`);
}

/** The key pair for a run: the step's references, else the cloud's usual variables. Throws ActionConfigError. */
export function cloudCredentials(provider: keyof typeof CREDENTIAL_ENV, value: unknown): CloudKeyPair {
  if (value) {
    const c = value as { id: SecretRef; secret: SecretRef };
    return {
      id: resolveSecret(c.id, 'credentials.id'),
      secret: resolveSecret(c.secret, 'credentials.secret'),
    };
  }
  const [id, secret] = CREDENTIAL_ENV[provider];
  return { id: fromEnv(id), secret: fromEnv(secret) };
}

/** `wait` (boolean) and `pollInterval` (a duration), shared by the cloud actions that can wait. */
export function checkWaitFields(params: Record<string, unknown>, where: string): void {
  if (params.wait !== undefined && typeof params.wait !== 'boolean')
    throw new ActionConfigError(`${where}: wait: true or false`);
  if (params.pollInterval !== undefined)
    try {
      parseDuration(params.pollInterval as string);
    } catch (err) {
      throw new ActionConfigError(`${where}: pollInterval: ${(err as Error).message}`);
    }
}

export function checkEndpoint(value: unknown, where: string): void {
  if (value === undefined) return;
  if (typeof value !== 'string' || !/^https?:\/\/[^/?#\s]+\/?$/.test(value))
    throw new ActionConfigError(
      `${where}: an http(s) URL with no path, e.g. https://ecs.cn-hangzhou.aliyuncs.com`,
    );
}

/** True when a host is an address or `localhost`: a simulator or gateway, not the cloud's own name. */
export function isBareHost(hostname: string): boolean {
  return isIP(hostname.replace(/^\[|\]$/g, '')) !== 0 || hostname === 'localhost';
}

export function checkInstanceFields(params: Record<string, unknown>, where: string): void {
  if (params.instanceId !== undefined && (typeof params.instanceId !== 'string' || !params.instanceId))
    throw new ActionConfigError(
      `${where}.instanceId: a non-empty string (an id or a template such as {{vm}})`,
    );
  const map = params.instances;
  if (map !== undefined) {
    if (!map || typeof map !== 'object' || Array.isArray(map))
      throw new ActionConfigError(`${where}.instances: a map from VM name to instance id`);
    for (const [vm, id] of Object.entries(map))
      if (typeof id !== 'string' || !id)
        throw new ActionConfigError(`${where}.instances.${vm}: an instance id`);
  }
}

/**
 * The instance a run acts on, in this order: `instanceId` (rendered, so `{{vm}}` works), the
 * `instances` map entry of the VM, the VM name when it is already such an id (agents on Alibaba
 * and Tencent are named by their instance id, and pushed events fan out per instance), then the
 * event's own fields (`content.instanceId` / `content.ecsInstanceId` of a CloudMonitor push).
 */
export function instanceIdFor(
  ctx: ActionContext,
  params: Record<string, unknown>,
  pattern: RegExp,
): string | undefined {
  if (typeof params.instanceId === 'string')
    return String(renderTemplate(params.instanceId, eventContext(ctx)));
  const mapped = (params.instances as Record<string, string> | undefined)?.[ctx.vm];
  if (mapped) return mapped;
  if (pattern.test(ctx.vm)) return ctx.vm;
  const content = (ctx.event.raw as { content?: Record<string, unknown> } | undefined)?.content;
  for (const v of [content?.instanceId, content?.ecsInstanceId])
    if (typeof v === 'string' && pattern.test(v)) return v;
  return ctx.event.resources.find((r) => pattern.test(r));
}

/** A cloud error code → can trying again help? Throttling, busy and server-side errors can. */
export function retryableCode(code: string | undefined, httpStatus?: number): boolean {
  if (httpStatus !== undefined && httpStatus >= 500) return true;
  if (!code) return httpStatus === undefined; // no answer at all: a network error
  return /Throttling|RequestLimitExceeded|InternalError|ServiceUnavailable|ResourceBusy|InstanceOperationInProgress|OperationConflict|IncorrectDiskStatus|IncorrectInstanceStatus/i.test(
    code,
  );
}

/** A failed cloud call: its message, the cloud's code, and whether a retry can help. */
export class CloudCallError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly code?: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** An SDK error → what the executor needs: the cloud's code, and whether a retry can help. */
export function cloudError(call: string, err: unknown): CloudCallError {
  const e = err as { code?: string; statusCode?: number; message?: string; retryAfter?: number };
  const code = e.code && e.code !== 'undefined' ? e.code : undefined;
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const message = redact((e.message ?? String(err)).slice(0, 300));
  return new CloudCallError(
    `${call}: ${code ? `${code}: ` : ''}${message}`,
    retryableCode(code, status),
    code,
    typeof e.retryAfter === 'number' && e.retryAfter > 0 ? e.retryAfter : undefined,
  );
}

/** Runs one cloud call; a failure becomes a CloudCallError by `translate` (each SDK has its shape). */
export async function call<T>(
  name: string,
  fn: () => Promise<T>,
  translate: (call: string, err: unknown) => CloudCallError = cloudError,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw translate(name, err);
  }
}

/**
 * Asks `look` every `intervalMs` until it answers (anything but undefined); `look` throws when the
 * cloud says the work failed. The step's timeout ending the wait is retryable: the cloud goes on.
 */
export async function pollUntil<T>(
  ctx: Pick<ActionContext, 'signal'>,
  intervalMs: number,
  waitingFor: string,
  look: () => Promise<T | undefined>,
): Promise<T> {
  for (;;) {
    const answer = await look();
    if (answer !== undefined) return answer;
    await sleep(intervalMs, undefined, { signal: ctx.signal }).catch(() => {});
    if (ctx.signal.aborted) throw new CloudCallError(`gave up waiting for ${waitingFor}`, true);
  }
}

/**
 * What this step's earlier attempts recorded (their `output`), oldest first: a retry reads it to
 * learn what the cloud already accepted, for calls that take no idempotency token.
 */
export async function earlierOutputs(ctx: ActionContext): Promise<Record<string, unknown>[]> {
  if (ctx.attempt <= 1) return [];
  try {
    const steps = await ctx.store.listSteps({ eventKey: ctx.event.key, limit: 1000 });
    const step = steps.find((s) => s.idempotencyKey === ctx.idempotencyKey);
    if (!step) return [];
    return (await ctx.store.attemptsOf(step.id))
      .map((a) => a.output)
      .filter((o): o is Record<string, unknown> => !!o && typeof o === 'object');
  } catch {
    return [];
  }
}
