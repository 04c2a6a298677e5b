// `email`: a mail over SMTP (nodemailer) with a plain-text and an HTML part describing the event,
// a link to it, and NotBefore in UTC and in a configured time zone. Mails for the same recipients
// within `groupWait` go out as one digest (Alertmanager's group_wait); every grouped step gets the
// digest's outcome. Failures: authentication, connection and 4xx answers may heal, so they are
// retryable; a 5xx answer (e.g. 550 recipient rejected) will not, so it is not.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';
import { parseDuration } from '../core/time.js';
import type { Action, ActionContext, ActionResult } from './action.js';
import { ActionConfigError } from './action.js';
import { Digester } from './digest.js';
import { checkTimeZone, CONTEXT_ROOTS, eventContext, noticeOf } from './event-context.js';
import { checkSecretRef, isSecretRef, resolveSecret } from './secrets.js';
import { checkTemplate, escapeHtml, renderString } from './template.js';

const FIELDS = new Set([
  'server',
  'from',
  'to',
  'cc',
  'subject',
  'text',
  'html',
  'digestSubject',
  'timeZone',
  'groupWait',
  'groupMax',
]);
const SERVER_FIELDS = new Set(['host', 'port', 'tls', 'user', 'password', 'caFile', 'rejectUnauthorized']);
const TLS_MODES = ['starttls', 'tls', 'none'] as const;
const DEFAULT_PORT = { starttls: 587, tls: 465, none: 25 } as const;
const ADDRESS = /^[^\s@<>]+@[^\s@<>]+$|^[^<>]*<[^\s@<>]+@[^\s@<>]+>$/;
export const DEFAULT_GROUP_WAIT_MS = 2000;

const ROWS: [string, string][] = [
  ['VM', '{{vm}}'],
  ['Event', '{{type}} ({{transition}}), {{provider}} {{eventId}}, {{origin}}'],
  ['NotBefore', '{{notBeforeUtc}} / {{notBeforeLocal}}'],
  ['Time left', '{{timeLeft}}'],
  ['Description', '{{description}}'],
  ['Rule', '{{rule}} / {{step}}'],
];
const NOTICE_ROW: [string, string] = ['Notice', '{{notice.kind}} {{notice.step}} {{notice.detail}}'];

export const DEFAULT_TEMPLATES = {
  subject: '[forewarn] {{type}} of {{vm}} {{transition}}, NotBefore {{notBeforeUtc}}',
  noticeSubject: '[forewarn] {{notice.kind}}: {{rule}} {{notice.step}} for {{vm}}',
  digestSubject: '[forewarn] {{count}} maintenance events: {{summary}}',
  text: (notice: boolean) =>
    [...(notice ? [NOTICE_ROW] : []), ...ROWS].map(([k, v]) => `${`${k}:`.padEnd(13)}${v}`).join('\n') +
    '\n\nOpen the event: {{eventUrl}}\n',
  html: (notice: boolean) =>
    '<table cellpadding="4" style="border-collapse:collapse;font-family:sans-serif">\n' +
    [...(notice ? [NOTICE_ROW] : []), ...ROWS]
      .map(([k, v]) => `<tr><th align="left">${k}</th><td>${v}</td></tr>`)
      .join('\n') +
    '\n</table>\n<p><a href="{{eventUrl}}">Open the event</a></p>\n',
};

interface Server {
  host: string;
  port?: number;
  tls?: (typeof TLS_MODES)[number];
  user?: string;
  password?: unknown;
  caFile?: string;
  rejectUnauthorized?: boolean;
}

interface Rendered {
  key: string;
  params: Record<string, unknown>;
  subject: string;
  text: string;
  html: string;
  context: Record<string, unknown>;
}

const list = (v: unknown): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];

function checkAddresses(v: unknown, field: string, required: boolean): void {
  const all = list(v);
  if (required && all.length === 0)
    throw new ActionConfigError(`email: ${field}: at least one recipient is required`);
  if (v !== undefined && typeof v !== 'string' && !Array.isArray(v))
    throw new ActionConfigError(`email: ${field}: an address or a list of addresses`);
  const bad = all.find((a) => !ADDRESS.test(a.trim()));
  if (bad !== undefined)
    throw new ActionConfigError(`email: ${field}: ${JSON.stringify(bad)} is not an email address`);
}

