// Provider date formats and durations. Pure functions: every parser throws TimeFormatError
// with the offending input, never returns an Invalid Date.

export class TimeFormatError extends Error {
  constructor(
    readonly input: unknown,
    expected: string,
  ) {
    super(`invalid time ${JSON.stringify(input)}: expected ${expected}`);
    this.name = 'TimeFormatError';
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** Date.UTC that rejects out-of-range fields instead of rolling them over (31 Feb → 3 Mar). */
function strictUtc(
  input: unknown,
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  ms = 0,
) {
  const t = Date.UTC(y, mo, d, h, mi, s, ms);
  const back = new Date(t);
  if (
    back.getUTCFullYear() !== y ||
    back.getUTCMonth() !== mo ||
    back.getUTCDate() !== d ||
    back.getUTCHours() !== h ||
    back.getUTCMinutes() !== mi ||
    back.getUTCSeconds() !== s
  ) {
    throw new TimeFormatError(input, 'a real calendar date and time');
  }
  return t;
}

const RFC1123 =
  /^\s*(?:[A-Za-z]{3},\s*)?(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (?:GMT|UTC|\+0000)\s*$/;

/**
 * Parses RFC 1123 (`Mon, 19 Sep 2016 18:29:47 GMT`) and its weekday-less AWS form
 * (`21 Jan 2019 09:00:43 GMT`). The weekday is ignored: Azure's own docs show wrong ones.
 * Returns epoch milliseconds.
 */
export function parseRfc1123(input: string): number {
  const m = typeof input === 'string' ? RFC1123.exec(input) : null;
  if (!m) throw new TimeFormatError(input, "RFC 1123, e.g. 'Mon, 19 Sep 2016 18:29:47 GMT'");
  const month = MONTHS.findIndex((x) => x.toLowerCase() === m[2]!.toLowerCase());
  if (month < 0) throw new TimeFormatError(input, 'an English month abbreviation');
  return strictUtc(input, Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/** Formats epoch ms as RFC 1123 GMT with a two-digit day, exactly as Azure IMDS does. */
export function formatRfc1123(ms: number): string {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${WEEKDAYS[d.getUTCDay()]}, ${p(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} GMT`
  );
}

/** Azure `NotBefore`: RFC 1123, or `""` once the event has started (no time). */
export function parseAzureNotBefore(input: string): number | undefined {
  if (input === '') return undefined;
  return parseRfc1123(input);
}

const LEGACY = /^\s*(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2}):(\d{2}) ([AaPp][Mm])\s*$/;

/**
 * The 2015 in-VM service's `EventCreationTime`: US-locale `M/d/yyyy h:mm:ss tt` with no zone.
 * The service ran in UTC, so we read it as UTC.
 */
export function parseLegacyEventTime(input: string): number {
  const m = typeof input === 'string' ? LEGACY.exec(input) : null;
  if (!m) throw new TimeFormatError(input, "M/d/yyyy h:mm:ss AM|PM, e.g. '9/15/2015 6:42:51 AM'");
  const hour12 = Number(m[4]);
  if (hour12 < 1 || hour12 > 12) throw new TimeFormatError(input, 'an hour from 1 to 12');
  const pm = m[7]!.toUpperCase() === 'PM';
  const hour = (hour12 % 12) + (pm ? 12 : 0);
  return strictUtc(input, Number(m[3]), Number(m[1]) - 1, Number(m[2]), hour, Number(m[5]), Number(m[6]));
}

export function formatLegacyEventTime(ms: number): string {
  const d = new Date(ms);
  const h = d.getUTCHours();
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ` +
    `${h % 12 === 0 ? 12 : h % 12}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${h < 12 ? 'AM' : 'PM'}`
  );
}

/** ISO 8601 UTC with milliseconds, our own format everywhere. */
export function toIso(ms: number): string {
  return new Date(ms).toISOString();
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SHORT = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const SHORT_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
const ISO_DURATION =
  /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/**
 * Parses a duration into milliseconds: a number of seconds, `90s`, `15m`, `1h30m`, `250ms`, or
 * ISO 8601 (`PT5M`, the form Azure's terminate notification uses).
 */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0)
      throw new TimeFormatError(input, 'a non-negative number of seconds');
    return Math.round(input * 1000);
  }
  if (typeof input !== 'string')
    throw new TimeFormatError(input, "a duration such as '90s', '15m' or 'PT5M'");
  const s = input.trim();
  if (SHORT.test(s)) {
    let total = 0;
    for (const m of s.matchAll(SHORT_PART)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
    return Math.round(total);
  }
  const iso = ISO_DURATION.exec(s);
  if (iso && s !== 'P' && !s.endsWith('T')) {
    const [, d = '0', h = '0', mi = '0', sec = '0'] = iso;
    return Math.round(
      Number(d) * UNIT_MS.d! + Number(h) * UNIT_MS.h! + Number(mi) * UNIT_MS.m! + Number(sec) * 1000,
    );
  }
  throw new TimeFormatError(input, "a duration such as '90s', '15m', '1h30m' or 'PT5M'");
}

/** Formats milliseconds compactly for humans and logs: `1h2m3s`, `450ms`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let s = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  if (s > 0 || parts.length === 0) parts.push(`${s}s`);
  return parts.join('');
}

/** AWS IMDS `NotBefore`/`NotAfter`: `21 Jan 2019 09:00:43 GMT`, no weekday, day not padded (Go `2 Jan 2006`). */
export function parseAwsEventTime(input: string): number {
  if (typeof input !== 'string' || input.includes(','))
    throw new TimeFormatError(input, "d MMM yyyy HH:mm:ss GMT, e.g. '21 Jan 2019 09:00:43 GMT'");
  return parseRfc1123(input);
}

export function formatAwsEventTime(ms: number): string {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} GMT`
  );
}

const RFC3339 =
  /^\s*(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})\s*$/;

/**
 * RFC 3339 with a date, a time and a zone (`2017-09-18T08:22:00Z`, `…+08:00`): AWS spot and
 * rebalance times, GCP upcoming-maintenance, Alibaba spot termination. No zone is an error.
 */
export function parseRfc3339(input: string): number {
  const m = typeof input === 'string' ? RFC3339.exec(input) : null;
  if (!m) throw new TimeFormatError(input, "RFC 3339, e.g. '2017-09-18T08:22:00Z'");
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  const t = strictUtc(
    input,
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6]),
    ms,
  );
  return t - offsetMs(input, m[8]!.toUpperCase() === 'Z' ? '+00:00' : m[8]!);
}

/** `+08:00` or `+0800` → milliseconds east of UTC. */
function offsetMs(input: unknown, zone: string): number {
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
  if (!m || Number(m[2]) > 23 || Number(m[3]) > 59) throw new TimeFormatError(input, 'a zone offset ±HH:MM');
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 3_600_000 + Number(m[3]) * 60_000);
}

/** RFC 3339 UTC to the second, as AWS and Alibaba print it: `2017-09-18T08:22:00Z`. */
export function formatRfc3339Seconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

const ALIBABA = /^\s*(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(?:\.(\d{1,3}))?([+-]\d{4})\s*$/;

/** Alibaba notification `eventTime`: `20190409T121826.922+0800` (Date.parse gives Invalid Date). */
export function parseAlibabaEventTime(input: string): number {
  const m = typeof input === 'string' ? ALIBABA.exec(input) : null;
  if (!m) throw new TimeFormatError(input, "yyyyMMdd'T'HHmmss.SSSZ, e.g. '20190409T121826.922+0800'");
  const ms = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  const t = strictUtc(
    input,
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6]),
    ms,
  );
  return t - offsetMs(input, m[8]!);
}

/** Formats as Alibaba does, in UTC+8: `20190409T121826.922+0800`. */
export function formatAlibabaEventTime(ms: number): string {
  const d = new Date(ms + 8 * 3_600_000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}T` +
    `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}+0800`
  );
}

const TENCENT = /^\s*(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\s*$/;

/** Tencent spot `termination-time`: `2018-08-18 12:05:33`, local time in UTC+8 with no zone marker. */
export function parseTencentTime(input: string): number {
  const m = typeof input === 'string' ? TENCENT.exec(input) : null;
  if (!m) throw new TimeFormatError(input, "yyyy-MM-dd HH:mm:ss (UTC+8), e.g. '2018-08-18 12:05:33'");
  const t = strictUtc(
    input,
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6]),
  );
  return t - 8 * 3_600_000;
}

export function formatTencentTime(ms: number): string {
  const d = new Date(Math.floor(ms / 1000) * 1000 + 8 * 3_600_000);
  return d.toISOString().slice(0, 19).replace('T', ' ');
}
