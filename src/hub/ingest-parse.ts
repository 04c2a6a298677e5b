// Turns what publishers send into IncomingTransitions, or a clear reason why not. Pure.
// CloudEvents come as forewarn's own (`forewarn.maintenance.<transition>` with a MaintenanceEvent
// as data); Event Grid events may carry the same, or a raw Azure Scheduled Event as the original
// bash-and-Event-Grid scripts published it.
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { HTTP, ValidationError, type CloudEventV1 } from 'cloudevents';
import {
  EVENT_STATUSES,
  EVENT_TYPES,
  PROVIDERS,
  TRANSITIONS,
  type MaintenanceEvent,
  type Transition,
} from '../core/event.js';
import { CLOUDEVENT_TYPE_PREFIX } from '../core/transition.js';
import { firstSchemaError } from '../core/validate.js';
import type { IncomingTransition } from '../store/store.js';
import { parseAzureDocument } from '../sources/azure.js';

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** RFC 3339 with a real calendar date (Date.parse alone rolls 2026-02-31 over). */
export function isRfc3339(v: unknown): boolean {
  if (typeof v !== 'string' || !RFC3339.test(v) || Number.isNaN(Date.parse(v))) return false;
  const [y, m, d] = v.slice(0, 10).split('-').map(Number);
  const day = new Date(Date.UTC(y!, m! - 1, d!));
  return day.getUTCMonth() === m! - 1 && day.getUTCDate() === d;
}

export class IngestError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly code = 'BadRequest',
  ) {
    super(message);
    this.name = 'IngestError';
  }
}

const Enum = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));
const Iso = Type.String({ format: 'date-time' });

/** `data` of a forewarn CloudEvent. Extra fields are refused so a typo is an error, not silence. */
export const TransitionData = Type.Object(
  {
    provider: Enum(PROVIDERS),
    eventId: Type.String({ minLength: 1, maxLength: 256 }),
    vm: Type.String({ minLength: 1, maxLength: 256 }),
    type: Enum(EVENT_TYPES),
    status: Enum(EVENT_STATUSES),
    notBefore: Type.Optional(Iso),
    durationSeconds: Type.Optional(Type.Integer({ minimum: -1 })),
    description: Type.Optional(Type.String({ maxLength: 4096 })),
    origin: Enum(['platform', 'user']),
    resources: Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 10_000 }),
    raw: Type.Optional(Type.Unknown()),
    mine: Type.Boolean(),
    inferred: Type.Optional(Type.Boolean()),
    previousNotBefore: Type.Optional(Iso),
  },
  { additionalProperties: false },
);
type TransitionDataT = Static<typeof TransitionData>;

export function transitionOfType(type: string): Transition {
  const t = type.startsWith(CLOUDEVENT_TYPE_PREFIX) ? type.slice(CLOUDEVENT_TYPE_PREFIX.length) : '';
  if (!(TRANSITIONS as readonly string[]).includes(t)) {
    throw new IngestError(
      400,
      `type ${JSON.stringify(type)} is not one of ${TRANSITIONS.map((x) => CLOUDEVENT_TYPE_PREFIX + x).join(', ')}`,
    );
  }
  return t as Transition;
}

// Compiled once: checking valid data is ~10× cheaper than walking the schema for errors, which
// only happens for data that failed the check.
const transitionDataCheck = TypeCompiler.Compile(TransitionData);

function fromData(data: unknown, where: string): TransitionDataT {
  if (transitionDataCheck.Check(data)) return data;
  const error = firstSchemaError(TransitionData, data, `${where}/data`);
  if (error) throw new IngestError(400, `${error.path}: ${error.message}`);
  return data as TransitionDataT;
}

function toIncoming(
  ce: { id: string; source: string; type: string; time?: string },
  data: TransitionDataT,
  via: string,
): IncomingTransition {
  const { mine, inferred: _i, previousNotBefore, ...rest } = data;
  const event = { ...rest, raw: data.raw ?? null } as MaintenanceEvent; // the schema checked every enum
  return {
    ceSource: ce.source,
    ceId: ce.id,
    transition: transitionOfType(ce.type),
    reporter: data.vm,
    mine,
    observedAt: ce.time ?? new Date().toISOString(),
    event,
    via,
    ...(previousNotBefore ? { previousNotBefore } : {}),
  };
}

