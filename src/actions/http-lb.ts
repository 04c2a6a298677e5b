// `http-lb`: for load balancers with no native action, a templated request to the balancer's own
// API (method, url, headers, body), then a verify request whose answer must match (status, a
// JSON path's value, a substring), tried a few times because balancers apply changes lazily.
// Tokens come from the environment (`{env: NAME}` as a header value) and never reach logs or
// step output.
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { parseDuration } from '../core/time.js';
import { lookup } from '../hub/filters.js';
import type { Action, ActionContext, ActionResult } from './action.js';
import { ActionConfigError } from './action.js';
import { renderTemplate } from './template.js';
import { NON_RETRYABLE, standardPayload } from './webhook.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const REQUEST_FIELDS = new Set(['method', 'url', 'headers', 'body']);
const VERIFY_FIELDS = new Set([...REQUEST_FIELDS, 'expect', 'attempts', 'interval']);
const EXPECT_FIELDS = new Set(['status', 'json', 'contains']);

type HeaderValue = string | { env: string };
interface RequestSpec {
  method?: string;
  url: string;
  headers?: Record<string, HeaderValue>;
  body?: unknown;
}
interface VerifySpec extends RequestSpec {
  expect: { status?: number | number[]; json?: { path: string; equals: unknown }; contains?: string };
  attempts?: number;
  interval?: string;
}

class SecretMissing extends Error {}

function fail(msg: string): never {
  throw new ActionConfigError(`http-lb: ${msg}`);
}

function checkRequest(where: string, spec: unknown, fields: Set<string>): void {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) fail(`${where} must be an object`);
  const s = spec as Record<string, unknown>;
  for (const k of Object.keys(s)) if (!fields.has(k)) fail(`unknown field ${where}.${k}`);
  if (typeof s.url !== 'string' || !/^https?:\/\//.test(s.url)) fail(`${where}.url must be an http(s) URL`);
  if (s.method !== undefined && !METHODS.includes(String(s.method).toUpperCase()))
    fail(`${where}.method must be one of ${METHODS.join(', ')}`);
  if (s.headers !== undefined) {
    if (!s.headers || typeof s.headers !== 'object' || Array.isArray(s.headers))
      fail(`${where}.headers must map names to values`);
    for (const [name, v] of Object.entries(s.headers)) {
      const env = v && typeof v === 'object' ? (v as Record<string, unknown>).env : undefined;
      if (typeof v !== 'string' && (typeof env !== 'string' || Object.keys(v as object).length !== 1))
        fail(`${where}.headers.${name} must be a string or {env: NAME}`);
    }
  }
}

function render(spec: RequestSpec, context: Record<string, unknown>, defaultMethod: string) {
  const headers: Record<string, string> = {};
  for (const [name, v] of Object.entries(spec.headers ?? {})) {
    if (typeof v === 'string') headers[name.toLowerCase()] = String(renderTemplate(v, context));
    else {
      const secret = process.env[v.env];
      if (!secret) throw new SecretMissing(`http-lb: environment variable ${v.env} is not set`);
      headers[name.toLowerCase()] = secret;
    }
  }
  let body: string | undefined;
  if (spec.body !== undefined) {
    const rendered = renderTemplate(spec.body, context);
    body = typeof rendered === 'string' ? rendered : JSON.stringify(rendered);
    if (typeof rendered !== 'string') headers['content-type'] ??= 'application/json; charset=utf-8';
  }
  return {
    method: (spec.method ?? defaultMethod).toUpperCase() as 'GET',
    url: String(renderTemplate(spec.url, context)),
    headers,
    body,
  };
}

async function send(r: ReturnType<typeof render>, signal: AbortSignal) {
  const res = await request(r.url, { method: r.method, headers: r.headers, body: r.body, signal });
  return { status: res.statusCode, text: (await res.body.text().catch(() => '')).slice(0, 4096) };
}

/** Why an answer does not match `expect`, or undefined when it does. */
export function mismatch(expect: VerifySpec['expect'], status: number, text: string): string | undefined {
  const statuses = expect.status === undefined ? undefined : [expect.status].flat();
  if (statuses ? !statuses.includes(status) : status < 200 || status > 299)
    return `status ${status}, wanted ${statuses ? statuses.join(' or ') : '2xx'}`;
  if (expect.contains !== undefined && !text.includes(expect.contains))
    return `the answer does not contain ${JSON.stringify(expect.contains)}`;
  if (expect.json) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return 'the answer is not JSON';
    }
    const actual = lookup(doc, expect.json.path);
    if (JSON.stringify(actual) !== JSON.stringify(expect.json.equals))
      return `${expect.json.path} is ${JSON.stringify(actual)}, wanted ${JSON.stringify(expect.json.equals)}`;
  }
  return undefined;
}

