// Maintenance windows at fixed instants: edges, overnight, both DST changes in Europe/Berlin,
// when the window next opens, and the load-time checks of a rule's window and blockers.
import { describe, expect, it } from 'vitest';
import { checkRule } from './rules.js';
import { blockerFails, localTime, nextOpening, windowOpen, type WindowT } from './windows.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

describe('windowOpen', () => {
  // Weekdays 02:00–04:00 Berlin: CET in November, so 01:00Z–03:00Z. 2026-11-23 is a Monday.
  const weekdays: WindowT = {
    days: ['mon', 'tue', 'wed', 'thu', 'fri'],
    start: '02:00',
    end: '04:00',
    timeZone: 'Europe/Berlin',
  };

  it('opens at start and closes at end, in the window’s zone', () => {
    expect(localTime(at('2026-11-23T01:00:00Z'), 'Europe/Berlin')).toEqual({ day: 'mon', minute: 120 });
    expect(windowOpen(weekdays, at('2026-11-23T00:59:59Z'))).toBe(false);
    expect(windowOpen(weekdays, at('2026-11-23T01:00:00Z'))).toBe(true);
    expect(windowOpen(weekdays, at('2026-11-23T02:59:59Z'))).toBe(true);
    expect(windowOpen(weekdays, at('2026-11-23T03:00:00Z'))).toBe(false);
    // Saturday and Sunday: closed all day.
    expect(windowOpen(weekdays, at('2026-11-28T01:30:00Z'))).toBe(false);
    expect(windowOpen(weekdays, at('2026-11-29T01:30:00Z'))).toBe(false);
    // Without a zone the times are UTC.
    expect(windowOpen({ start: '02:00', end: '04:00' }, at('2026-11-23T01:30:00Z'))).toBe(false);
    expect(windowOpen({ start: '02:00', end: '04:00' }, at('2026-11-23T02:30:00Z'))).toBe(true);
  });

  it('an overnight window (end before start) belongs to the day it opens', () => {
    const fridayNight: WindowT = { days: ['fri'], start: '22:00', end: '02:00', timeZone: 'Europe/Berlin' };
    expect(windowOpen(fridayNight, at('2026-11-27T20:59:00Z'))).toBe(false); // Fri 21:59
    expect(windowOpen(fridayNight, at('2026-11-27T21:00:00Z'))).toBe(true); // Fri 22:00
    expect(windowOpen(fridayNight, at('2026-11-28T00:30:00Z'))).toBe(true); // Sat 01:30, Friday's night
    expect(windowOpen(fridayNight, at('2026-11-28T01:00:00Z'))).toBe(false); // Sat 02:00
    expect(windowOpen(fridayNight, at('2026-11-26T21:30:00Z'))).toBe(false); // Thu 22:30
    expect(windowOpen(fridayNight, at('2026-11-27T00:30:00Z'))).toBe(false); // Fri 01:30, Thursday's night
    expect(windowOpen(fridayNight, at('2026-11-28T21:30:00Z'))).toBe(false); // Sat 22:30
  });

  it('spring forward: 02:00–03:00 Berlin does not exist on 2026-03-29, so that night it never opens', () => {
    const w: WindowT = { start: '02:00', end: '03:00', timeZone: 'Europe/Berlin' };
    expect(windowOpen(w, at('2026-03-28T01:30:00Z'))).toBe(true); // Sat 02:30 CET
    expect(windowOpen(w, at('2026-03-29T00:59:00Z'))).toBe(false); // 01:59 CET
    expect(windowOpen(w, at('2026-03-29T01:00:00Z'))).toBe(false); // 03:00 CEST
    expect(iso(nextOpening(w, at('2026-03-28T12:00:00Z')))).toBe('2026-03-30T00:00:00.000Z'); // Mon 02:00 CEST
  });

  it('fall back: 02:00–03:00 Berlin happens twice on 2026-10-25, and the window is open both times', () => {
    const w: WindowT = { start: '02:00', end: '03:00', timeZone: 'Europe/Berlin' };
    expect(windowOpen(w, at('2026-10-24T23:59:00Z'))).toBe(false); // 01:59 CEST
    expect(windowOpen(w, at('2026-10-25T00:00:00Z'))).toBe(true); // 02:00 CEST
    expect(windowOpen(w, at('2026-10-25T01:30:00Z'))).toBe(true); // 02:30 CET, the second time
    expect(windowOpen(w, at('2026-10-25T02:00:00Z'))).toBe(false); // 03:00 CET
  });

  it('when it next opens: across a weekend, across DST, and now when it is open', () => {
    const weekdaysNext = nextOpening(weekdays, at('2026-11-28T12:00:00Z'));
    expect(iso(weekdaysNext)).toBe('2026-11-30T01:00:00.000Z');
    expect(iso(nextOpening(weekdays, at('2026-11-23T01:30:00Z')))).toBe('2026-11-23T01:30:00.000Z');
    // 02:30–04:00 on the spring-forward night: 02:30 does not exist, 03:00 CEST (01:00Z) does.
    const half: WindowT = { start: '02:30', end: '04:00', timeZone: 'Europe/Berlin' };
    expect(iso(nextOpening(half, at('2026-03-28T12:00:00Z')))).toBe('2026-03-29T01:00:00.000Z');
    // A zone with a 45-minute offset.
    const nepal: WindowT = { start: '00:00', end: '01:00', timeZone: 'Asia/Kathmandu' };
    expect(iso(nextOpening(nepal, at('2026-11-23T12:00:00Z')))).toBe('2026-11-23T18:15:00.000Z');
  });
});

