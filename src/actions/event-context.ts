// The fields every human-facing action (email, chat presets, syslog, command) describes an event
// with, computed once per run: the template context of `{{…}}` placeholders.
import { formatDuration } from '../core/time.js';
import type { ActionContext } from './action.js';
import { ActionConfigError } from './action.js';

/** What a lifecycle notice is about (set by src/hub/notices.ts on the notice's own step). */
export interface NoticeInfo {
  kind: string;
  /** The step the notice is about, for step-* notices. */
  step?: string;
  attempt?: number;
  detail?: string;
}

/** Parameters key under which a notice step carries what it is about (never set by users). */
export const NOTICE_PARAM = '_notice';

export function noticeOf(params: Record<string, unknown>): NoticeInfo | undefined {
  const n = params[NOTICE_PARAM];
  return n && typeof n === 'object' ? (n as NoticeInfo) : undefined;
}

/** Throws unless `tz` is an IANA time zone this Node knows. */
export function checkTimeZone(tz: unknown, field: string): void {
  if (tz === undefined) return;
  try {
    if (typeof tz !== 'string') throw new Error();
    new Intl.DateTimeFormat('en-GB', { timeZone: tz });
  } catch {
    throw new ActionConfigError(
      `${field}: ${JSON.stringify(tz)} is not an IANA time zone (e.g. Europe/Berlin)`,
    );
  }
}

/** `2026-11-23 01:00:00 UTC`, or in a zone: `2026-11-23 02:00:00 CET (Europe/Berlin)`. */
export function formatInZone(ms: number, timeZone = 'UTC'): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'short',
    })
      .formatToParts(ms)
      .map((p) => [p.type, p.value]),
  );
  const at = `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
  return timeZone === 'UTC' ? `${at} UTC` : `${at} ${parts.timeZoneName} (${timeZone})`;
}

/** `in 14m30s`, `2m ago`, or `unknown` without NotBefore. */
export function timeLeft(notBefore: string | undefined, now: number): string {
  if (!notBefore) return 'unknown';
  const left = Date.parse(notBefore) - now;
  return left >= 0 ? `in ${formatDuration(left)}` : `${formatDuration(-left)} ago`;
}

export function eventContext(
  ctx: ActionContext,
  params: Record<string, unknown> = {},
  timeZone?: string,
): Record<string, unknown> {
  const e = ctx.event;
  const nb = e.notBefore ? Date.parse(e.notBefore) : undefined;
  const zone = timeZone ?? 'UTC';
  return {
    rule: ctx.rule,
    step: ctx.step,
    phase: ctx.phase,
    vm: ctx.vm,
    transition: ctx.transition,
    event: e,
    eventUrl: ctx.eventUrl,
    idempotencyKey: ctx.idempotencyKey,
    deadline: ctx.deadline,
    provider: e.provider,
    eventId: e.eventId,
    type: e.type,
    status: e.status,
    origin: e.origin,
    description: e.description ?? '',
    resources: e.resources.join(', '),
    notBefore: e.notBefore ?? '',
    notBeforeUtc: nb === undefined ? 'not announced' : formatInZone(nb, 'UTC'),
    notBeforeLocal: nb === undefined ? 'not announced' : formatInZone(nb, zone),
    timeZone: zone,
    timeLeft: timeLeft(e.notBefore, ctx.now()),
    notice: noticeOf(params) ?? null,
  };
}

/** The names a template may use (the roots of eventContext), for load-time checks. */
export const CONTEXT_ROOTS = [
  'rule',
  'step',
  'phase',
  'vm',
  'transition',
  'event',
  'eventUrl',
  'idempotencyKey',
  'deadline',
  'provider',
  'eventId',
  'type',
  'status',
  'origin',
  'description',
  'resources',
  'notBefore',
  'notBeforeUtc',
  'notBeforeLocal',
  'timeZone',
  'timeLeft',
  'notice',
] as const;