function validate(params: Record<string, unknown>): void {
  for (const k of Object.keys(params))
    if (!FIELDS.has(k)) throw new ActionConfigError(`email: unknown field ${k}`);
  const server = params.server as Record<string, unknown> | undefined;
  if (!server || typeof server !== 'object')
    throw new ActionConfigError('email: server: {host, port, tls, user, password} is required');
  for (const k of Object.keys(server))
    if (!SERVER_FIELDS.has(k)) throw new ActionConfigError(`email: server/${k}: unknown field`);
  if (typeof server.host !== 'string' || !server.host)
    throw new ActionConfigError('email: server/host is required');
  if (
    server.port !== undefined &&
    (!Number.isInteger(server.port) || (server.port as number) < 1 || (server.port as number) > 65535)
  )
    throw new ActionConfigError('email: server/port must be a port number');
  if (server.tls !== undefined && !TLS_MODES.includes(server.tls as never))
    throw new ActionConfigError(`email: server/tls must be one of ${TLS_MODES.join(', ')}`);
  if (server.password !== undefined) checkSecretRef(server.password, 'email: server/password');
  if (server.password !== undefined && typeof server.user !== 'string')
    throw new ActionConfigError('email: server/user is required with a password');
  if (typeof params.from !== 'string' || !ADDRESS.test(params.from.trim()))
    throw new ActionConfigError('email: from must be an email address');
  checkAddresses(params.to, 'to', true);
  checkAddresses(params.cc, 'cc', false);
  for (const f of ['subject', 'text', 'html'] as const) {
    if (params[f] === undefined) continue;
    if (typeof params[f] !== 'string') throw new ActionConfigError(`email: ${f} must be a template string`);
    checkTemplate(params[f], CONTEXT_ROOTS, `email: ${f}`);
  }
  if (params.digestSubject !== undefined)
    checkTemplate(String(params.digestSubject), ['count', 'summary', 'vms'], 'email: digestSubject');
  checkTimeZone(params.timeZone, 'email: timeZone');
  if (params.groupWait !== undefined) {
    try {
      parseDuration(params.groupWait as string);
    } catch (err) {
      throw new ActionConfigError(`email: groupWait: ${(err as Error).message}`);
    }
  }
  if (
    params.groupMax !== undefined &&
    (!Number.isInteger(params.groupMax) || (params.groupMax as number) < 1)
  )
    throw new ActionConfigError('email: groupMax must be a positive integer');
}

/** Same server, sender and recipients: one digest. */
function groupKey(params: Record<string, unknown>): string {
  const s = params.server as Server;
  return JSON.stringify([
    s.host,
    s.port,
    s.user,
    params.from,
    list(params.to).sort(),
    list(params.cc).sort(),
  ]);
}

function render(ctx: ActionContext, params: Record<string, unknown>): Rendered {
  const context = eventContext(ctx, params, params.timeZone as string | undefined);
  const notice = noticeOf(params) !== undefined;
  const subject =
    (params.subject as string | undefined) ??
    (notice ? DEFAULT_TEMPLATES.noticeSubject : DEFAULT_TEMPLATES.subject);
  return {
    key: ctx.idempotencyKey,
    params,
    context,
    subject: renderString(subject, context).replace(/\s+/g, ' ').trim(),
    text: renderString((params.text as string | undefined) ?? DEFAULT_TEMPLATES.text(notice), context),
    html: renderString(
      (params.html as string | undefined) ?? DEFAULT_TEMPLATES.html(notice),
      context,
      escapeHtml,
    ),
  };
}

