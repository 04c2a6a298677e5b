// Maintenance windows and blockers (kured's --reboot-days/--start-time/--end-time/--time-zone and
// its blocking Prometheus alerts): a rule's disruptive steps run only inside its window, in the
// window's own IANA time zone, and only while every blocker check passes. The deadline still
// wins: Budgets.gate forces a held step as NotBefore nears, because the cloud acts then anyway.
import { execFile } from 'node:child_process';
import { Type, type Static } from '@sinclair/typebox';
import { request } from 'undici';
import { parseDuration } from '../core/time.js';

export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
type Day = (typeof DAYS)[number];
const HHMM = '^([01][0-9]|2[0-3]):[0-5][0-9]$';

export const Window = Type.Object(
  {
    days: Type.Optional(
      Type.Array(Type.Union(DAYS.map((d) => Type.Literal(d))), {
        minItems: 1,
        description:
          'days the window opens on (default every day); an overnight window belongs to the day it opens',
      }),
    ),
    start: Type.String({ pattern: HHMM, description: "local time it opens, 'HH:MM'" }),
    end: Type.String({
      pattern: HHMM,
      description: "local time it closes, 'HH:MM'; before start: overnight",
    }),
    timeZone: Type.Optional(Type.String({ description: "IANA zone, e.g. 'Europe/Berlin' (default UTC)" })),
  },
  { additionalProperties: false },
);
export type WindowT = Static<typeof Window>;

export const Blocker = Type.Union([
  Type.Object(
    {
      url: Type.String({
        pattern: '^https?://',
        description: 'GET it; the step waits unless it answers expectStatus',
      }),
      expectStatus: Type.Optional(Type.Integer({ minimum: 100, maximum: 599, description: 'default 200' })),
      timeout: Type.Optional(Type.String({ description: 'default 5s; a timeout blocks' })),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      command: Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description: 'argv (no shell); the step waits unless it exits 0',
      }),
      timeout: Type.Optional(Type.String({ description: 'default 5s; a timeout blocks' })),
    },
    { additionalProperties: false },
  ),
]);
export type BlockerT = Static<typeof Blocker>;

/** How often a step held by a failing blocker checks again (a closed window waits for it to open). */
export const BLOCKER_RECHECK_MS = 10_000;
/** Blocker answers are shared by a rule's steps for this long, so a wave does not storm them. */
const BLOCKER_CACHE_MS = 2_000;

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The local weekday and minute of the day of an instant in a zone. */
export function localTime(ms: number, timeZone: string): { day: Day; minute: number } {
  const parts = formatter(timeZone).formatToParts(ms);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const day = get('weekday').toLowerCase().slice(0, 3) as Day;
  return { day, minute: Number(get('hour')) * 60 + Number(get('minute')) };
}

const minuteOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
const dayBefore = (d: Day): Day => DAYS[(DAYS.indexOf(d) + 6) % 7]!;

/** Is the window open at `ms`? (An overnight window that opened yesterday counts for yesterday.) */
export function windowOpen(w: WindowT, ms: number): boolean {
  const { day, minute } = localTime(ms, w.timeZone ?? 'UTC');
  const days: readonly Day[] = w.days ?? DAYS;
  const start = minuteOf(w.start);
  const end = minuteOf(w.end);
  if (start < end) return days.includes(day) && minute >= start && minute < end;
  return (days.includes(day) && minute >= start) || (days.includes(dayBefore(day)) && minute < end);
}

/**
 * When the window next opens, at or after `ms` (to the minute): jumps to the next local start
 * time and checks it, so a DST change (an opening time that does not exist that day) costs one
 * more jump. Undefined if it does not open within 8 days (it always does with a valid window).
 */
export function nextOpening(w: WindowT, ms: number): number | undefined {
  let t = Math.floor(ms / 60_000) * 60_000;
  if (windowOpen(w, ms)) return ms;
  const start = minuteOf(w.start);
  for (let i = 0; i < 32 && t - ms < 8 * 86_400_000; i++) {
    const { minute } = localTime(t, w.timeZone ?? 'UTC');
    t += ((start - minute + 1440) % 1440 || 1440) * 60_000;
    if (!windowOpen(w, t)) continue;
    // Landed inside after a DST jump (02:30 did not exist, 03:30 did): find the first open minute.
    for (let k = 0; k < 120 && t - 60_000 > ms && windowOpen(w, t - 60_000); k++) t -= 60_000;
    return t;
  }
  return undefined;
}