describe('rule window and blockers at load', () => {
  const rule = (extra: Record<string, unknown>) => ({
    name: 'masked',
    match: { types: ['reboot'] },
    steps: [{ name: 'drain', action: 'log' }],
    ...extra,
  });

  it('accepts a good window and blockers', () => {
    const ok = checkRule(
      rule({
        window: { days: ['sat', 'sun'], start: '22:00', end: '06:00', timeZone: 'America/New_York' },
        blockers: [
          { url: 'http://alerts.local/ok', expectStatus: 204 },
          { command: ['true'], timeout: '2s' },
        ],
      }),
      '/rules/0',
    );
    expect(ok.window?.timeZone).toBe('America/New_York');
  });

  it.each([
    [
      { window: { start: '02:00', end: '04:00', timeZone: 'Mars/Olympus' } },
      /^\/rules\/0\/window\/timeZone: unknown time zone "Mars\/Olympus"/,
    ],
    [{ window: { start: '25:00', end: '04:00' } }, /^\/rules\/0\/window\/start: /],
    [{ window: { start: '2:00', end: '04:00' } }, /^\/rules\/0\/window\/start: /],
    [{ window: { start: '02:00', end: '02:00' } }, /^\/rules\/0\/window\/end: equals start/],
    [{ window: { days: ['monday'], start: '02:00', end: '04:00' } }, /^\/rules\/0\/window\/days\/0/],
    [{ window: { start: '02:00' } }, /^\/rules\/0\/window\/end/],
    [{ blockers: [{ url: 'ftp://x' }] }, /^\/rules\/0\/blockers\/0/],
    [{ blockers: [{ command: [] }] }, /^\/rules\/0\/blockers\/0/],
    [{ blockers: [{ url: 'http://x', timeout: 'soon' }] }, /^\/rules\/0\/blockers\/0\/timeout: /],
  ])('refuses %j naming the rule and field', (extra, message) => {
    expect(() => checkRule(rule(extra), '/rules/0')).toThrow(message);
  });
});

describe('command blockers', () => {
  it('pass on exit 0, block on another exit or a timeout, saying why', async () => {
    expect(await blockerFails({ command: ['true'] })).toBeUndefined();
    expect(await blockerFails({ command: ['false'] })).toBe('blocker false: exit 1');
    expect(await blockerFails({ command: ['sleep', '5'], timeout: '200ms' })).toBe(
      'blocker sleep 5: timed out after 200 ms',
    );
    expect(await blockerFails({ command: ['/nonexistent/forewarn-check'] })).toMatch(/ENOENT/);
  });
});
