// Syslog message formatting: RFC 5424 (the default), RFC 3164 (for old receivers) and RFC 6587
// octet-counting framing for stream transports. Pure functions, no I/O.

/** Facility names as syslog(3) and rsyslog spell them, with their numeric codes (RFC 5424 §6.2.1). */
export const FACILITIES = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  ntp: 12,
  audit: 13,
  alert: 14,
  clock: 15,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const;
export type Facility = keyof typeof FACILITIES;

/** Severity names with their numeric codes (RFC 5424 §6.2.1). */
export const SEVERITIES = {
  emerg: 0,
  alert: 1,
  crit: 2,
  err: 3,
  warning: 4,
  notice: 5,
  info: 6,
  debug: 7,
} as const;
export type Severity = keyof typeof SEVERITIES;

/** SD-ID → (PARAM-NAME → PARAM-VALUE), e.g. `{ 'forewarn@32473': { eventId: 'abc' } }`. */
export type StructuredData = Record<string, Record<string, string>>;

export interface SyslogMessage {
  facility: Facility;
  severity: Severity;
  timestamp: Date;
  hostname: string;
  appName: string;
  procId?: string;
  msgId?: string;
  structuredData?: StructuredData;
  message: string;
}

/** RFC 5424 §6 field length limits, in octets (the fields are ASCII-only, so octets = characters). */
export const FIELD_LIMITS = { hostname: 255, appName: 48, procId: 128, msgId: 32 } as const;

const NILVALUE = '-';

/** `(facility * 8) + severity`; throws on a name that is not a facility or severity. */
export function priority(facility: Facility, severity: Severity): number {
  if (!Object.hasOwn(FACILITIES, facility))
    throw new Error(`syslog: unknown facility ${JSON.stringify(facility)}`);
  if (!Object.hasOwn(SEVERITIES, severity))
    throw new Error(`syslog: unknown severity ${JSON.stringify(severity)}`);
  return FACILITIES[facility] * 8 + SEVERITIES[severity];
}

/**
 * Makes a header field legal: every character outside PRINTUSASCII (33..126, so no space and no
 * non-ASCII) becomes '_', one '_' per code point, then the result is cut to `max` characters.
 * Empty input gives the empty string (callers turn that into NILVALUE).
 */
export function sanitizeHeaderField(value: string | undefined, max: number): string {
  if (!value) return '';
  let out = '';
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    out += c >= 33 && c <= 126 ? ch : '_';
    if (out.length >= max) break;
  }
  return out;
}

function headerField(value: string | undefined, max: number): string {
  return sanitizeHeaderField(value, max) || NILVALUE;
}

/** SD-NAME (SD-ID or PARAM-NAME): 1..32 PRINTUSASCII except '=', SP, ']', '"' (RFC 5424 §6.3). */
const SD_NAME = /^[\x21\x23-\x3c\x3e-\x5c\x5e-\x7e]{1,32}$/;

export function isValidSdName(name: string): boolean {
  return SD_NAME.test(name);
}

function checkSdName(kind: 'SD-ID' | 'SD-PARAM name', name: string, sdId?: string): void {
  if (!SD_NAME.test(name)) {
    const where = sdId === undefined ? '' : ` in SD-ID ${JSON.stringify(sdId)}`;
    throw new Error(
      `syslog: invalid ${kind} ${JSON.stringify(name)}${where}: must be 1-32 printable US-ASCII characters ` +
        `without '=', ' ', ']' or '"'`,
    );
  }
}

/** Escapes a PARAM-VALUE: '"', '\' and ']' get a backslash (RFC 5424 §6.3.3). */
export function escapeSdValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/**
 * `[id k="v" ...][id2 ...]`, or '' when there is none. Throws a clear error on an invalid SD-ID or
 * parameter name (we never silently rewrite those: a receiver would file the data under a
 * different key).
 */
export function formatStructuredData(sd: StructuredData | undefined): string {
  if (!sd) return '';
  let out = '';
  for (const [id, params] of Object.entries(sd)) {
    checkSdName('SD-ID', id);
    out += `[${id}`;
    for (const [name, value] of Object.entries(params)) {
      checkSdName('SD-PARAM name', name, id);
      out += ` ${name}="${escapeSdValue(String(value))}"`;
    }
    out += ']';
  }
  return out;
}

