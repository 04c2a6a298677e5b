// Timer triggers' pure part: which slots are due under each misfire policy, in which zone, and
// what a bad schedule is told at load.
import { describe, expect, it } from 'vitest';
import { checkRule, explain, mayMatch, RuleError } from './rules.js';
import { dueSlots, nextSlot, scheduleProblem, type ScheduleT } from './schedules.js';

const at = (iso: string) => Date.parse(iso);
const isos = (ms: number[]) => ms.map((t) => new Date(t).toISOString());
const every10s = (catchUp?: ScheduleT['catchUp'], maxCatchUp?: number): ScheduleT => ({
  cron: '*/10 * * * * *',
  vms: ['build-1'],
  ...(catchUp ? { catchUp } : {}),
  ...(maxCatchUp ? { maxCatchUp } : {}),
});

describe('dueSlots', () => {
  it('reads the expression in the rule’s time zone', () => {
    const shanghai: ScheduleT = { cron: '0 3 * * *', timezone: 'Asia/Shanghai', vms: ['b'] };
    const utc: ScheduleT = { cron: '0 3 * * *', vms: ['b'] };
    // 03:00 in Shanghai (UTC+8, no DST) is 19:00 UTC the day before.
    expect(isos([nextSlot(shanghai, at('2026-11-22T12:00:00Z'))!])).toEqual(['2026-11-22T19:00:00.000Z']);
    expect(isos([nextSlot(utc, at('2026-11-22T12:00:00Z'))!])).toEqual(['2026-11-23T03:00:00.000Z']);
    const now = at('2026-11-22T19:00:01Z');
    expect(isos(dueSlots(shanghai, at('2026-11-22T12:00:00Z'), now).fire)).toEqual([
      '2026-11-22T19:00:00.000Z',
    ]);
    expect(dueSlots(utc, at('2026-11-22T12:00:00Z'), now).fire).toEqual([]);
  });

  it('fires an on-time slot under every policy, a slot exactly at now included', () => {
    for (const policy of ['latest', 'all', 'none'] as const) {
      const due = dueSlots(every10s(policy), at('2026-11-23T00:00:05Z'), at('2026-11-23T00:00:10Z'));
      expect(isos(due.fire), policy).toEqual(['2026-11-23T00:00:10.000Z']);
      expect(due.skipped).toBe(0);
    }
  });

  it('after a gap: latest fires the newest slot, all each one, none nothing', () => {
    // Cursor at :05, now :37: slots :10, :20, :30 were missed (grace is half the 10 s interval).
    const cursor = at('2026-11-23T00:00:05Z');
    const now = at('2026-11-23T00:00:37Z');
    expect(isos(dueSlots(every10s(), cursor, now).fire)).toEqual(['2026-11-23T00:00:30.000Z']);
    expect(dueSlots(every10s('latest'), cursor, now)).toMatchObject({
      skipped: 2,
      newest: at('2026-11-23T00:00:30Z'),
    });
    expect(isos(dueSlots(every10s('all'), cursor, now).fire)).toEqual([
      '2026-11-23T00:00:10.000Z',
      '2026-11-23T00:00:20.000Z',
      '2026-11-23T00:00:30.000Z',
    ]);
    expect(dueSlots(every10s('none'), cursor, now)).toMatchObject({ fire: [], skipped: 3 });
    // none still fires the newest slot when it is within its grace.
    expect(isos(dueSlots(every10s('none'), cursor, at('2026-11-23T00:00:33Z')).fire)).toEqual([
      '2026-11-23T00:00:30.000Z',
    ]);
  });

  it('all stops at maxCatchUp, keeping the newest slots', () => {
    const due = dueSlots(every10s('all', 2), at('2026-11-23T00:00:05Z'), at('2026-11-23T00:01:01Z'));
    expect(isos(due.fire)).toEqual(['2026-11-23T00:00:50.000Z', '2026-11-23T00:01:00.000Z']);
    expect(due.skipped).toBe(4);
  });

  it('nothing is due when the cursor is at the newest slot', () => {
    expect(dueSlots(every10s(), at('2026-11-23T00:00:10Z'), at('2026-11-23T00:00:19Z'))).toEqual({
      fire: [],
      skipped: 0,
    });
  });
});

