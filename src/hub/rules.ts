// Rules: what to match and which steps to run. Matching explains itself clause by clause, so
// `POST /api/v1/rules/test` can say why an event did or did not match.
import { Type, type Static } from '@sinclair/typebox';
import {
  EVENT_PROVIDERS,
  EVENT_TYPES,
  SCHEDULE_PROVIDER,
  TRANSITIONS,
  type Transition,
} from '../core/event.js';
import { parseDuration } from '../core/time.js';
import { firstSchemaError } from '../core/validate.js';
import { AdvancedFilter, evaluateFilter } from './filters.js';
import { Schedule, scheduleProblem } from './schedules.js';
import { Blocker, blockerProblem, Window, windowProblem } from './windows.js';
import { glob } from './glob.js';

const Enum = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));
const Duration = Type.String({ minLength: 1, description: "e.g. '30s', '5m', 'PT5M'" });

export const Step = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }),
    action: Type.String({ minLength: 1, maxLength: 64, description: 'webhook, log, approve, run-hook …' }),
    timing: Type.Optional(
      Type.Union(
        [Type.Literal('immediate'), Type.Object({ lead: Duration }, { additionalProperties: false })],
        {
          description:
            "'immediate' (default), or {lead: 5m}: that long before NotBefore (at once if less is left)",
        },
      ),
    ),
    timeout: Type.Optional(Duration),
    retry: Type.Optional(
      Type.Object(
        {
          maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
          maxBackoff: Type.Optional(Duration),
        },
        { additionalProperties: false },
      ),
    ),
    disruptive: Type.Optional(
      Type.Boolean({
        description:
          "takes the VM out of service: runs only with a slot of its pool's budget (default: true for approve and haproxy drain/maint)",
      }),
    ),
    /** Run even after NotBefore passed (default false: an expired step is dead-lettered as Expired). */
    runAfterDeadline: Type.Optional(Type.Boolean()),
    with: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);
export type StepT = Static<typeof Step>;

/** What a rule can be told about (src/hub/notices.ts). */
export const NOTICE_KINDS = [
  'received',
  'step-started',
  'step-succeeded',
  'step-failed',
  'dead-lettered',
  'approved',
  'completed',
  'canceled',
] as const;
export type NoticeKind = (typeof NOTICE_KINDS)[number];

export const Notify = Type.Object(
  {
    on: Type.Array(Enum(NOTICE_KINDS), { minItems: 1, uniqueItems: true }),
    action: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'email, webhook, syslog, command, log …',
    }),
    with: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    retry: Type.Optional(
      Type.Object(
        {
          maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
          maxBackoff: Type.Optional(Duration),
        },
        { additionalProperties: false },
      ),
    ),
    timeout: Type.Optional(Duration),
  },
  { additionalProperties: false },
);
export type NotifyT = Static<typeof Notify>;

export const Match = Type.Object(
  {
    providers: Type.Optional(Type.Array(Enum(EVENT_PROVIDERS))),
    types: Type.Optional(Type.Array(Enum(EVENT_TYPES))),
    transitions: Type.Optional(Type.Array(Enum(TRANSITIONS), { description: 'default [scheduled]' })),
    origins: Type.Optional(Type.Array(Enum(['platform', 'user']))),
    vms: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: "VM names; '*' globs" })),
    tags: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description: 'VM tags (from its heartbeat) that must all match',
      }),
    ),
    filters: Type.Optional(
      Type.Array(AdvancedFilter, { description: 'Event Grid advanced filters on the event document' }),
    ),
  },
  { additionalProperties: false },
);

