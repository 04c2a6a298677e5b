import { describe, expect, it } from 'vitest';
import {
  FACILITIES,
  SEVERITIES,
  escapeSdValue,
  formatRfc3164,
  formatRfc5424,
  formatStructuredData,
  frameOctetCounting,
  priority,
  type SyslogMessage,
} from './syslog-format.js';

const base: SyslogMessage = {
  facility: 'local0',
  severity: 'warning',
  timestamp: new Date('2024-03-05T07:08:09.012Z'),
  hostname: 'web-01',
  appName: 'forewarn',
  procId: '1234',
  msgId: 'scheduled',
  structuredData: { 'forewarn@32473': { eventId: 'E-1', type: 'reboot' } },
  message: 'reboot scheduled',
};

describe('priority', () => {
  it('is facility * 8 + severity for every name', () => {
    expect(priority('kern', 'emerg')).toBe(0);
    expect(priority('user', 'notice')).toBe(13);
    expect(priority('daemon', 'info')).toBe(30);
    expect(priority('auth', 'crit')).toBe(34);
    expect(priority('syslog', 'debug')).toBe(47);
    expect(priority('local0', 'warning')).toBe(132);
    expect(priority('local7', 'debug')).toBe(191);
    expect(Object.keys(FACILITIES)).toHaveLength(24);
    expect(Object.values(SEVERITIES)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('rejects unknown names (e.g. from an unchecked config)', () => {
    expect(() => priority('local8' as never, 'info')).toThrow(/unknown facility "local8"/);
    expect(() => priority('user', 'warn' as never)).toThrow(/unknown severity "warn"/);
    expect(() => priority('toString' as never, 'info')).toThrow(/unknown facility/);
  });
});

describe('formatRfc5424', () => {
  it('writes the full header, structured data and message', () => {
    expect(formatRfc5424(base)).toBe(
      '<132>1 2024-03-05T07:08:09.012Z web-01 forewarn 1234 scheduled ' +
        '[forewarn@32473 eventId="E-1" type="reboot"] reboot scheduled',
    );
  });

  it('uses NILVALUE for empty fields and omits an empty MSG with its space', () => {
    const line = formatRfc5424({
      ...base,
      hostname: '',
      appName: '',
      procId: undefined,
      msgId: '',
      structuredData: {},
      message: '',
    });
    expect(line).toBe('<132>1 2024-03-05T07:08:09.012Z - - - - -');
  });

  it('writes the timestamp in UTC with milliseconds whatever the input zone', () => {
    const line = formatRfc5424({ ...base, timestamp: new Date('2024-12-31T23:59:59+02:00') });
    expect(line).toContain(' 2024-12-31T21:59:59.000Z ');
  });

  it('does not add a UTF-8 BOM before MSG', () => {
    const line = formatRfc5424({ ...base, message: 'Wartung für web-01' });
    expect(line).not.toContain('\ufeff');
    expect(line.endsWith('] Wartung für web-01')).toBe(true);
  });

  it('escapes ", \\ and ] in SD-PARAM values and nothing else', () => {
    expect(escapeSdValue('a"b\\c]d[e=f g')).toBe('a\\"b\\\\c\\]d[e=f g');
    const line = formatRfc5424({
      ...base,
      structuredData: { 'forewarn@32473': { note: 'say "hi" \\o/ [x]', empty: '', utf8: 'ü' } },
    });
    expect(line).toContain('[forewarn@32473 note="say \\"hi\\" \\\\o/ [x\\]" empty="" utf8="ü"]');
  });

  it('writes several SD elements in order, and an SD-ID without parameters', () => {
    expect(formatStructuredData({ 'a@1': { k: 'v' }, 'b@1': {}, 'c@1': { x: '1', y: '2' } })).toBe(
      '[a@1 k="v"][b@1][c@1 x="1" y="2"]',
    );
  });

  it('throws a clear error on an invalid SD-ID or parameter name', () => {
    expect(() => formatRfc5424({ ...base, structuredData: { 'bad id': { k: 'v' } } })).toThrow(
      /invalid SD-ID "bad id": must be 1-32 printable US-ASCII/,
    );
    for (const id of ['', 'a=b', 'a]b', 'a"b', 'x'.repeat(33), 'ümlaut@1'])
      expect(() => formatStructuredData({ [id]: {} }), id).toThrow(/invalid SD-ID/);
    expect(() => formatStructuredData({ 'ok@1': { 'bad name': 'v' } })).toThrow(
      /invalid SD-PARAM name "bad name" in SD-ID "ok@1"/,
    );
    expect(formatStructuredData({ ['x'.repeat(32)]: { ['y'.repeat(32)]: 'v' } })).toContain('x'.repeat(32));
  });

  it('cuts header fields to their RFC limits', () => {
    const line = formatRfc5424({
      ...base,
      hostname: 'h'.repeat(300),
      appName: 'a'.repeat(60),
      procId: 'p'.repeat(200),
      msgId: 'm'.repeat(40),
    });
    const [, , host, app, proc, msgId] = line.split(' ');
    expect(host).toBe('h'.repeat(255));
    expect(app).toBe('a'.repeat(48));
    expect(proc).toBe('p'.repeat(128));
    expect(msgId).toBe('m'.repeat(32));
  });

  it('replaces non-printable and non-ASCII characters in header fields with _', () => {
    const line = formatRfc5424({
      ...base,
      hostname: 'hôst-ñame.例え',
      appName: 'fore warn',
      procId: 'a\tb',
      msgId: 'x\u0000y😀',
    });
    expect(line).toBe(
      '<132>1 2024-03-05T07:08:09.012Z h_st-_ame.__ fore_warn a_b x_y_ ' +
        '[forewarn@32473 eventId="E-1" type="reboot"] reboot scheduled',
    );
  });

  it('rejects an invalid date', () => {
    expect(() => formatRfc5424({ ...base, timestamp: new Date('nope') })).toThrow(/invalid timestamp/);
  });
});

describe('formatRfc3164', () => {
  it('writes <PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSGID MSG [sd]', () => {
    expect(formatRfc3164(base)).toBe(
      '<132>Mar  5 07:08:09 web-01 forewarn[1234]: scheduled reboot scheduled ' +
        '[forewarn@32473 eventId="E-1" type="reboot"]',
    );
  });

  it('pads the day with a space, uses UTC and leaves out [PID], MSGID and SD when absent', () => {
    const line = formatRfc3164({
      ...base,
      timestamp: new Date('2024-11-30T23:30:00-02:00'),
      procId: undefined,
      msgId: undefined,
      structuredData: undefined,
    });
    expect(line).toBe('<132>Dec  1 01:30:00 web-01 forewarn: reboot scheduled');
    expect(formatRfc3164({ ...base, timestamp: new Date('2024-01-15T00:00:00Z') })).toMatch(
      /^<132>Jan 15 00:00:00 /,
    );
  });

  it('makes the tag legal: 32 characters, no space, bracket or colon', () => {
    const line = formatRfc3164({ ...base, appName: 'my app:[x]' + 'z'.repeat(40), procId: undefined });
    expect(line).toContain(` my_app__x_${'z'.repeat(22)}: `);
  });

  it('escapes structured data like RFC 5424 and validates SD-IDs', () => {
    expect(formatRfc3164({ ...base, structuredData: { 'a@1': { k: 'x]"' } } })).toMatch(
      / \[a@1 k="x\\]\\""]$/,
    );
    expect(() => formatRfc3164({ ...base, structuredData: { 'a b': {} } })).toThrow(/invalid SD-ID/);
  });
});

describe('frameOctetCounting', () => {
  it('prefixes the length in bytes and a space', () => {
    expect(frameOctetCounting('<13>1 - - - - - - hi').toString()).toBe('20 <13>1 - - - - - - hi');
  });

  it('counts UTF-8 bytes, not characters, for multi-byte messages', () => {
    const line = 'ü€😀';
    expect(line.length).toBe(4); // UTF-16 code units
    const framed = frameOctetCounting(line);
    expect(framed.toString('utf8')).toBe(`9 ${line}`); // 2 + 3 + 4 bytes
    expect(framed.length).toBe(11);
  });

  it('frames an empty line as "0 "', () => {
    expect(frameOctetCounting('').toString()).toBe('0 ');
  });
});
