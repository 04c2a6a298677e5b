// AWS EventBridge events for EC2 (metadata-apis.md §2.8), normalised into MaintenanceEvents: the
// Spot interruption warning, the rebalance recommendation, instance state changes (the draining
// states), and AWS Health scheduled changes for EC2. Validated with TypeBox; anything else is a 400.
import { Type, type Static } from '@sinclair/typebox';
import type { EventType, MaintenanceEvent, Transition } from '../core/event.js';
import { parseRfc1123, parseRfc3339, toIso } from '../core/time.js';
import { firstSchemaError } from '../core/validate.js';
import { IngestError } from './ingest-parse.js';
import type { PushItem } from './routes-push.js';

const Str = Type.String({ minLength: 1, maxLength: 2048 });
const InstanceId = Type.String({ pattern: '^i-[0-9a-f]{8,32}$' });

export const AwsEnvelope = Type.Object(
  {
    version: Type.Literal('0'),
    id: Str,
    'detail-type': Str,
    source: Str,
    account: Type.String({ pattern: '^\\d{12}$' }),
    time: Str,
    region: Str,
    resources: Type.Array(Type.String({ maxLength: 2048 }), { maxItems: 10_000 }),
    detail: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: true },
);
type Envelope = Static<typeof AwsEnvelope>;

const SpotDetail = Type.Object(
  {
    'instance-id': InstanceId,
    'instance-action': Type.Union(['terminate', 'stop', 'hibernate'].map((a) => Type.Literal(a))),
  },
  { additionalProperties: true },
);
const RebalanceDetail = Type.Object({ 'instance-id': InstanceId }, { additionalProperties: true });
const STATES = ['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated'];
const StateDetail = Type.Object(
  { 'instance-id': InstanceId, state: Type.Union(STATES.map((s) => Type.Literal(s))) },
  { additionalProperties: true },
);
const HealthDetail = Type.Object(
  {
    eventArn: Str,
    service: Str,
    eventTypeCode: Str,
    eventTypeCategory: Str,
    startTime: Type.Optional(Str),
    endTime: Type.Optional(Str),
    statusCode: Type.Optional(Type.Union(['open', 'closed', 'upcoming'].map((s) => Type.Literal(s)))),
    eventDescription: Type.Optional(
      Type.Array(Type.Object({ language: Type.Optional(Type.String()), latestDescription: Type.String() })),
    ),
    affectedEntities: Type.Optional(
      Type.Array(Type.Object({ entityValue: Type.String() }, { additionalProperties: true })),
    ),
  },
  { additionalProperties: true },
);

function check<T>(schema: Parameters<typeof firstSchemaError>[0], value: unknown, where: string): T {
  const error = firstSchemaError(schema, value, where);
  if (error) throw new IngestError(400, `${error.path}: ${error.message}`);
  return value as T;
}

/** RFC 3339 (EventBridge `time`) or RFC 1123 (Health `startTime` in NTH's sample). */
function awsTime(value: string, where: string): number {
  try {
    return parseRfc3339(value);
  } catch {
    try {
      return parseRfc1123(value);
    } catch {
      throw new IngestError(
        400,
        `${where}: ${JSON.stringify(value.slice(0, 60))} is not an RFC 3339 or RFC 1123 time`,
      );
    }
  }
}

const HEALTH_TYPES: [RegExp, EventType][] = [
  [/REBOOT/, 'reboot'],
  [/RETIREMENT/, 'retire'],
  [/STOP/, 'stop'],
  [/(NETWORK|POWER|SYSTEM)_MAINTENANCE|MAINTENANCE_SCHEDULED/, 'system-maintenance'],
];

