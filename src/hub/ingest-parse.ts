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

const CE_REQUIRED = ['specversion', 'id', 'source', 'type'] as const;
const CE_OPTIONAL = ['datacontenttype', 'dataschema', 'subject'] as const;
const CE_KNOWN = new Set<string>([...CE_REQUIRED, ...CE_OPTIONAL, 'time', 'data', 'data_base64']);
const EXTENSION_NAME = /^[a-z0-9]+$/;

/**
 * One CloudEvent in the JSON format (structured mode, or an element of a batch), checked the way
 * CloudEvents 1.0 says: required attributes present and non-empty, specversion 1.0, time RFC 3339,
 * extension names lower-case alphanumeric with scalar values, `data` or `data_base64`, not both.
 * The body was parsed once already; this only walks it (the SDK parsed it a second time and built
 * frozen objects, a tenth of the hub's CPU under load).
 */
function fromJsonCloudEvent(e: unknown, where: string): { ce: CloudEventHead; data: unknown } {
  if (e === null || typeof e !== 'object' || Array.isArray(e))
    throw new IngestError(400, `${where || '/'}: a CloudEvent must be an object`);
  const ev = e as Record<string, unknown>;
  for (const a of CE_REQUIRED) {
    const v = ev[a];
    if (typeof v !== 'string' || v === '')
      throw new IngestError(400, `${where}/${a}: required non-empty string`);
  }
  if (ev.specversion !== '1.0') throw new IngestError(400, `${where}/specversion: only "1.0" is spoken here`);
  if (ev.time !== undefined && !isRfc3339(ev.time))
    throw new IngestError(400, `${where}/time: not an RFC 3339 timestamp`);
  for (const a of CE_OPTIONAL) {
    if (ev[a] !== undefined && (typeof ev[a] !== 'string' || ev[a] === ''))
      throw new IngestError(400, `${where}/${a}: must be a non-empty string`);
  }
  for (const key in ev) {
    if (CE_KNOWN.has(key)) continue;
    if (!EXTENSION_NAME.test(key))
      throw new IngestError(400, `${where}/${key}: extension names are lower-case letters and digits`);
    const v = ev[key];
    if (!(typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isInteger(v))))
      throw new IngestError(400, `${where}/${key}: an extension value is a string, integer or boolean`);
  }
  let data = ev.data;
  if (ev.data_base64 !== undefined) {
    if (data !== undefined) throw new IngestError(400, `${where}: data and data_base64 are exclusive`);
    if (typeof ev.data_base64 !== 'string')
      throw new IngestError(400, `${where}/data_base64: must be a string`);
    data = Buffer.from(ev.data_base64, 'base64').toString('utf8');
  }
  return {
    ce: {
      id: ev.id as string,
      source: ev.source as string,
      type: ev.type as string,
      time: ev.time as string,
    },
    data,
  };
}

interface CloudEventHead {
  id: string;
  source: string;
  type: string;
  time?: string;
}

/** `data` that came as a string (binary mode, data_base64, or a JSON string) is JSON inside. */
function jsonData(data: unknown, where: string): unknown {
  if (typeof data !== 'string') return data;
  try {
    return JSON.parse(data);
  } catch {
    throw new IngestError(400, `${where}/data: not JSON`);
  }
}

/** Binary mode through the official SDK: attributes in `ce-` headers, data in the body. */
function parseBinary(flat: Record<string, string>, body: string): { ce: CloudEventHead; data: unknown } {
  for (const a of CE_REQUIRED)
    if (!flat[`ce-${a}`]) throw new IngestError(400, `header ce-${a} is required in binary mode`);
  if (flat['ce-specversion'] !== '1.0')
    throw new IngestError(400, 'header ce-specversion: only "1.0" is spoken here');
  if (flat['ce-time'] !== undefined && !isRfc3339(decodeURIComponent(flat['ce-time'])))
    throw new IngestError(400, 'header ce-time: not an RFC 3339 timestamp');
  let ce: CloudEventV1<unknown>;
  try {
    ce = HTTP.toEvent({ headers: flat, body }) as CloudEventV1<unknown>;
  } catch (err) {
    const detail =
      err instanceof ValidationError ? (err.errors ?? []).map((e) => JSON.stringify(e)).join('; ') : '';
    throw new IngestError(
      400,
      `not a valid CloudEvent: ${(err as Error).message}${detail ? ` (${detail})` : ''}`,
    );
  }
  return { ce: { id: ce.id, source: ce.source, type: ce.type, time: ce.time }, data: ce.data };
}

/** All three CloudEvents HTTP modes, told apart by Content-Type as the HTTP binding says. */
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
  if (via === 'cloudevents-binary') {
    const { ce, data } = parseBinary(flat, body);
    return [toIncoming(ce, fromData(jsonData(data, ''), ''), via)];
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new IngestError(400, 'body is not valid JSON');
  }
  if (via === 'cloudevents-batch' && !Array.isArray(parsed))
    throw new IngestError(400, 'a batch must be a JSON array');
  const list = via === 'cloudevents-batch' ? (parsed as unknown[]) : [parsed];
  // All events are checked before any is converted: a batch is all or nothing.
  const heads = list.map((e, i) => fromJsonCloudEvent(e, via === 'cloudevents-batch' ? `/${i}` : ''));
  return heads.map(({ ce, data }, i) => {
    const where = via === 'cloudevents-batch' ? `/${i}` : '';
    return toIncoming(ce, fromData(jsonData(data, where), where), via);
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
