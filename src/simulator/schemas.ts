// TypeBox schemas of the control API. Unknown fields are rejected (additionalProperties: false)
// so a typo never silently does nothing.
import { Type, type Static } from '@sinclair/typebox';
import { ALL_EVENT_TYPES, CLOUD_EVENT_TYPES, SIM_PROVIDERS } from './cloud-types.js';
import { ENDPOINTS, MALFORMED_KINDS } from './faults.js';

const Name = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', description: 'VM name' });
const Label = Type.String({ minLength: 1, maxLength: 128 });
const Domain = Type.Integer({ minimum: 0, maximum: 19 });
const Tags = Type.Record(Type.String({ minLength: 1, maxLength: 128 }), Type.String({ maxLength: 256 }));
export const Duration = Type.Union(
  [
    Type.Number({ minimum: 0, title: 'a non-negative number of seconds' }),
    Type.String({
      minLength: 1,
      maxLength: 32,
      title: "a duration string such as '90s', '15m', '1h30m' or 'PT5M'",
    }),
  ],
  {
    description: "Cloud time: seconds, '90s', '15m', '1h30m' or ISO 8601 'PT5M'; divided by the time scale",
  },
);
const Rate = Type.Number({ minimum: 0, maximum: 1 });
const Iso = Type.String({ format: 'date-time', description: 'ISO 8601 time' });

export const VmInput = Type.Object(
  {
    name: Name,
    id: Type.Optional(
      Type.String({ pattern: '^[0-9a-fA-F-]{36}$', description: 'vmId (GUID); generated if absent' }),
    ),
    provider: Type.Optional(
      Type.Union(
        SIM_PROVIDERS.map((p) => Type.Literal(p)),
        { description: 'which cloud the VM is in, so which metadata API it serves (default azure)' },
      ),
    ),
    httpTokens: Type.Optional(
      Type.Union([Type.Literal('optional'), Type.Literal('required')], {
        description: 'aws/alibaba: whether metadata reads need a session token (default optional)',
      }),
    ),
    pool: Type.Optional(Label),
    availabilitySet: Type.Optional(Label),
    scaleSet: Type.Optional(Label),
    zone: Type.Optional(Type.String({ maxLength: 8 })),
    faultDomain: Type.Optional(Domain),
    updateDomain: Type.Optional(Domain),
    tags: Type.Optional(Tags),
    resourceGroup: Type.Optional(Label),
    location: Type.Optional(Label),
    vmSize: Type.Optional(Label),
  },
  { additionalProperties: false, title: 'a VM' },
);
export type VmInputT = Static<typeof VmInput>;

export const Targets = Type.Object(
  {
    vms: Type.Optional(Type.Array(Name, { minItems: 1, maxItems: 10_000 })),
    pool: Type.Optional(Label),
    availabilitySet: Type.Optional(Label),
    scaleSet: Type.Optional(Label),
    zone: Type.Optional(Type.String({ maxLength: 8 })),
    faultDomain: Type.Optional(Domain),
    updateDomain: Type.Optional(Domain),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false, minProperties: 1, description: 'All given criteria must match' },
);

export const EventType = Type.Union(
  ALL_EVENT_TYPES.map((t) => Type.Literal(t)),
  {
    description:
      "The cloud's own event type; it must be one of the targeted VMs' provider: " +
      Object.entries(CLOUD_EVENT_TYPES)
        .map(([p, types]) => `${p}: ${types.join(', ')}`)
        .join('; '),
  },
);

export const ScheduleBody = Type.Object(
  {
    type: EventType,
    targets: Targets,
    notice: Type.Optional(Duration),
    notBefore: Type.Optional(Iso),
    durationSeconds: Type.Optional(Type.Integer({ minimum: -1 })),
    startedFor: Type.Optional(Duration),
    source: Type.Optional(Type.Union([Type.Literal('Platform'), Type.Literal('User')])),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
    status: Type.Optional(
      Type.Union([Type.Literal('Scheduled'), Type.Literal('Started')], {
        description: "'Started' publishes the event already started, as on an actual host failure",
      }),
    ),
    approval: Type.Optional(Type.Union([Type.Literal('any'), Type.Literal('all')])),
  },
  { additionalProperties: false },
);
export type ScheduleBodyT = Static<typeof ScheduleBody>;