describe('checking a timer rule', () => {
  const rule = (schedule: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    name: 'nightly',
    schedule: { vms: ['build-1'], ...schedule },
    steps: [{ name: 'hook', action: 'webhook', with: { url: 'http://127.0.0.1:1/hook' } }],
    ...extra,
  });
  const problem = (input: unknown) => {
    try {
      checkRule(input, '/rules/0');
      return undefined;
    } catch (err) {
      expect(err).toBeInstanceOf(RuleError);
      return (err as Error).message;
    }
  };

  it('names the bad field', () => {
    expect(problem(rule({ cron: '61 3 * * *' }))).toMatch(
      /^\/rules\/0\/schedule\/cron: bad cron expression.*minute/,
    );
    expect(problem(rule({ cron: '0 3 * *' }))).toMatch(/^\/rules\/0\/schedule\/cron: bad cron expression/);
    expect(problem(rule({ cron: '0 3 * * *', timezone: 'Mars/Olympus' }))).toMatch(
      /^\/rules\/0\/schedule\/timezone: unknown time zone "Mars\/Olympus"/,
    );
    expect(problem(rule({ cron: '0 3 * * *', catchUp: 'sometimes' }))).toMatch(
      /^\/rules\/0\/schedule\/catchUp/,
    );
    expect(problem(rule({ cron: '0 3 * * *', maxCatchUp: 5 }))).toMatch(
      /^\/rules\/0\/schedule\/maxCatchUp: applies only with catchUp: all/,
    );
    expect(problem({ ...rule({ cron: '0 3 * * *' }), schedule: { cron: '0 3 * * *' } })).toMatch(
      /^\/rules\/0\/schedule\/vms: say which VMs/,
    );
    expect(problem(rule({ cron: '0 3 * * *' }, { match: { types: ['reboot'] } }))).toMatch(
      /^\/rules\/0\/schedule: a rule has either match .* not both/,
    );
    expect(problem(rule({ cron: '0 3 * * *' }, { steps: [{ name: 'ok', action: 'approve' }] }))).toMatch(
      /^\/rules\/0\/steps\/0\/action: a timer rule has no cloud event to approve/,
    );
    const { schedule: _s, ...neither } = rule({ cron: '0 3 * * *' });
    expect(problem(neither)).toMatch(/^\/rules\/0\/match: a rule has either match/);
    expect(
      problem(rule({ cron: '0 3 * * *', timezone: 'Asia/Shanghai', catchUp: 'all', maxCatchUp: 3 })),
    ).toBe(undefined);
  });

  it('a timer rule matches only its own firings; other rules see them only when they ask', () => {
    const timer = checkRule(rule({ cron: '0 3 * * *' }));
    const catchAll = checkRule({ name: 'all', match: {}, steps: timer.steps });
    const asks = checkRule({ name: 'asks', match: { providers: ['schedule'] }, steps: timer.steps });
    const own = {
      provider: 'schedule',
      eventId: 'nightly@2026-11-23T03:00:00.000Z~build-1',
      type: 'other',
      origin: 'user',
    };
    const other = { ...own, eventId: 'weekly@2026-11-23T03:00:00.000Z~build-1' };
    const cloud = { provider: 'azure', eventId: 'nightly@x', type: 'other', origin: 'platform' };
    expect(mayMatch(timer, 'scheduled', own)).toBe(true);
    expect(mayMatch(timer, 'completed', own)).toBe(false);
    expect(mayMatch(timer, 'scheduled', other)).toBe(false);
    expect(mayMatch(timer, 'scheduled', cloud)).toBe(false);
    expect(mayMatch(catchAll, 'scheduled', own)).toBe(false);
    expect(mayMatch(catchAll, 'scheduled', cloud)).toBe(true);
    expect(mayMatch(asks, 'scheduled', own)).toBe(true);
    const why = explain(catchAll, { transition: 'scheduled', vm: 'build-1', vmTags: {}, event: own });
    expect(why.matched).toBe(false);
    expect(why.clauses[0]!.reason).toMatch(/only rules that list the schedule provider/);
  });
});

describe('scheduleProblem', () => {
  it('accepts 5 and 6 fields and any IANA zone', () => {
    expect(scheduleProblem({ cron: '*/2 * * * * *', vms: ['a'] })).toBeUndefined();
    expect(
      scheduleProblem({ cron: '30 2 * * 1-5', timezone: 'Europe/Berlin', tags: { role: 'build' } }),
    ).toBeUndefined();
  });
});