/** One mail for one event, or a digest listing each event with its own rendered part. */
export function compose(items: Rendered[]): {
  subject: string;
  text: string;
  html: string;
  messageKey: string;
} {
  if (items.length === 1) return { ...items[0]!, messageKey: items[0]!.key };
  const counts = new Map<string, number>();
  for (const i of items) {
    // "reboot scheduled ×2, freeze canceled ×1, dead-lettered ×1": what happened, not just the type.
    const notice = i.context.notice as { kind: string } | null;
    const label = notice ? notice.kind : `${String(i.context.type)} ${String(i.context.transition)}`;
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  const summary = [...counts].map(([t, n]) => `${t} ×${n}`).join(', ');
  const vms = [...new Set(items.map((i) => String(i.context.vm)))].join(', ');
  const tmpl = (items[0]!.params.digestSubject as string | undefined) ?? DEFAULT_TEMPLATES.digestSubject;
  return {
    subject: renderString(tmpl, { count: items.length, summary, vms }),
    text:
      `${items.length} maintenance events (${summary}):\n\n` +
      items.map((i, n) => `--- ${n + 1}. ${i.subject}\n${i.text}`).join('\n'),
    html:
      `<p>${items.length} maintenance events (${escapeHtml(summary)}):</p>\n` +
      items.map((i, n) => `<h3>${n + 1}. ${escapeHtml(i.subject)}</h3>\n${i.html}`).join('<hr>\n'),
    messageKey: createHash('sha256')
      .update(items.map((i) => i.key).join(','))
      .digest('hex')
      .slice(0, 32),
  };
}

/** Nodemailer's error → whether trying again can help (Alertmanager's rule for SMTP). */
export function classify(err: unknown): { retryable: boolean; status?: number; detail: string } {
  const e = err as { code?: string; responseCode?: number; message?: string };
  const detail = (e.message ?? String(err)).replace(/\s+/g, ' ').slice(0, 500);
  if (typeof e.responseCode === 'number' && e.responseCode >= 500 && e.code !== 'EAUTH')
    return { retryable: false, status: e.responseCode, detail };
  return { retryable: true, status: e.responseCode, detail };
}

async function send(items: Rendered[]): Promise<ActionResult> {
  const params = items[0]!.params;
  const s = params.server as Server;
  const tls = s.tls ?? 'starttls';
  let password: string | undefined;
  let ca: string | undefined;
  try {
    password = isSecretRef(s.password) ? resolveSecret(s.password, 'email: server/password') : undefined;
    ca = s.caFile ? readFileSync(s.caFile, 'utf8') : undefined;
  } catch (err) {
    // A missing variable or file needs the operator (then a redrive), not a retry.
    return { ok: false, retryable: false, detail: (err as Error).message };
  }
  const transport = nodemailer.createTransport({
    host: s.host,
    port: s.port ?? DEFAULT_PORT[tls],
    secure: tls === 'tls',
    requireTLS: tls === 'starttls',
    ignoreTLS: tls === 'none',
    auth: s.user ? { user: s.user, pass: password } : undefined,
    tls: { ca, rejectUnauthorized: s.rejectUnauthorized ?? true },
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  });
  const mail = compose(items);
  try {
    const info = await transport.sendMail({
      from: params.from as string,
      to: list(params.to),
      cc: list(params.cc),
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      messageId: `<${mail.messageKey}@forewarn>`,
      headers: {
        'X-Forewarn-Events': items
          .map((i) => `${String(i.context.provider)}/${String(i.context.eventId)}`)
          .join(', '),
        'X-Forewarn-Idempotency-Key': items.map((i) => i.key).join(', '),
      },
    });
    const rejected = (info.rejected ?? []).map(String);
    return {
      ok: true,
      detail: `sent${items.length > 1 ? ` as a digest of ${items.length}` : ''}${rejected.length ? `; rejected: ${rejected.join(', ')}` : ''}`,
      output: {
        messageId: info.messageId,
        response: info.response,
        accepted: info.accepted,
        rejected,
        digestOf: items.length,
      },
    };
  } catch (err) {
    const c = classify(err);
    return { ok: false, ...c, detail: `SMTP ${s.host}: ${c.detail}` };
  } finally {
    transport.close();
  }
}

/** Each hub gets its own action (and its own open digests). */
export function createEmailAction(): Action {
  const digester = new Digester<Rendered, ActionResult>(
    (_key, items) => send(items),
    (err) => ({ ok: false, retryable: true, detail: `email: ${(err as Error).message}` }),
  );
  return {
    kind: 'email',
    validate,
    async run(ctx, params) {
      const item = render(ctx, params);
      const waitMs =
        params.groupWait === undefined ? DEFAULT_GROUP_WAIT_MS : parseDuration(params.groupWait as string);
      if (waitMs === 0) return send([item]);
      return digester.add(
        groupKey(params),
        item,
        waitMs,
        (params.groupMax as number | undefined) ?? 100,
        ctx.signal,
        () => ({
          ok: false,
          retryable: true,
          detail: 'step timed out while its digest was collecting; lower groupWait below the step timeout',
        }),
      );
    },
  };
}