/** One EventBridge event → what to store (possibly nothing: `ignored` says why). */
export function normaliseAwsEvent(input: unknown, where = ''): { items: PushItem[]; ignored?: string } {
  const e = check<Envelope>(AwsEnvelope, input, where);
  const at = awsTime(e.time, `${where}/time`);
  const base = (
    instance: string,
    extra: Omit<MaintenanceEvent, 'provider' | 'vm' | 'origin' | 'raw' | 'resources'>,
  ) => ({
    provider: 'aws' as const,
    vm: instance,
    origin: 'platform' as const,
    resources: [instance],
    raw: input,
    ...extra,
  });
  const item = (transition: Transition, event: MaintenanceEvent, ceId = e.id): PushItem => ({
    transition,
    event,
    ceId,
    observedAt: toIso(at),
  });

  if (e.source === 'aws.ec2' && e['detail-type'] === 'EC2 Spot Instance Interruption Warning') {
    const d = check<Static<typeof SpotDetail>>(SpotDetail, e.detail, `${where}/detail`);
    const action = d['instance-action'];
    const iid = d['instance-id'];
    // Two minutes' warning, none for hibernate (§2.4).
    const actionAt = at + (action === 'hibernate' ? 0 : 120_000);
    return {
      items: [
        item(
          'scheduled',
          base(iid, {
            eventId: `${iid}:spot-interruption:${toIso(at)}`,
            type: 'preempt',
            status: 'scheduled',
            notBefore: toIso(actionAt),
            description: `Spot interruption: ${action}`,
          }),
        ),
      ],
    };
  }
  if (e.source === 'aws.ec2' && e['detail-type'] === 'EC2 Instance Rebalance Recommendation') {
    const iid = check<Static<typeof RebalanceDetail>>(RebalanceDetail, e.detail, `${where}/detail`)[
      'instance-id'
    ];
    return {
      items: [
        item(
          'scheduled',
          base(iid, {
            eventId: `${iid}:rebalance:${toIso(at)}`,
            type: 'rebalance',
            status: 'scheduled',
            description: 'EC2 instance rebalance recommendation',
          }),
        ),
      ],
    };
  }
  if (e.source === 'aws.ec2' && e['detail-type'] === 'EC2 Instance State-change Notification') {
    const d = check<Static<typeof StateDetail>>(StateDetail, e.detail, `${where}/detail`);
    const iid = d['instance-id'];
    // aws-node-termination-handler drains on these four; pending/running are the way back.
    if (d.state === 'pending' || d.state === 'running') return { items: [], ignored: `state ${d.state}` };
    const ending = d.state === 'stopped' || d.state === 'terminated';
    return {
      items: [
        item(
          ending ? 'completed' : 'started',
          base(iid, {
            eventId: `${iid}:state-change:${d.state}:${toIso(at)}`,
            type: d.state === 'stopping' || d.state === 'stopped' ? 'stop' : 'terminate',
            status: ending ? 'completed' : 'started',
            description: `EC2 instance state: ${d.state}`,
          }),
        ),
      ],
    };
  }
  if (e.source === 'aws.health' && /^AWS Health/.test(e['detail-type'])) {
    const d = check<Static<typeof HealthDetail>>(HealthDetail, e.detail, `${where}/detail`);
    if (d.service !== 'EC2') return { items: [], ignored: `service ${d.service}` };
    if (d.eventTypeCategory !== 'scheduledChange')
      return { items: [], ignored: `category ${d.eventTypeCategory}` };
    const fromEntities = (d.affectedEntities ?? [])
      .map((x) => x.entityValue)
      .filter((v) => /^i-[0-9a-f]+$/.test(v));
    const fromResources = e.resources
      .map((r) => r.split('/').pop() ?? r)
      .filter((v) => /^i-[0-9a-f]+$/.test(v));
    const instances = [...new Set(fromEntities.length ? fromEntities : fromResources)];
    if (instances.length === 0)
      throw new IngestError(400, `${where}/detail/affectedEntities: no EC2 instance id (i-…) in the event`);
    const start = d.startTime ? awsTime(d.startTime, `${where}/detail/startTime`) : undefined;
    const end = d.endTime ? awsTime(d.endTime, `${where}/detail/endTime`) : undefined;
    const status = d.statusCode ?? 'upcoming';
    const transition: Transition =
      status === 'closed' ? 'completed' : status === 'open' ? 'started' : 'scheduled';
    const type = HEALTH_TYPES.find(([re]) => re.test(d.eventTypeCode))?.[1] ?? 'other';
    const event: MaintenanceEvent = {
      provider: 'aws',
      // eventArn is per region, not per account (§2.8).
      eventId: `${e.account}:${d.eventArn}`,
      vm: instances[0]!,
      type,
      status: transition === 'scheduled' ? 'scheduled' : transition,
      notBefore: start === undefined ? undefined : toIso(start),
      durationSeconds:
        start !== undefined && end !== undefined ? Math.max(0, Math.round((end - start) / 1000)) : undefined,
      description: d.eventDescription?.[0]?.latestDescription ?? d.eventTypeCode,
      origin: 'platform',
      resources: instances,
      raw: input,
    };
    return { items: [item(transition, event)] };
  }
  return { items: [], ignored: `${e.source} ${e['detail-type']}` };
}