async function verify(ctx: ActionContext, spec: VerifySpec, context: Record<string, unknown>) {
  const attempts = spec.attempts ?? 5;
  const interval = parseDuration(spec.interval ?? '1s');
  let last = '';
  for (let i = 1; i <= attempts; i++) {
    try {
      const { status, text } = await send(render(spec, context, 'GET'), ctx.signal);
      const problem = mismatch(spec.expect, status, text);
      if (!problem) return { ok: true as const, tries: i, status };
      last = problem;
    } catch (err) {
      if (err instanceof SecretMissing) throw err;
      last = (err as Error).message;
    }
    if (i < attempts) await sleep(interval, undefined, { signal: ctx.signal }).catch(() => {});
    if (ctx.signal.aborted) break;
  }
  return { ok: false as const, detail: last };
}

export const httpLbAction: Action = {
  kind: 'http-lb',
  validate(params) {
    for (const k of Object.keys(params)) if (k !== 'request' && k !== 'verify') fail(`unknown field ${k}`);
    checkRequest('request', params.request, REQUEST_FIELDS);
    if (params.verify === undefined) return;
    checkRequest('verify', params.verify, VERIFY_FIELDS);
    const v = params.verify as Record<string, unknown>;
    const e = v.expect as Record<string, unknown> | undefined;
    if (!e || typeof e !== 'object' || Array.isArray(e)) fail('verify.expect must be an object');
    for (const k of Object.keys(e)) if (!EXPECT_FIELDS.has(k)) fail(`unknown field verify.expect.${k}`);
    const statuses = e.status === undefined ? [] : [e.status].flat();
    if (statuses.some((s) => !Number.isInteger(s) || (s as number) < 100 || (s as number) > 599))
      fail('verify.expect.status must be an HTTP status or a list of them');
    if (e.contains !== undefined && typeof e.contains !== 'string')
      fail('verify.expect.contains must be a string');
    if (e.json !== undefined) {
      const j = e.json as Record<string, unknown>;
      if (!j || typeof j !== 'object' || typeof j.path !== 'string' || !('equals' in j))
        fail('verify.expect.json must be {path, equals}');
    }
    if (
      v.attempts !== undefined &&
      (!Number.isInteger(v.attempts) || (v.attempts as number) < 1 || (v.attempts as number) > 100)
    )
      fail('verify.attempts must be an integer from 1 to 100');
    if (v.interval !== undefined)
      try {
        parseDuration(v.interval as string);
      } catch (err) {
        fail(`verify.interval: ${(err as Error).message}`);
      }
  },

  async run(ctx, params): Promise<ActionResult> {
    const vmRow = await ctx.store.getVm(ctx.vm);
    const context = {
      ...standardPayload(ctx),
      tags: (vmRow?.identity as { tags?: unknown } | undefined)?.tags ?? {},
    };
    const spec = params.request as RequestSpec;
    let req;
    try {
      req = render(spec, context, 'POST');
    } catch (err) {
      return { ok: false, retryable: false, detail: (err as Error).message };
    }
    let answer;
    try {
      answer = await send(req, ctx.signal);
    } catch (err) {
      return { ok: false, retryable: true, detail: `${req.method} ${req.url}: ${(err as Error).message}` };
    }
    const output: Record<string, unknown> = {
      request: { method: req.method, url: req.url, status: answer.status },
    };
    if (answer.status < 200 || answer.status > 299)
      return {
        ok: false,
        retryable: !NON_RETRYABLE.has(answer.status),
        status: answer.status,
        detail: `${req.method} ${req.url} answered ${answer.status}`,
        output: { ...output, response: answer.text.slice(0, 1024) },
      };
    if (!params.verify)
      return { ok: true, detail: `${req.method} ${req.url} answered ${answer.status}`, output };
    let checked;
    try {
      checked = await verify(ctx, params.verify as VerifySpec, context);
    } catch (err) {
      return { ok: false, retryable: false, detail: (err as Error).message, output };
    }
    if (!checked.ok)
      return {
        ok: false,
        retryable: true,
        detail: `${req.method} ${req.url} done, but verify failed: ${checked.detail}`,
        output,
      };
    return {
      ok: true,
      detail: `${req.method} ${req.url} answered ${answer.status}; verified after ${checked.tries} tries`,
      output: { ...output, verify: { tries: checked.tries, status: checked.status } },
    };
  },
};