export const RescheduleBody = Type.Object(
  { notice: Type.Optional(Duration), notBefore: Type.Optional(Iso) },
  { additionalProperties: false, minProperties: 1 },
);

export const UserActionBody = Type.Object(
  { notice: Type.Optional(Duration) },
  { additionalProperties: false },
);

export const FaultSpec = Type.Object(
  {
    errorRate: Type.Optional(Rate),
    errorStatus: Type.Optional(Type.Integer({ minimum: 400, maximum: 599 })),
    retryAfter: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400 })),
    latencyMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000 })),
    hangRate: Type.Optional(Rate),
    hangMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })),
    malformedRate: Type.Optional(Rate),
    malformedKind: Type.Optional(Type.Union(MALFORMED_KINDS.map((k) => Type.Literal(k)))),
    incarnationBackwardsRate: Type.Optional(Rate),
    vanishRate: Type.Optional(Rate),
    count: Type.Optional(Type.Integer({ minimum: 1 })),
    endpoints: Type.Optional(Type.Array(Type.Union(ENDPOINTS.map((e) => Type.Literal(e))), { minItems: 1 })),
  },
  { additionalProperties: false },
);

export const ConfigBody = Type.Object(
  {
    timeScale: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100_000 })),
    rateLimit: Type.Optional(
      Type.Integer({ minimum: 0, description: 'requests per second per VM; 0 = off' }),
    ),
    etag: Type.Optional(Type.Boolean()),
    enableDelay: Type.Optional(Duration),
    strictApprovals: Type.Optional(
      Type.Boolean({ description: 'answer 400 to StartRequests naming unknown or foreign EventIds' }),
    ),
  },
  { additionalProperties: false },
);

const PushTarget = Type.Object(
  {
    url: Type.String({
      pattern: '^https?://',
      maxLength: 2048,
      description: "e.g. a hub's /api/v1/push/alibaba",
    }),
    secret: Type.String({ minLength: 16, maxLength: 512, description: 'sent as X-Forewarn-Push-Secret' }),
    legacy: Type.Optional(
      Type.Boolean({
        description:
          'alibaba only: the older CloudMonitor format (top-level status, content.ecsInstanceId / ecsInstanceName)',
      }),
    ),
  },
  { additionalProperties: false },
);
export const PushTargets = Type.Object(
  { aws: Type.Optional(PushTarget), alibaba: Type.Optional(PushTarget) },
  { additionalProperties: false },
);

export const ResetBody = Type.Object(
  { fleet: Type.Optional(Type.Boolean({ description: 'also delete every VM' })) },
  { additionalProperties: false },
);

const VmGenerator = Type.Object(
  {
    generate: Type.Object(
      {
        prefix: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,56}$' }),
        count: Type.Integer({ minimum: 1, maximum: 10_000 }),
        start: Type.Optional(
          Type.Integer({ minimum: 0, maximum: 100_000, description: 'number of the first VM (default 1)' }),
        ),
        pad: Type.Optional(
          Type.Boolean({
            description:
              'zero-pad the numbers to the width of the largest, at least two digits (default true)',
          }),
        ),
        provider: Type.Optional(Type.Union(SIM_PROVIDERS.map((p) => Type.Literal(p)))),
        pool: Type.Optional(Label),
        availabilitySet: Type.Optional(Label),
        scaleSet: Type.Optional(Label),
        zone: Type.Optional(Type.String({ maxLength: 8 })),
        faultDomains: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
        updateDomains: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
        tags: Type.Optional(Tags),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, title: 'a generator ({generate: {prefix, count, …}})' },
);

const Ref = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'the `id` of a schedule step that runs before this one',
});
const Reschedule = Type.Object(
  { event: Ref, notice: Type.Optional(Duration), notBefore: Type.Optional(Iso) },
  { additionalProperties: false },
);
const FaultStep = Type.Object({ vm: Type.Optional(Name), spec: FaultSpec }, { additionalProperties: false });
const ClearFaultsStep = Type.Object({ vm: Type.Optional(Name) }, { additionalProperties: false });

