import { describe, expect, it } from 'vitest';
import {
  formatDuration,
  formatLegacyEventTime,
  formatRfc1123,
  parseAzureNotBefore,
  parseDuration,
  parseLegacyEventTime,
  parseRfc1123,
  TimeFormatError,
  toIso,
  parseAwsEventTime,
  formatAwsEventTime,
  parseRfc3339,
  formatRfc3339Seconds,
  parseAlibabaEventTime,
  formatAlibabaEventTime,
  parseTencentTime,
  formatTencentTime,
} from './time.js';

describe('parseRfc1123', () => {
  it('parses the documented Azure form', () => {
    expect(new Date(parseRfc1123('Mon, 19 Sep 2016 18:29:47 GMT')).toISOString()).toBe(
      '2016-09-19T18:29:47.000Z',
    );
  });
  it('ignores a wrong weekday, as in the docs example (11 Apr 2026 is a Saturday)', () => {
    expect(new Date(parseRfc1123('Mon, 11 Apr 2026 22:26:58 GMT')).toISOString()).toBe(
      '2026-04-11T22:26:58.000Z',
    );
  });
  it('accepts the weekday-less AWS form and a one-digit day', () => {
    expect(new Date(parseRfc1123('21 Jan 2019 09:00:43 GMT')).toISOString()).toBe('2019-01-21T09:00:43.000Z');
    expect(new Date(parseRfc1123('Tue, 3 Mar 2026 10:15:00 GMT')).toISOString()).toBe(
      '2026-03-03T10:15:00.000Z',
    );
  });
  it.each([
    '',
    '2016-09-19T18:29:47Z',
    'Mon, 19 Sep 2016 18:29:47',
    'Mon, 19 Foo 2016 18:29:47 GMT',
    'Mon, 31 Feb 2016 18:29:47 GMT',
    'Mon, 19 Sep 2016 25:29:47 GMT',
    'Mon, 19 Sep 2016 18:60:47 GMT',
    'Mon, 19 Sep 2016 18:29:47 CET',
  ])('rejects %j with a TimeFormatError', (input) => {
    expect(() => parseRfc1123(input)).toThrow(TimeFormatError);
  });
  it('rejects non-strings without throwing anything but TimeFormatError', () => {
    expect(() => parseRfc1123(42 as unknown as string)).toThrow(TimeFormatError);
    expect(() => parseRfc1123(null as unknown as string)).toThrow(/invalid time null/);
  });
  it('round-trips with formatRfc1123, which pads the day and truncates to the second', () => {
    const ms = Date.UTC(2026, 2, 3, 10, 15, 0, 999);
    expect(formatRfc1123(ms)).toBe('Tue, 03 Mar 2026 10:15:00 GMT');
    expect(parseRfc1123(formatRfc1123(ms))).toBe(ms - 999);
  });
});

describe('parseAzureNotBefore', () => {
  it('treats "" (a Started event) as no time', () => {
    expect(parseAzureNotBefore('')).toBeUndefined();
  });
  it('parses a real value and rejects garbage', () => {
    expect(parseAzureNotBefore('Wed, 24 Jan 2018 21:20:44 GMT')).toBe(Date.UTC(2018, 0, 24, 21, 20, 44));
    expect(() => parseAzureNotBefore(' ')).toThrow(TimeFormatError);
  });
});

describe('parseLegacyEventTime', () => {
  it('reads the 2015 US-locale form as UTC', () => {
    expect(new Date(parseLegacyEventTime('9/15/2015 6:42:51 AM')).toISOString()).toBe(
      '2015-09-15T06:42:51.000Z',
    );
    expect(new Date(parseLegacyEventTime('12/31/2015 11:59:59 PM')).toISOString()).toBe(
      '2015-12-31T23:59:59.000Z',
    );
  });
  it('maps 12 AM to midnight and 12 PM to noon', () => {
    expect(new Date(parseLegacyEventTime('1/1/2016 12:00:00 AM')).getUTCHours()).toBe(0);
    expect(new Date(parseLegacyEventTime('1/1/2016 12:00:00 pm')).getUTCHours()).toBe(12);
  });
  it.each([
    '',
    '9/15/2015 6:42:51',
    '15/9/2015 6:42:51 AM',
    '9/15/2015 13:42:51 PM',
    '9/15/2015 0:42:51 AM',
    '2/30/2016 1:00:00 AM',
  ])('rejects %j', (input) => expect(() => parseLegacyEventTime(input)).toThrow(TimeFormatError));
  it('round-trips with formatLegacyEventTime', () => {
    for (const iso of [
      '2015-09-15T06:42:51Z',
      '2016-01-01T00:00:00Z',
      '2016-06-30T12:05:09Z',
      '2016-06-30T23:05:09Z',
    ]) {
      const ms = Date.parse(iso);
      expect(parseLegacyEventTime(formatLegacyEventTime(ms))).toBe(ms);
    }
    expect(formatLegacyEventTime(Date.parse('2015-09-15T06:42:51Z'))).toBe('9/15/2015 6:42:51 AM');
  });
});