/** All three CloudEvents HTTP modes through the official SDK (it tells them apart by Content-Type). */
export function parseCloudEvents(
  headers: Record<string, string | string[] | undefined>,
  body: string,
): IncomingTransition[] {
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers))
    if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(',') : v;
  const contentType = (flat['content-type'] ?? '').toLowerCase();
  const via = contentType.startsWith('application/cloudevents-batch')
    ? 'cloudevents-batch'
    : contentType.startsWith('application/cloudevents')
      ? 'cloudevents-structured'
      : 'cloudevents-binary';
  // Structured and batch bodies are parsed here once, for our own checks; the SDK parses again.
  let parsed: unknown;
  if (via !== 'cloudevents-binary') {
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new IngestError(400, 'body is not valid JSON');
    }
  }
  if (via === 'cloudevents-batch' && !Array.isArray(parsed))
    throw new IngestError(400, 'a batch must be a JSON array');
  // The SDK fills in a missing id (a random one) and time; a publisher that forgot them must hear so.
  const required = ['specversion', 'id', 'source', 'type'];
  if (via === 'cloudevents-binary') {
    for (const a of required)
      if (!flat[`ce-${a}`]) throw new IngestError(400, `header ce-${a} is required in binary mode`);
    if (flat['ce-specversion'] !== '1.0')
      throw new IngestError(400, 'header ce-specversion: only "1.0" is spoken here');
    if (flat['ce-time'] !== undefined && !isRfc3339(decodeURIComponent(flat['ce-time'])))
      throw new IngestError(400, 'header ce-time: not an RFC 3339 timestamp');
  } else {
    const list = Array.isArray(parsed) ? parsed : [parsed];
    list.forEach((e, i) => {
      const where = Array.isArray(parsed) ? `/${i}` : '';
      if (e === null || typeof e !== 'object' || Array.isArray(e))
        throw new IngestError(400, `${where || '/'}: a CloudEvent must be an object`);
      for (const a of required) {
        const v = (e as Record<string, unknown>)[a];
        if (typeof v !== 'string' || v === '')
          throw new IngestError(400, `${where}/${a}: required non-empty string`);
      }
      const ev = e as Record<string, unknown>;
      if (ev.specversion !== '1.0')
        throw new IngestError(400, `${where}/specversion: only "1.0" is spoken here`);
      if (ev.time !== undefined && !isRfc3339(ev.time))
        throw new IngestError(400, `${where}/time: not an RFC 3339 timestamp`);
    });
  }
  let events: CloudEventV1<unknown>[];
  try {
    const parsed = HTTP.toEvent({ headers: flat, body });
    events = Array.isArray(parsed) ? parsed : [parsed];
  } catch (err) {
    const detail =
      err instanceof ValidationError ? (err.errors ?? []).map((e) => JSON.stringify(e)).join('; ') : '';
    throw new IngestError(
      400,
      `not a valid CloudEvent: ${(err as Error).message}${detail ? ` (${detail})` : ''}`,
    );
  }
  return events.map((ce, i) => {
    const where = via === 'cloudevents-batch' ? `/${i}` : '';
    let data = ce.data;
    if (typeof data === 'string') {
      try {
        data = JSON.parse(data);
      } catch {
        throw new IngestError(400, `${where}/data: not JSON`);
      }
    }
    return toIncoming(
      { id: ce.id, source: ce.source, type: ce.type, time: ce.time },
      fromData(data, where),
      via,
    );
  });
}

export const EVENT_GRID_MAX_EVENTS = 5000;

/** Event Grid schema arrays (delivery-semantics.md §1.1): required fields, metadataVersion "1" only. */
export function parseEventGrid(body: unknown): IncomingTransition[] {
  if (!Array.isArray(body)) throw new IngestError(400, 'Event Grid events must be a JSON array');
  if (body.length > EVENT_GRID_MAX_EVENTS)
    throw new IngestError(413, `at most ${EVENT_GRID_MAX_EVENTS} events per request`, 'PayloadTooLarge');
  return body.map((e: unknown, i) => {
    if (e === null || typeof e !== 'object' || Array.isArray(e))
      throw new IngestError(400, `/${i}: an event must be an object`);
    const ev = e as Record<string, unknown>;
    for (const field of ['id', 'subject', 'eventType', 'eventTime']) {
      if (typeof ev[field] !== 'string' || !ev[field])
        throw new IngestError(400, `/${i}/${field}: required string`);
    }
    if (ev.metadataVersion !== undefined && ev.metadataVersion !== '1')
      throw new IngestError(400, `/${i}/metadataVersion: must be "1"`);
    if (Number.isNaN(Date.parse(ev.eventTime as string)))
      throw new IngestError(400, `/${i}/eventTime: not a time`);
    const ce = {
      id: ev.id as string,
      source: `eventgrid:${ev.subject as string}`,
      type: ev.eventType as string,
      time: new Date(Date.parse(ev.eventTime as string)).toISOString(),
    };
    const data = ev.data as Record<string, unknown> | undefined;
    if (data && typeof data === 'object' && 'EventId' in data)
      return fromAzureEvent(ce, data, ev.subject as string, i);
    return toIncoming(ce, fromData(data, `/${i}`), 'event-grid');
  });
}

/**
 * A raw Azure Scheduled Event as data (what a bash loop posting IMDS output would send). The VM is
 * the subject's last path segment, else the first resource.
 */
function fromAzureEvent(
  ce: { id: string; source: string; type: string; time: string },
  data: Record<string, unknown>,
  subject: string,
  i: number,
): IncomingTransition {
  let parsed;
  try {
    parsed = parseAzureDocument(JSON.stringify({ DocumentIncarnation: 0, Events: [data] }), '');
  } catch (err) {
    throw new IngestError(400, `/${i}/data: ${(err as Error).message}`);
  }
  const event = parsed.events[0]!;
  const vm = subject.split('/').filter(Boolean).at(-1) || event.resources[0] || 'unknown';
  return {
    ceSource: ce.source,
    ceId: ce.id,
    transition: event.status === 'started' ? 'started' : 'scheduled',
    reporter: vm,
    mine: event.resources.some((r) => r.toLowerCase() === vm.toLowerCase()),
    observedAt: ce.time,
    event: { ...event, vm },
    via: 'event-grid',
  };
}
