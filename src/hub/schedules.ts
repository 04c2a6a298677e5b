// Timer triggers, the pure part: a rule's `schedule` block (cron expression, time zone, which VMs,
// misfire policy), its checks at load, and which slots are due. No I/O: src/hub/scheduler.ts
// fires what this says is due.
import { Type, type Static } from '@sinclair/typebox';
import { Cron } from 'croner';
import { EVENT_TYPES } from '../core/event.js';

const Enum = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));

export const CATCH_UP = ['latest', 'all', 'none'] as const;
export type CatchUp = (typeof CATCH_UP)[number];

export const Schedule = Type.Object(
  {
    cron: Type.String({
      minLength: 1,
      description: "cron expression (croner): 5 fields, or 6 with seconds first; e.g. '0 3 * * *'",
    }),
    timezone: Type.Optional(
      Type.String({ minLength: 1, description: "IANA time zone the expression is read in (default 'UTC')" }),
    ),
    vms: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description: "VM names (fired even if the hub has not heard of them) or '*' globs over known VMs",
      }),
    ),
    tags: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description: 'known VMs whose tags (from their heartbeat) all match',
      }),
    ),
    catchUp: Type.Optional(
      Type.Union(
        CATCH_UP.map((v) => Type.Literal(v)),
        {
          description:
            'slots missed while no hub ran: latest (default) fires the most recent, all fires each (up to maxCatchUp), none skips them',
        },
      ),
    ),
    maxCatchUp: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        description: 'catchUp all: at most this many slots (default 10)',
      }),
    ),
    type: Type.Optional(Enum(EVENT_TYPES)),
  },
  {
    additionalProperties: false,
    description: 'timer trigger instead of match: run the steps for these VMs on a cron schedule',
  },
);
export type ScheduleT = Static<typeof Schedule>;

export const DEFAULT_MAX_CATCH_UP = 10;
/** A slot fired later than this (or half the interval to the next slot, if less) was missed. */
export const MAX_GRACE_MS = 60_000;

function cronOf(s: ScheduleT): Cron {
  return new Cron(s.cron, { timezone: s.timezone ?? 'UTC', paused: true });
}

/** What is wrong with a schedule, as [field, message]; undefined when it is fine. */
export function scheduleProblem(s: ScheduleT): [string, string] | undefined {
  if (s.timezone !== undefined) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: s.timezone });
    } catch {
      return [
        'timezone',
        `unknown time zone ${JSON.stringify(s.timezone)} (use an IANA name such as Asia/Shanghai)`,
      ];
    }
  }
  let cron: Cron;
  try {
    cron = cronOf(s);
  } catch (err) {
    return ['cron', `bad cron expression ${JSON.stringify(s.cron)}: ${(err as Error).message}`];
  }
  if (!cron.nextRun()) return ['cron', `cron expression ${JSON.stringify(s.cron)} never fires`];
  if (!s.vms && !s.tags) return ['vms', 'say which VMs: vms (names or globs), tags, or both'];
  if (s.maxCatchUp !== undefined && s.catchUp !== 'all')
    return ['maxCatchUp', 'applies only with catchUp: all'];
  return undefined;
}

/** The first slot after `after` (ISO or ms); undefined if the expression never fires again. */
export function nextSlot(s: ScheduleT, after: number): number | undefined {
  return cronOf(s).nextRun(new Date(after))?.getTime();
}

export interface DueSlots {
  /** Slots to fire now, oldest first. */
  fire: number[];
  /** How many due slots the misfire policy skipped (or the cap left out). */
  skipped: number;
  /** The newest due slot (fired or not): the cursor moves here. */
  newest?: number;
}

/**
 * The slots in (cursor, now] and what the misfire policy does with them. A slot fired within its
 * grace (one minute, or half the interval to the slot after it if that is less) is on time and
 * always fires; older ones were missed (no hub ran) and follow `catchUp`.
 */
export function dueSlots(s: ScheduleT, cursor: number, now: number): DueSlots {
  const cron = cronOf(s);
  const policy: CatchUp = s.catchUp ?? 'latest';
  const cap = policy === 'all' ? (s.maxCatchUp ?? DEFAULT_MAX_CATCH_UP) : 1;
  // previousRuns excludes its reference: +1 ms makes a slot exactly at `now` due. One more than
  // the cap tells whether the cap left some out.
  const recent = cron
    .previousRuns(cap + 1, new Date(now + 1))
    .map((d) => d.getTime())
    .filter((t) => t > cursor)
    .reverse();
  if (recent.length === 0) return { fire: [], skipped: 0 };
  const newest = recent.at(-1)!;
  const counted = countBetween(cron, cursor, newest, recent.length, cap);
  const onTime = (slot: number) => {
    const next = cron.nextRun(new Date(slot))?.getTime();
    const grace = next === undefined ? MAX_GRACE_MS : Math.min(MAX_GRACE_MS, (next - slot) / 2);
    return now - slot <= grace;
  };
  let fire: number[];
  if (policy === 'all') fire = recent.slice(-cap);
  else if (policy === 'latest') fire = [newest];
  else fire = onTime(newest) ? [newest] : [];
  return { fire, skipped: counted - fire.length, newest };
}

/** How many slots lie in (cursor, newest]: exact up to a bound, enough to report skips. */
function countBetween(cron: Cron, cursor: number, newest: number, seen: number, cap: number): number {
  if (seen <= cap) return seen;
  let n = 0;
  for (let t: Date | null = new Date(cursor); t && t.getTime() <= newest && n < 10_000; n++)
    t = cron.nextRun(t);
  return Math.max(seen, n - 1);
}
