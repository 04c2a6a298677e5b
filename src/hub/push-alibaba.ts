// Alibaba Cloud ECS system events as CloudMonitor / event notifications push them (metadata-apis.md
// §4.2): the current format (`content.instanceId`, `content.eventStatus`), the older one
// (`content.ecsInstanceId`, a top-level `status`), and EventBridge's CloudEvents (`source: acs.ecs`,
// the notification or its content in `data`). Normalised per the reference: instance id =
// content.instanceId ?? content.ecsInstanceId ?? the resourceId ARN's last segment; status =
// content.eventStatus ?? status ?? the name's last segment; type = content.eventType ?? the name's middle.
import { createHash } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import type { EventStatus, EventType, MaintenanceEvent, Transition } from '../core/event.js';
import { parseAlibabaEventTime, parseRfc3339, toIso } from '../core/time.js';
import { firstSchemaError } from '../core/validate.js';
import { IngestError } from './ingest-parse.js';
import type { PushItem } from './routes-push.js';

const Str = Type.String({ minLength: 1, maxLength: 2048 });
const Opt = Type.Optional(Str);

export const AlibabaContent = Type.Object(
  {
    eventId: Opt,
    instanceId: Opt,
    ecsInstanceId: Opt,
    eventType: Opt,
    eventStatus: Opt,
    notBefore: Opt,
    publishTime: Opt,
    executeStartTime: Opt,
    executeFinishTime: Opt,
    action: Opt,
  },
  { additionalProperties: true },
);

export const AlibabaNotification = Type.Object(
  {
    ver: Opt,
    id: Opt,
    product: Type.Literal('ECS'),
    resourceId: Opt,
    level: Opt,
    name: Type.String({ pattern: '^[A-Za-z]+:[A-Za-z.]+(:[A-Za-z]+)?$' }),
    userId: Opt,
    eventTime: Opt,
    regionId: Opt,
    status: Opt,
    instanceName: Opt,
    content: AlibabaContent,
  },
  { additionalProperties: true },
);
type Notification = Static<typeof AlibabaNotification>;

export const AlibabaCloudEvent = Type.Object(
  {
    id: Str,
    source: Type.Literal('acs.ecs'),
    type: Type.String({ pattern: '^ecs:[A-Za-z]+:[A-Za-z.]+(:[A-Za-z]+)?$' }),
    time: Opt,
    aliyunregionid: Opt,
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: true },
);

/** ECS system-event codes (§4.2 appendix) → our types. */
const TYPES: [RegExp, EventType][] = [
  [/\.Redeploy$/, 'redeploy'],
  [/\.Reboot/, 'reboot'], // Reboot, RebootAndIsolateErrorDisk, RebootAndReInitErrorDisk
  [/\.Delete$/, 'terminate'],
  [/^PreemptibleInstanceInterruption$/, 'preempt'],
];

/** System-event states (§4.3) → the transition they are. Failed: the platform's operation is over. */
const STATES: Record<string, Transition> = {
  Inquiring: 'scheduled',
  Scheduled: 'scheduled',
  Executing: 'started',
  Executed: 'completed',
  Failed: 'completed',
  Avoided: 'canceled',
  Canceled: 'canceled',
};

function check<T>(schema: Parameters<typeof firstSchemaError>[0], value: unknown, where: string): T {
  const error = firstSchemaError(schema, value, where);
  if (error) throw new IngestError(400, `${error.path}: ${error.message}`);
  return value as T;
}

function time(parse: (s: string) => number, value: string, where: string): number {
  try {
    return parse(value);
  } catch (err) {
    throw new IngestError(400, `${where}: ${(err as Error).message}`);
  }
}