export const Rule = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
    enabled: Type.Optional(Type.Boolean()),
    /** What events the rule acts on; a timer rule (`schedule`) has none. */
    match: Type.Optional(Match),
    /** A timer trigger instead of `match` (docs/rules.md#timer-triggers). */
    schedule: Type.Optional(Schedule),
    steps: Type.Array(Step, { minItems: 1, maxItems: 50 }),
    undo: Type.Optional(
      Type.Array(Step, { maxItems: 50, description: 'run on completed/canceled of a matched event' }),
    ),
    notify: Type.Optional(
      Type.Array(Notify, {
        maxItems: 20,
        description: 'lifecycle notices: [{on: [step-failed, dead-lettered], action: email, with: {…}}]',
      }),
    ),
    /** Disruptive steps run only inside this window (unless NotBefore forces them). */
    window: Type.Optional(Window),
    blockers: Type.Optional(
      Type.Array(Blocker, {
        maxItems: 10,
        description: 'checks that must all pass before a disruptive step runs (unless NotBefore forces it)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type RuleT = Static<typeof Rule>;

export class RuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuleError';
  }
}

/** Schema and semantic checks (durations, unique step names) naming the path. */
export function checkRule(input: unknown, where = ''): RuleT {
  const error = firstSchemaError(Rule, input, where);
  if (error) throw new RuleError(`${error.path}: ${error.message}`);
  const rule = input as RuleT;
  if (!rule.match === !rule.schedule)
    throw new RuleError(
      `${where}/${rule.match ? 'schedule' : 'match'}: a rule has either match (events) or schedule (a timer), ${rule.match ? 'not both' : 'one of them'}`,
    );
  const timer = rule.schedule && scheduleProblem(rule.schedule);
  if (timer) throw new RuleError(`${where}/schedule/${timer[0]}: ${timer[1]}`);
  // approve acknowledges a cloud's event through the VM's metadata service: a firing has none.
  const approving = rule.schedule ? rule.steps.findIndex((s) => s.action === 'approve') : -1;
  if (approving >= 0)
    throw new RuleError(`${where}/steps/${approving}/action: a timer rule has no cloud event to approve`);
  const bad = rule.window && windowProblem(rule.window);
  if (bad) throw new RuleError(`${where}/window/${bad[0]}: ${bad[1]}`);
  (rule.blockers ?? []).forEach((b, i) => {
    const problem = blockerProblem(b);
    if (problem) throw new RuleError(`${where}/blockers/${i}/${problem[0]}: ${problem[1]}`);
  });
  for (const [phase, steps] of [
    ['steps', rule.steps],
    ['undo', rule.undo ?? []],
  ] as const) {
    const names = new Set<string>();
    steps.forEach((s, i) => {
      if (names.has(s.name)) throw new RuleError(`${where}/${phase}/${i}/name: step ${s.name} appears twice`);
      names.add(s.name);
      for (const [field, value] of [
        ['timeout', s.timeout],
        ['retry/maxBackoff', s.retry?.maxBackoff],
        ['timing/lead', typeof s.timing === 'object' ? s.timing.lead : undefined],
      ] as const) {
        if (value === undefined) continue;
        try {
          parseDuration(value);
        } catch (err) {
          throw new RuleError(`${where}/${phase}/${i}/${field}: ${(err as Error).message}`);
        }
      }
    });
  }
  (rule.notify ?? []).forEach((n, i) => {
    for (const [field, value] of [
      ['timeout', n.timeout],
      ['retry/maxBackoff', n.retry?.maxBackoff],
    ] as const) {
      if (value === undefined) continue;
      try {
        parseDuration(value);
      } catch (err) {
        throw new RuleError(`${where}/notify/${i}/${field}: ${(err as Error).message}`);
      }
    }
  });
  return rule;
}

export interface MatchInput {
  transition: Transition;
  /** The affected VM this evaluation is for (fan-out per resource). */
  vm: string;
  vmTags: Record<string, string>;
  /** The event document the filters see: the MaintenanceEvent plus `transition` and `vm`. */
  event: Record<string, unknown> & EventIdentity;
}

export interface Clause {
  clause: string;
  matched: boolean;
  reason: string;
}

/** A list clause: the value is one of the allowed, ignoring case. */
const inList = (allowed: readonly string[], value: string) =>
  allowed.some((a) => a.toLowerCase() === value.toLowerCase());

/** What the cheap clauses look at. */
export interface EventIdentity {
  provider: string;
  eventId: string;
  type: string;
  origin: string;
}

/**
 * A timer rule acts only on its own firings (eventId `<rule>@…`); the hub's schedule events reach
 * other rules only when they ask for the `schedule` provider by name, so a catch-all rule never
 * approves or drains for a timer by accident.
 */
function scheduleClause(rule: RuleT, event: EventIdentity): Clause | undefined {
  const fromTimer = event.provider.toLowerCase() === SCHEDULE_PROVIDER;
  if (rule.schedule) {
    const matched = fromTimer && event.eventId.toLowerCase().startsWith(`${rule.name.toLowerCase()}@`);
    return {
      clause: 'schedule',
      matched,
      reason: matched
        ? 'a firing of this rule'
        : `${event.provider}/${event.eventId} is not a firing of this rule`,
    };
  }
  if (fromTimer && !rule.match?.providers?.some((p) => p.toLowerCase() === SCHEDULE_PROVIDER))
    return {
      clause: 'providers',
      matched: false,
      reason: 'schedule events match only rules that list the schedule provider',
    };
  return undefined;
}

/**
 * The clauses that need no store read (enabled, transition, provider, type, origin), as a
 * necessary condition: false means `explain` would not match either.
 */
export function mayMatch(rule: RuleT, transition: Transition, event: EventIdentity): boolean {
  const m = rule.match ?? {};
  const has = (allowed: readonly string[] | undefined, value: string) => !allowed || inList(allowed, value);
  return (
    rule.enabled !== false &&
    scheduleClause(rule, event)?.matched !== false &&
    has(m.transitions ?? ['scheduled'], transition) &&
    has(m.providers, event.provider) &&
    has(m.types, event.type) &&
    has(m.origins, event.origin)
  );
}

/** Every clause evaluated (no short-circuit), so the explanation is complete. */
export function explain(rule: RuleT, input: MatchInput): { matched: boolean; clauses: Clause[] } {
  const m = rule.match ?? {};
  const clauses: Clause[] = [];
  const timer = scheduleClause(rule, input.event);
  if (timer) clauses.push(timer);
  const list = (clause: string, allowed: readonly string[] | undefined, value: string) => {
    if (!allowed) return;
    const matched = inList(allowed, value);
    clauses.push({
      clause,
      matched,
      reason: `${value} ${matched ? 'is' : 'is not'} in [${allowed.join(', ')}]`,
    });
  };
  list('providers', m.providers, input.event.provider);
  list('types', m.types, input.event.type);
  list('transitions', m.transitions ?? ['scheduled'], input.transition);
  list('origins', m.origins, input.event.origin);
  if (m.vms) {
    const matched = m.vms.some((p) => glob(p, input.vm));
    clauses.push({
      clause: 'vms',
      matched,
      reason: `${input.vm} ${matched ? 'matches' : 'matches none of'} [${m.vms.join(', ')}]`,
    });
  }
  for (const [k, v] of Object.entries(m.tags ?? {})) {
    const actual = input.vmTags[k];
    clauses.push({
      clause: `tags.${k}`,
      matched: actual === v,
      reason: `tag ${k} is ${actual === undefined ? 'missing' : JSON.stringify(actual)}, wanted ${JSON.stringify(v)}`,
    });
  }
  (m.filters ?? []).forEach((f, i) =>
    clauses.push({
      clause: `filters[${i}]`,
      ...evaluateFilter(f, { ...input.event, transition: input.transition, vm: input.vm, data: input.event }),
    }),
  );
  if (rule.enabled === false)
    clauses.push({ clause: 'enabled', matched: false, reason: 'the rule is disabled' });
  return { matched: clauses.every((c) => c.matched), clauses };
}