function checkTimestamp(ts: Date): void {
  if (!(ts instanceof Date) || Number.isNaN(ts.getTime()))
    throw new Error(`syslog: invalid timestamp ${String(ts)}`);
}

/**
 * RFC 5424: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]`.
 *
 * The timestamp is ISO 8601 in UTC with milliseconds. Empty header fields are NILVALUE ('-'),
 * header fields are cut to their RFC limits and anything outside printable US-ASCII becomes '_'.
 *
 * RFC 5424 §6.4 lets a UTF-8 MSG start with a BOM. We deliberately do NOT add one: rsyslog and
 * many other receivers keep it as part of the text and show it as junk (`\xEF\xBB\xBF`, `#357#273#277`).
 */
export function formatRfc5424(msg: SyslogMessage): string {
  checkTimestamp(msg.timestamp);
  const pri = priority(msg.facility, msg.severity);
  const header = [
    `<${pri}>1`,
    msg.timestamp.toISOString(),
    headerField(msg.hostname, FIELD_LIMITS.hostname),
    headerField(msg.appName, FIELD_LIMITS.appName),
    headerField(msg.procId, FIELD_LIMITS.procId),
    headerField(msg.msgId, FIELD_LIMITS.msgId),
    formatStructuredData(msg.structuredData) || NILVALUE,
  ].join(' ');
  return msg.message ? `${header} ${msg.message}` : header;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 3164 TIMESTAMP `Mmm dd hh:mm:ss`, day padded with a space, in UTC (it has no zone). */
export function rfc3164Timestamp(ts: Date): string {
  checkTimestamp(ts);
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${MONTHS[ts.getUTCMonth()]} ${String(ts.getUTCDate()).padStart(2, ' ')} ` +
    `${two(ts.getUTCHours())}:${two(ts.getUTCMinutes())}:${two(ts.getUTCSeconds())}`
  );
}

/** RFC 3164 §4.1.3: the TAG is at most 32 characters. */
export const RFC3164_TAG_MAX = 32;

/**
 * RFC 3164 (BSD syslog) for old receivers: `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG`.
 *
 * - The timestamp is written in UTC (3164 has no zone or year).
 * - TAG is the app-name, cut to 32 characters; '[', ']' and ':' also become '_' since they end a tag.
 * - 3164 has no MSGID: when given, it is the first word of the content (`MSGID MSG`).
 * - Structured data is appended to the content as `[id k="v"]`, escaped as in RFC 5424.
 * - No length limit is applied (3164 says 1024 octets; rsyslog and syslog-ng accept more).
 */
export function formatRfc3164(msg: SyslogMessage): string {
  const pri = priority(msg.facility, msg.severity);
  const ts = rfc3164Timestamp(msg.timestamp);
  const host = headerField(msg.hostname, FIELD_LIMITS.hostname);
  const tag = sanitizeHeaderField(msg.appName, RFC3164_TAG_MAX).replace(/[[\]:]/g, '_') || NILVALUE;
  const pid = sanitizeHeaderField(msg.procId, FIELD_LIMITS.procId).replace(/[[\]]/g, '_');
  return `<${pri}>${ts} ${host} ${tag}${pid ? `[${pid}]` : ''}: ${rfc3164Content(msg)}`;
}

/** The CONTENT part of an RFC 3164 line: `[MSGID ]MSG[ [id k="v"]...]`. */
export function rfc3164Content(msg: Pick<SyslogMessage, 'msgId' | 'message' | 'structuredData'>): string {
  const msgId = sanitizeHeaderField(msg.msgId, FIELD_LIMITS.msgId);
  const sd = formatStructuredData(msg.structuredData);
  return [msgId, msg.message, sd].filter((part) => part !== '').join(' ');
}

/** RFC 6587 §3.4.1 octet-counting: `MSG-LEN SP SYSLOG-MSG`, MSG-LEN in bytes of the UTF-8 line. */
export function frameOctetCounting(line: string): Buffer {
  const body = Buffer.from(line, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}