/** A notification, or an EventBridge CloudEvent carrying one, → what to store. */
export function normaliseAlibabaEvent(input: unknown, where = ''): { items: PushItem[]; ignored?: string } {
  if (input !== null && typeof input === 'object' && (input as { source?: unknown }).source === 'acs.ecs') {
    const ce = check<Static<typeof AlibabaCloudEvent>>(AlibabaCloudEvent, input, where);
    const data = ce.data;
    // The payload is the whole notification, or only its content.
    const n = 'content' in data ? data : { content: data };
    const notification = {
      product: 'ECS',
      name: ce.type.slice('ecs:'.length),
      ...(ce.aliyunregionid ? { regionId: ce.aliyunregionid } : {}),
      ...n,
      id: (n as { id?: unknown }).id ?? ce.id,
    };
    const eventTime = ce.time ? time(parseRfc3339, ce.time, `${where}/time`) : undefined;
    return fromNotification(notification, `${where}/data`, input, eventTime);
  }
  return fromNotification(input, where, input);
}

function fromNotification(
  input: unknown,
  where: string,
  raw: unknown,
  ceTime?: number,
): { items: PushItem[]; ignored?: string } {
  const n = check<Notification>(AlibabaNotification, input, where);
  const c = n.content;
  const [resource, code, suffix] = n.name.split(':');
  if (resource !== 'Instance') return { items: [], ignored: `${resource} event ${n.name}` };
  const eventType = c.eventType ?? code!;
  if (eventType === 'StateChange') return { items: [], ignored: 'Instance:StateChange' };
  const instance = c.instanceId ?? c.ecsInstanceId ?? n.resourceId?.split('/').pop();
  if (!instance || !/^i-[0-9a-z]+$/.test(instance))
    throw new IngestError(
      400,
      `${where}/content/instanceId: no ECS instance id (i-…) in content or resourceId`,
    );
  const at =
    n.eventTime !== undefined
      ? time(parseAlibabaEventTime, n.eventTime, `${where}/eventTime`)
      : (ceTime ??
        (c.publishTime ? time(parseRfc3339, c.publishTime, `${where}/content/publishTime`) : undefined));
  const type = TYPES.find(([re]) => re.test(eventType))?.[1] ?? 'other';

  let transition: Transition;
  let notBefore: number | undefined;
  let eventId: string;
  if (eventType === 'PreemptibleInstanceInterruption') {
    // Sent five minutes before the instance is released (§4.1).
    if (at === undefined) throw new IngestError(400, `${where}/eventTime: required for a spot interruption`);
    transition = 'scheduled';
    notBefore = at + 5 * 60_000;
    eventId = `${instance}:preemptible-interruption:${toIso(at)}`;
  } else {
    // Trust content.eventStatus over the name's suffix: the docs' Avoided example still says :Scheduled (§4.2).
    const status = c.eventStatus ?? n.status ?? suffix;
    if (!status || !STATES[status]) {
      throw new IngestError(
        400,
        `${where}/content/eventStatus: ${JSON.stringify(status ?? null)} is not one of ${Object.keys(STATES).join(', ')}`,
      );
    }
    transition = STATES[status]!;
    if (c.notBefore) notBefore = time(parseRfc3339, c.notBefore, `${where}/content/notBefore`);
    if (!c.eventId) throw new IngestError(400, `${where}/content/eventId: required for a system event`);
    eventId = c.eventId;
  }
  for (const k of ['executeStartTime', 'executeFinishTime'] as const)
    if (c[k]) time(parseRfc3339, c[k]!, `${where}/content/${k}`);
  const event: MaintenanceEvent = {
    provider: 'alibaba',
    eventId,
    vm: instance,
    type,
    status: (transition === 'rescheduled' ? 'scheduled' : transition) as EventStatus,
    notBefore: notBefore === undefined ? undefined : toIso(notBefore),
    description: `${n.name}${n.level ? ` (${n.level})` : ''}`,
    origin: 'platform',
    resources: [instance],
    raw,
  };
  // The notification id is the idempotency key; the older format has none: the body's hash is.
  const ceId =
    n.id ?? `sha256:${createHash('sha256').update(JSON.stringify(raw)).digest('hex').slice(0, 32)}`;
  return { items: [{ transition, event, ceId, observedAt: toIso(at ?? Date.now()) }] };
}