/** One action per timeline step; the key names the action. */
export const STEP_ACTIONS = {
  schedule: ScheduleBody,
  start: Ref,
  complete: Ref,
  cancel: Ref,
  reschedule: Reschedule,
  userReboot: Name,
  userRedeploy: Name,
  faults: FaultStep,
  clearFaults: ClearFaultsStep,
} as const;
export type StepAction = keyof typeof STEP_ACTIONS;

export interface ScenarioStepT {
  at: string | number;
  id?: string;
  schedule?: Static<typeof ScheduleBody>;
  start?: string;
  complete?: string;
  cancel?: string;
  reschedule?: Static<typeof Reschedule>;
  userReboot?: string;
  userRedeploy?: string;
  faults?: Static<typeof FaultStep>;
  clearFaults?: Static<typeof ClearFaultsStep>;
}

const At = Type.Union(Duration.anyOf, {
  description: 'Cloud time after loading the scenario; divided by the time scale',
});

/** Checked loosely here and per action in scenario.ts, so errors name the exact field. */
const ScenarioStep = Type.Object(
  { at: At, id: Type.Optional(Ref) },
  {
    additionalProperties: true,
    description: `at, optional id, and one of: ${Object.keys(STEP_ACTIONS).join(', ')}`,
  },
);

/**
 * The documentation form of a step, one shape per action: `at`, exactly one action with its own
 * schema, and `id` on a schedule step only. Published for editors (docs/scenario.schema.json);
 * the simulator itself checks the loose form above, then the action, so its errors name the path.
 */
const DocumentedSteps = (Object.keys(STEP_ACTIONS) as StepAction[]).map((action) =>
  Type.Object(
    action === 'schedule'
      ? {
          at: At,
          id: Type.Optional(
            Type.String({ minLength: 1, maxLength: 64, description: 'a name later steps refer to' }),
          ),
          schedule: STEP_ACTIONS.schedule,
        }
      : { at: At, [action]: STEP_ACTIONS[action] },
    { additionalProperties: false, title: `${action} step` },
  ),
);

const scenarioFields = {
  name: Type.String({ minLength: 1, maxLength: 128 }),
  description: Type.Optional(Type.String({ maxLength: 4000 })),
  timeScale: Type.Optional(
    Type.Number({
      exclusiveMinimum: 0,
      maximum: 100_000,
      description: 'used when the simulator was started without --time-scale / FOREWARN_SIM_TIME_SCALE',
    }),
  ),
  approval: Type.Optional(
    Type.Union([Type.Literal('any'), Type.Literal('all')], {
      description: 'approval mode of the schedule, userReboot and userRedeploy steps',
    }),
  ),
  fleet: Type.Array(Type.Union([VmInput, VmGenerator]), { minItems: 1 }),
};

export const Scenario = Type.Object(
  { ...scenarioFields, timeline: Type.Optional(Type.Array(ScenarioStep, { maxItems: 10_000 })) },
  { additionalProperties: false },
);
export type ScenarioT = Omit<Static<typeof Scenario>, 'timeline'> & { timeline?: ScenarioStepT[] };

/** The scenario file as documented (docs/scenario.schema.json, GET /sim/scenario/schema). */
export const ScenarioDocument = Type.Object(
  {
    ...scenarioFields,
    timeline: Type.Optional(
      Type.Array(Type.Union(DocumentedSteps, { description: 'at, and exactly one action' }), {
        maxItems: 10_000,
      }),
    ),
  },
  { additionalProperties: false },
);
