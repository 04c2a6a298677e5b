// `webhook`: POST the event as JSON or as a CloudEvent, signed with HMAC-SHA256 over timestamp
// and body (with a key id for rotation), an Idempotency-Key that survives retries, custom
// headers and a templated body. Statuses follow Event Grid: 200–204 succeed; 400, 401, 403, 404,
// 410, 413 and 415 will not heal by retrying; 429/503 honour Retry-After.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { retryAfterMs } from '../sources/metadata-http.js';
import type { Action, ActionContext, ActionResult } from './action.js';
import { ActionConfigError } from './action.js';
import { renderTemplate } from './template.js';

export const NON_RETRYABLE = new Set([400, 401, 403, 404, 410, 413, 415]);
const FIELDS = new Set(['url', 'format', 'headers', 'body', 'secretEnv', 'secretFile', 'keyId']);

/** The payload every webhook gets unless `body` says otherwise; also the template context. */
export function standardPayload(ctx: ActionContext): Record<string, unknown> {
  return {
    rule: ctx.rule,
    step: ctx.step,
    phase: ctx.phase,
    vm: ctx.vm,
    transition: ctx.transition,
    event: ctx.event,
    eventUrl: ctx.eventUrl,
    idempotencyKey: ctx.idempotencyKey,
    deadline: ctx.deadline,
  };
}

export function signature(secret: string, timestamp: number, body: string, keyId: string): string {
  return `t=${timestamp},kid=${keyId},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

function secretOf(params: Record<string, unknown>): string | undefined {
  if (typeof params.secretEnv === 'string') {
    const v = process.env[params.secretEnv];
    if (!v) throw new ActionConfigError(`webhook: environment variable ${params.secretEnv} is not set`);
    return v;
  }
  if (typeof params.secretFile === 'string') return readFileSync(params.secretFile, 'utf8').trim();
  return undefined;
}

export const webhookAction: Action = {
  kind: 'webhook',
  validate(params) {
    for (const k of Object.keys(params)) {
      if (k === 'secret')
        throw new ActionConfigError('webhook: give the signing key as secretEnv or secretFile, never inline');
      if (!FIELDS.has(k)) throw new ActionConfigError(`webhook: unknown field ${k}`);
    }
    if (typeof params.url !== 'string' || !/^https?:\/\//.test(params.url))
      throw new ActionConfigError('webhook: url must be an http(s) URL');
    if (params.format !== undefined && params.format !== 'json' && params.format !== 'cloudevents') {
      throw new ActionConfigError('webhook: format must be json or cloudevents');
    }
    if (
      params.headers !== undefined &&
      (typeof params.headers !== 'object' ||
        params.headers === null ||
        Object.values(params.headers).some((v) => typeof v !== 'string'))
    ) {
      throw new ActionConfigError('webhook: headers must map names to strings');
    }
  },

  async run(ctx, params): Promise<ActionResult> {
    const payload = standardPayload(ctx);
    const data = params.body === undefined ? payload : renderTemplate(params.body, payload);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries((params.headers as Record<string, string> | undefined) ?? {}))
      headers[k.toLowerCase()] = String(renderTemplate(v, payload));
    let body: string;
    if (params.format === 'cloudevents') {
      headers['content-type'] = 'application/cloudevents+json; charset=utf-8';
      body = JSON.stringify({
        specversion: '1.0',
        id: ctx.idempotencyKey,
        source: '/forewarn/hub',
        type: `forewarn.maintenance.${ctx.transition}`,
        subject: `${ctx.event.provider}/${ctx.event.eventId}/${ctx.vm}`,
        time: new Date(ctx.now()).toISOString(),
        datacontenttype: 'application/json',
        data,
      });
    } else {
      headers['content-type'] ??= 'application/json; charset=utf-8';
      body = JSON.stringify(data);
    }
    headers['idempotency-key'] = ctx.idempotencyKey;
    // The body is byte-identical on every retry; which attempt this is travels in a header.
    headers['forewarn-attempt'] = String(ctx.attempt);
    headers['user-agent'] = 'forewarn-hub';
    let secret: string | undefined;
    try {
      secret = secretOf(params);
    } catch (err) {
      return { ok: false, retryable: false, detail: (err as Error).message };
    }
    if (secret)
      headers['forewarn-signature'] = signature(
        secret,
        Math.floor(ctx.now() / 1000),
        body,
        typeof params.keyId === 'string' ? params.keyId : 'default',
      );

    let res;
    try {
      res = await request(params.url as string, { method: 'POST', headers, body, signal: ctx.signal });
    } catch (err) {
      return { ok: false, retryable: true, detail: `cannot deliver: ${(err as Error).message}` };
    }
    const text = (await res.body.text().catch(() => '')).slice(0, 2048);
    const output = { status: res.statusCode, response: text };
    if (res.statusCode >= 200 && res.statusCode <= 204)
      return { ok: true, detail: `${res.statusCode}`, output };
    return {
      ok: false,
      retryable: !NON_RETRYABLE.has(res.statusCode),
      status: res.statusCode,
      retryAfterMs: res.statusCode === 429 || res.statusCode === 503 ? retryAfterMs(res.headers) : undefined,
      detail: `${params.url as string} answered ${res.statusCode}`,
      output,
    };
  },
};