export function describeWindow(w: WindowT): string {
  return `${w.days ? w.days.join(',') : 'daily'} ${w.start}–${w.end} ${w.timeZone ?? 'UTC'}`;
}

/** Load-time checks the schema cannot make; returns [field, message] of the first problem. */
export function windowProblem(w: WindowT): [string, string] | undefined {
  try {
    formatter(w.timeZone ?? 'UTC');
  } catch {
    return [
      'timeZone',
      `unknown time zone ${JSON.stringify(w.timeZone)}; an IANA name such as Europe/Berlin`,
    ];
  }
  if (w.start === w.end) return ['end', `equals start (${w.start}); leave the window out to allow any time`];
  return undefined;
}

export function blockerProblem(b: BlockerT): [string, string] | undefined {
  if (b.timeout === undefined) return undefined;
  try {
    parseDuration(b.timeout);
  } catch (err) {
    return ['timeout', (err as Error).message];
  }
  return undefined;
}

/** Undefined when the blocker passes, else why it blocks. */
export async function blockerFails(b: BlockerT): Promise<string | undefined> {
  const timeoutMs = parseDuration(b.timeout ?? '5s');
  if ('url' in b) {
    const expect = b.expectStatus ?? 200;
    try {
      const res = await request(b.url, { method: 'GET', signal: AbortSignal.timeout(timeoutMs) });
      await res.body.dump();
      return res.statusCode === expect
        ? undefined
        : `blocker ${b.url} answered ${res.statusCode}, not ${expect}`;
    } catch (err) {
      return `blocker ${b.url} failed: ${(err as Error).message}`;
    }
  }
  const [file, ...args] = b.command;
  return new Promise((resolve) => {
    execFile(file!, args, { timeout: timeoutMs }, (err) => {
      if (!err) return resolve(undefined);
      const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
      const why = e.killed
        ? `timed out after ${timeoutMs} ms`
        : typeof e.code === 'number'
          ? `exit ${e.code}`
          : e.message;
      resolve(`blocker ${b.command.join(' ')}: ${why}`);
    });
  });
}

export interface Closed {
  cause: 'window' | 'blocker';
  reason: string;
  /** When to look again (a window: when it opens). */
  recheckAt: number;
}

/** The window and blockers of the rules; which rule a step belongs to comes from its run. */
export class Windows {
  private readonly cache = new Map<string, { at: number; failure?: string }>();

  constructor(
    private readonly rules: () => { name: string; window?: WindowT; blockers?: BlockerT[] }[],
    private readonly now: () => number,
  ) {}

  /** Undefined when the rule's disruptive steps may run now; else why not and when to look again. */
  async closed(ruleName: string): Promise<Closed | undefined> {
    const rule = this.rules().find((r) => r.name === ruleName);
    if (!rule) return undefined;
    const now = this.now();
    if (rule.window && !windowOpen(rule.window, now)) {
      const opens = nextOpening(rule.window, now);
      return {
        cause: 'window',
        reason: `rule ${rule.name} runs disruptive steps only in its window ${describeWindow(rule.window)}${
          opens === undefined ? '' : `; it opens ${new Date(opens).toISOString()}`
        }`,
        recheckAt: Math.min(opens ?? Infinity, now + 60_000),
      };
    }
    if (!rule.blockers?.length) return undefined;
    const cached = this.cache.get(rule.name);
    let failure = cached && now - cached.at < BLOCKER_CACHE_MS ? cached.failure : undefined;
    if (!cached || now - cached.at >= BLOCKER_CACHE_MS) {
      const failures = (await Promise.all(rule.blockers.map(blockerFails))).filter(Boolean);
      failure = failures.length ? failures.join('; ') : undefined;
      this.cache.set(rule.name, { at: now, failure });
    }
    if (!failure) return undefined;
    return {
      cause: 'blocker',
      reason: `rule ${rule.name} is blocked: ${failure}`,
      recheckAt: now + BLOCKER_RECHECK_MS,
    };
  }
}