describe('parseDuration', () => {
  it.each([
    [90, 90_000],
    [0.25, 250],
    ['90s', 90_000],
    ['15m', 900_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    ['1.5s', 1500],
    ['2d', 172_800_000],
    ['PT5M', 300_000],
    ['PT15M', 900_000],
    ['PT1H2M3S', 3_723_000],
    ['P1DT1S', 86_401_000],
  ] as const)('%j → %i ms', (input, ms) => expect(parseDuration(input)).toBe(ms));
  it.each(['', '15', '15 minutes', 'm15', '-5s', 'P', 'PT', '5M', -1, Number.NaN, Infinity])(
    'rejects %j',
    (input) => {
      expect(() => parseDuration(input as string)).toThrow(TimeFormatError);
    },
  );
});

describe('formatDuration', () => {
  it('is compact', () => {
    expect(formatDuration(450)).toBe('450ms');
    expect(formatDuration(3_723_000)).toBe('1h2m3s');
    expect(formatDuration(60_000)).toBe('1m');
    expect(formatDuration(1000)).toBe('1s');
  });
});

describe('AWS IMDS event time', () => {
  it('parses a one- and a two-digit day and formats without padding', () => {
    expect(toIso(parseAwsEventTime('21 Jan 2019 09:00:43 GMT'))).toBe('2019-01-21T09:00:43.000Z');
    expect(toIso(parseAwsEventTime('1 Jan 2020 01:03:47 GMT'))).toBe('2020-01-01T01:03:47.000Z');
    expect(formatAwsEventTime(Date.UTC(2020, 0, 1, 1, 3, 47, 900))).toBe('1 Jan 2020 01:03:47 GMT');
    expect(parseAwsEventTime(formatAwsEventTime(Date.UTC(2026, 2, 7, 2)))).toBe(Date.UTC(2026, 2, 7, 2));
  });
  it.each([
    '',
    'Mon, 21 Jan 2019 09:00:43 GMT',
    '21 Jan 2019 09:00:43',
    '32 Jan 2019 09:00:43 GMT',
    '2019-01-21T09:00:43Z',
  ])('rejects %j', (input) => expect(() => parseAwsEventTime(input)).toThrow(TimeFormatError));
});

describe('parseRfc3339', () => {
  it('reads Z, offsets and fractions', () => {
    expect(toIso(parseRfc3339('2017-09-18T08:22:00Z'))).toBe('2017-09-18T08:22:00.000Z');
    expect(toIso(parseRfc3339('2024-12-01T19:00:01.5+08:00'))).toBe('2024-12-01T11:00:01.500Z');
    expect(toIso(parseRfc3339('2024-12-01T19:00:01.123456789-01:30'))).toBe('2024-12-01T20:30:01.123Z');
    expect(formatRfc3339Seconds(Date.UTC(2026, 2, 7, 8, 22, 0, 999))).toBe('2026-03-07T08:22:00Z');
  });
  it.each([
    '',
    'none',
    '2017-09-18T08:22:00',
    '2017-09-18 08:22:00Z',
    '2017-02-30T08:22:00Z',
    '2017-09-18T08:22:00+25:00',
    42,
  ])('rejects %j', (input) => expect(() => parseRfc3339(input as string)).toThrow(TimeFormatError));
});

describe('Alibaba eventTime', () => {
  it('parses the UTC+8 compact form that Date.parse cannot', () => {
    expect(Number.isNaN(Date.parse('20190409T121826.922+0800'))).toBe(true);
    expect(toIso(parseAlibabaEventTime('20190409T121826.922+0800'))).toBe('2019-04-09T04:18:26.922Z');
    expect(toIso(parseAlibabaEventTime('20190409T121826+0000'))).toBe('2019-04-09T12:18:26.000Z');
    expect(formatAlibabaEventTime(Date.UTC(2019, 3, 9, 4, 18, 26, 922))).toBe('20190409T121826.922+0800');
  });
  it.each([
    '',
    '2019-04-09T12:18:26Z',
    '20190409T121826.922',
    '20191309T121826.922+0800',
    '20190409T121826.922+0860',
  ])('rejects %j', (input) => expect(() => parseAlibabaEventTime(input)).toThrow(TimeFormatError));
});

describe('Tencent termination time', () => {
  it('reads a zoneless time as UTC+8', () => {
    expect(toIso(parseTencentTime('2018-08-18 12:05:33'))).toBe('2018-08-18T04:05:33.000Z');
    expect(formatTencentTime(Date.UTC(2018, 7, 18, 4, 5, 33, 400))).toBe('2018-08-18 12:05:33');
  });
  it.each([
    '',
    '2018-08-18T12:05:33',
    '2018-08-18 12:05',
    '2018-08-18 24:05:33',
    '2018-08-18 12:05:33+08:00',
  ])('rejects %j', (input) => expect(() => parseTencentTime(input)).toThrow(TimeFormatError));
});
