// `webhook`: POST the event as JSON or as a CloudEvent, signed with HMAC-SHA256 over timestamp
// and body (with a key id for rotation), an Idempotency-Key that survives retries, custom
// headers and a templated body. Statuses follow Event Grid: 200–204 succeed; 400, 401, 403, 404,
// 410, 413 and 415 will not heal by retrying; 429/503 honour Retry-After. `preset` (slack, teams,
// chat) builds the body a chat service expects. The URL, the signing key and header values may
// be secrets given as {env: NAME} / {file: path} (a Slack webhook URL is a credential).
import { createHmac } from 'node:crypto';
import { request } from 'undici';
import { retryAfterMs } from '../sources/metadata-http.js';
import type { Action, ActionContext, ActionResult } from './action.js';
import { ActionConfigError } from './action.js';
import { checkTimeZone, CONTEXT_ROOTS, noticeOf } from './event-context.js';
import { isSecretRef, resolveSecret, stringOrSecret } from './secrets.js';
import { checkTemplate, renderTemplate } from './template.js';
import { PRESETS, presetBody, type Preset } from './webhook-presets.js';

export const NON_RETRYABLE = new Set([400, 401, 403, 404, 410, 413, 415]);
const FIELDS = new Set([
  'url',
  'format',
  'headers',
  'body',
  'secret',
  'secretEnv',
  'secretFile',
  'keyId',
  'preset',
  'text',
  'timeZone',
]);

const PAYLOAD_ROOTS = {
  rule: 1,
  step: 1,
  phase: 1,
  vm: 1,
  transition: 1,
  event: 1,
  eventUrl: 1,
  idempotencyKey: 1,
  deadline: 1,
  notice: 1,
};

/** The payload every webhook gets unless `body` says otherwise; also the template context. */
export function standardPayload(
  ctx: ActionContext,
  params: Record<string, unknown> = {},
): Record<string, unknown> {
  const notice = noticeOf(params);
  return {
    ...(notice ? { notice } : {}),
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

/** The signing key: `secret: {env|file}`, or the older spellings `secretEnv` / `secretFile`. */
function secretOf(params: Record<string, unknown>): string | undefined {
  if (isSecretRef(params.secret)) return resolveSecret(params.secret, 'webhook: secret');
  if (typeof params.secretEnv === 'string')
    return resolveSecret({ env: params.secretEnv }, 'webhook: secretEnv');
  if (typeof params.secretFile === 'string')
    return resolveSecret({ file: params.secretFile }, 'webhook: secretFile');
  return undefined;
}

export const webhookAction: Action = {
  kind: 'webhook',
  validate(params) {
    for (const k of Object.keys(params)) {
      if (k === 'secret' && !isSecretRef(params.secret))
        throw new ActionConfigError(
          'webhook: secret: give the signing key as {env: NAME} or {file: path} (or secretEnv / secretFile), never inline',
        );
      if (!FIELDS.has(k)) throw new ActionConfigError(`webhook: unknown field ${k}`);
    }
    if (!isSecretRef(params.url) && (typeof params.url !== 'string' || !/^https?:\/\//.test(params.url)))
      throw new ActionConfigError('webhook: url must be an http(s) URL (or {env: NAME} / {file: path})');
    if (params.preset !== undefined) {
      if (!PRESETS.includes(params.preset as Preset))
        throw new ActionConfigError(`webhook: preset must be one of ${PRESETS.join(', ')}`);
      if (params.body !== undefined || params.format !== undefined)
        throw new ActionConfigError(
          'webhook: preset builds the body itself; drop body/format, or drop preset',
        );
    } else if (params.text !== undefined || params.timeZone !== undefined) {
      throw new ActionConfigError('webhook: text and timeZone go with a preset');
    }
    if (params.text !== undefined) {
      if (typeof params.text !== 'string')
        throw new ActionConfigError('webhook: text must be a template string');
      checkTemplate(params.text, CONTEXT_ROOTS, 'webhook: text');
    }
    checkTimeZone(params.timeZone, 'webhook: timeZone');
    if (params.format !== undefined && params.format !== 'json' && params.format !== 'cloudevents') {
      throw new ActionConfigError('webhook: format must be json or cloudevents');
    }
    if (
      params.headers !== undefined &&
      (typeof params.headers !== 'object' ||
        params.headers === null ||
        Object.values(params.headers).some((v) => typeof v !== 'string' && !isSecretRef(v)))
    ) {
      throw new ActionConfigError(
        'webhook: headers must map names to strings (or {env: NAME} / {file: path})',
      );
    }
    if (params.body !== undefined) checkTemplate(params.body, Object.keys(PAYLOAD_ROOTS), 'webhook: body');
  },

  async run(ctx, params): Promise<ActionResult> {
    const payload = standardPayload(ctx, params);
    const data = params.preset
      ? presetBody(params.preset as Preset, ctx, params)
      : params.body === undefined
        ? payload
        : renderTemplate(params.body, payload);
    const headers: Record<string, string> = {};
    let url: string;
    let secret: string | undefined;
    try {
      url = stringOrSecret(params.url, 'webhook: url')!;
      secret = secretOf(params);
      for (const [k, v] of Object.entries((params.headers as Record<string, unknown> | undefined) ?? {}))
        headers[k.toLowerCase()] = isSecretRef(v)
          ? resolveSecret(v, `webhook: headers/${k}`)
          : String(renderTemplate(v, payload));
    } catch (err) {
      // A missing variable or file needs the operator (then a redrive), not a retry.
      return { ok: false, retryable: false, detail: (err as Error).message };
    }
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
    if (secret)
      headers['forewarn-signature'] = signature(
        secret,
        Math.floor(ctx.now() / 1000),
        body,
        typeof params.keyId === 'string' ? params.keyId : 'default',
      );

    let res;
    try {
      res = await request(url, { method: 'POST', headers, body, signal: ctx.signal });
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
      // The URL itself may be a secret (Slack, Teams): name only its origin.
      detail: `${new URL(url).origin} answered ${res.statusCode}`,
      output,
    };
  },
};
