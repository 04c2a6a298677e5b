// fast-check arbitraries for hub ingest requests that must all be refused: random JSON and bytes,
// CloudEvents (structured, batch, binary) and Event Grid arrays with at least one sure defect each.
// A generated request never becomes valid by accident: every mutation only removes a required
// field or puts a value there that the schema cannot accept. Each request lists its defects, so
// a failure report says which defect the hub let through.
import fc from 'fast-check';
import { EVENT_STATUSES, EVENT_TYPES, PROVIDERS, TRANSITIONS } from '../../src/core/event.js';
import { formatRfc1123 } from '../../src/core/time.js';
import { vmSource } from '../../src/core/transition.js';

export interface FuzzRequest {
  kind: string;
  /** What makes it bad, e.g. `ce.id missing`, `data.resources wrong`. */
  defects: string[];
  path: string;
  headers: Record<string, string>;
  body: string | Uint8Array;
}

export interface FuzzAuth {
  /** Bearer tokens that may publish for VM web-01. */
  bearer: string[];
  eventGridKey: string;
}

type Json = Record<string, unknown>;
/** A value with the defects that were put into it. */
type Bad<T = unknown> = { value: T; defects: string[] };
/** A sure defect, with a label saying which. */
interface Mutation {
  label: string;
  apply: (o: Json) => unknown;
}
const mut = (label: string, apply: (o: Json) => unknown): Mutation => ({ label, apply });

const VM = 'web-01';
const CE_PATH = '/api/v1/events';
const EG_PATHS = ['/api/v1/eventgrid/events', '/api/events'];
const CE_TYPES = TRANSITIONS.map((t) => `forewarn.maintenance.${t}`);
const DATA_FIELDS = [
  'provider', 'eventId', 'vm', 'type', 'status', 'notBefore', 'durationSeconds', 'description', 'origin',
  'resources', 'raw', 'mine', 'inferred', 'previousNotBefore',
]; // prettier-ignore
const REQUIRED_DATA = ['provider', 'eventId', 'vm', 'type', 'status', 'origin', 'resources', 'mine'];
const ENUMS: Record<string, readonly string[]> = {
  provider: PROVIDERS,
  type: EVENT_TYPES,
  status: EVENT_STATUSES,
  origin: ['platform', 'user'],
};
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;

const printable = fc
  .string({ unit: 'grapheme-ascii', maxLength: 40 })
  .map((s) => s.replace(/[^\x20-\x7e]/g, ''));
const notString = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
);
const badTimeString = fc.string({ maxLength: 20 }).filter((s) => !ISO.test(s) && Number.isNaN(Date.parse(s)));
const notTime = fc.oneof(notString, badTimeString);
const json = fc.jsonValue({ maxDepth: 3 });
const omit = (o: Json, k: string) => {
  const { [k]: _drop, ...rest } = o;
  return rest;
};
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Applies mutations in turn (one that replaced the whole value leaves nothing for the rest). */
const applyAll = (o: Json, ms: Mutation[]): Bad => ({
  value: ms.reduce<unknown>((acc, m) => (isObject(acc) ? m.apply(acc) : acc), o),
  defects: ms.map((m) => m.label),
});

const validData = fc
  .record({
    provider: fc.constantFrom(...PROVIDERS),
    eventId: fc.uuid().map((s) => s.toUpperCase()),
    type: fc.constantFrom(...EVENT_TYPES),
    status: fc.constantFrom(...EVENT_STATUSES),
    notBefore: fc.integer({ min: 1.6e12, max: 2.1e12 }).map((ms) => new Date(ms).toISOString()),
    durationSeconds: fc.integer({ min: -1, max: 86_400 }),
    origin: fc.constantFrom('platform', 'user'),
    mine: fc.boolean(),
  })
  .map((d): Json => ({ ...d, vm: VM, resources: [VM] }));

/** One sure defect in a forewarn MaintenanceEvent `data`. */
const dataMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constantFrom(...REQUIRED_DATA).map((k) => mut(`data.${k} missing`, (d) => omit(d, k))),
  fc
    .tuple(fc.constantFrom('provider', 'eventId', 'vm', 'type', 'status', 'origin', 'description'), notString)
    .map(([k, v]) => mut(`data.${k} not a string`, (d) => ({ ...d, [k]: v }))),
  fc
    .tuple(fc.constantFrom(...Object.keys(ENUMS)), fc.string({ maxLength: 12 }))
    .filter(([k, v]) => !ENUMS[k]!.includes(v))
    .map(([k, v]) => mut(`data.${k} not allowed`, (d) => ({ ...d, [k]: v }))),
  fc
    .oneof(fc.double().filter((x) => !Number.isInteger(x)), fc.integer({ max: -2 }), fc.string(), fc.boolean())
    .map((v) => mut('data.durationSeconds bad', (d) => ({ ...d, durationSeconds: v }))),
  fc
    .oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(notString, { minLength: 1, maxLength: 3 }), fc.constant(['']))
    .map((v) => mut('data.resources bad', (d) => ({ ...d, resources: v }))),
  fc.oneof(fc.integer(), fc.string(), fc.constant(null)).map((v) => mut('data.mine bad', (d) => ({ ...d, mine: v }))),
  fc
    .tuple(fc.constantFrom('notBefore', 'previousNotBefore'), notTime)
    .map(([k, v]) => mut(`data.${k} bad`, (d) => ({ ...d, [k]: v }))),
  fc
    .tuple(fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !DATA_FIELDS.includes(k)), json)
    .map(([k, v]) => mut('data unknown field', (d) => ({ ...d, [k]: v }))),
  fc
    .oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(json, { maxLength: 3 }))
    .map((v) => mut('data not an object', () => v)),
); // prettier-ignore
const dataMutations = fc.array(dataMutation, { minLength: 1, maxLength: 3 });

/** One sure defect in a structured CloudEvent (envelope or data). */
const ceMutation: fc.Arbitrary<Mutation[]> = fc.oneof(
  fc
    .constantFrom('id', 'source', 'type', 'specversion')
    .map((k) => [mut(`ce.${k} missing`, (e) => omit(e, k))]),
  fc
    .tuple(fc.constantFrom('id', 'source', 'type', 'specversion'), notString)
    .map(([k, v]) => [mut(`ce.${k} not a string`, (e) => ({ ...e, [k]: v }))]),
  fc.constantFrom('id', 'source', 'type').map((k) => [mut(`ce.${k} empty`, (e) => ({ ...e, [k]: '' }))]),
  fc
    .string({ maxLength: 30 })
    .filter((t) => !CE_TYPES.includes(t))
    .map((t) => [mut('ce.type unknown', (e) => ({ ...e, type: t }))]),
  fc
    .constantFrom('2.0', '1', '', '1.0.0', '0.1')
    .map((v) => [mut(`ce.specversion ${JSON.stringify(v)}`, (e) => ({ ...e, specversion: v }))]),
  notTime.map((v) => [mut('ce.time bad', (e) => ({ ...e, time: v }))]),
  dataMutations.map((ms) =>
    ms.map((m) => mut(m.label, (e) => ({ ...e, data: isObject(e.data) ? m.apply(e.data) : e.data }))),
  ),
);

const ceEvent = fc
  .tuple(validData, fc.constantFrom(...TRANSITIONS), fc.uuid())
  .map(([data, t, id]): Json => ({
    specversion: '1.0',
    id,
    source: vmSource(VM),
    type: `forewarn.maintenance.${t}`,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data,
  }));
const badCeEvent: fc.Arbitrary<Bad> = fc
  .tuple(ceEvent, fc.array(ceMutation, { minLength: 1, maxLength: 2 }))
  .map(([e, ms]) => applyAll(e, ms.flat()));

/** Several events of which at least one is bad, in any order. */
function batchWithBad(good: fc.Arbitrary<unknown>, bad: fc.Arbitrary<Bad>): fc.Arbitrary<Bad<unknown[]>> {
  return fc
    .tuple(fc.array(good, { maxLength: 4 }), fc.array(bad, { minLength: 1, maxLength: 2 }), fc.nat())
    .map(([g, b, seed]) => {
      const all = [...g];
      for (const x of b) all.splice(seed % (all.length + 1), 0, x.value);
      return { value: all, defects: b.flatMap((x) => x.defects) };
    });
}

const egEvent = fc.tuple(validData, fc.constantFrom(...TRANSITIONS)).map(([data, t]): Json => ({
  id: `${String(data.eventId)}-${t}`,
  subject: `${vmSource(VM)}/events/${String(data.provider)}/${String(data.eventId)}`,
  eventType: `forewarn.maintenance.${t}`,
  eventTime: new Date().toISOString(),
  data,
  dataVersion: '1.0',
}));
const azureData = fc
  .tuple(fc.uuid(), fc.constantFrom('Reboot', 'Redeploy', 'Freeze', 'Preempt', 'Terminate'), fc.constantFrom('Scheduled', 'Started'))
  .map(([id, type, status]): Json => ({
    EventId: id.toUpperCase(),
    EventType: type,
    EventStatus: status,
    ResourceType: 'VirtualMachine',
    Resources: [VM],
    NotBefore: status === 'Started' ? '' : formatRfc1123(Date.now() + 600_000),
    Description: 'Host server is undergoing maintenance.',
    EventSource: 'Platform',
    DurationInSeconds: -1,
  })); // prettier-ignore
/** One sure defect in a raw Azure Scheduled Event. */
const azureMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constantFrom('EventType', 'EventStatus', 'Resources', 'NotBefore').map((k) => mut(`azure.${k} missing`, (d) => omit(d, k))),
  fc
    .tuple(fc.constantFrom('EventId', 'EventType', 'EventStatus', 'NotBefore', 'EventSource', 'Description'), notString)
    .map(([k, v]) => mut(`azure.${k} not a string`, (d) => ({ ...d, [k]: v }))),
  fc
    .string({ maxLength: 12 })
    .filter((s) => s !== 'Scheduled' && s !== 'Started')
    .map((v) => mut('azure.EventStatus unknown', (d) => ({ ...d, EventStatus: v }))),
  fc.constantFrom('', '   ').map((v) => mut('azure.EventId blank', (d) => ({ ...d, EventId: v }))),
  fc
    .oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(notString, { minLength: 1, maxLength: 2 }))
    .map((v) => mut('azure.Resources bad', (d) => ({ ...d, Resources: v }))),
  fc
    .string({ minLength: 1, maxLength: 20 })
    .filter((s) => Number.isNaN(Date.parse(s)))
    .map((v) => mut('azure.NotBefore bad', (d) => ({ ...d, NotBefore: v }))),
  fc
    .oneof(fc.double().filter((x) => !Number.isInteger(x)), fc.string(), fc.boolean())
    .map((v) => mut('azure.DurationInSeconds bad', (d) => ({ ...d, DurationInSeconds: v }))),
); // prettier-ignore
const egAzureEvent = fc
  .tuple(egEvent, azureData)
  .map(([e, data]): Json => ({ ...e, eventType: 'Azure.ScheduledEvent', data }));

const egMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constantFrom('id', 'subject', 'eventType', 'eventTime').map((k) => mut(`eg.${k} missing`, (e) => omit(e, k))),
  fc
    .tuple(fc.constantFrom('id', 'subject', 'eventType', 'eventTime'), notString)
    .map(([k, v]) => mut(`eg.${k} not a string`, (e) => ({ ...e, [k]: v }))),
  fc.constantFrom('id', 'subject').map((k) => mut(`eg.${k} empty`, (e) => ({ ...e, [k]: '' }))),
  fc
    .string({ maxLength: 12 })
    .filter((s) => Number.isNaN(Date.parse(s)))
    .map((v) => mut('eg.eventTime bad', (e) => ({ ...e, eventTime: v }))),
  fc
    .oneof(notString, fc.constantFrom('2', '', '1.0'))
    .map((v) => mut('eg.metadataVersion not "1"', (e) => ({ ...e, metadataVersion: v }))),
); // prettier-ignore
const badEgEvent: fc.Arbitrary<Bad> = fc.oneof(
  fc.tuple(egEvent, egMutation).map(([e, m]) => applyAll(e, [m])),
  fc
    .tuple(
      egEvent,
      fc.string({ maxLength: 30 }).filter((t) => !CE_TYPES.includes(t)),
    )
    .map(([e, t]) => ({ value: { ...e, eventType: t }, defects: ['eg.eventType unknown'] })),
  fc.tuple(egEvent, dataMutations).map(([e, ms]) => {
    const d = applyAll(e.data as Json, ms);
    return { value: { ...e, data: d.value }, defects: d.defects };
  }),
  fc.tuple(egAzureEvent, fc.array(azureMutation, { minLength: 1, maxLength: 2 })).map(([e, ms]) => {
    const d = applyAll(e.data as Json, ms);
    return { value: { ...e, data: d.value }, defects: d.defects };
  }),
  fc.tuple(egAzureEvent, egMutation).map(([e, m]) => applyAll(e, [m])),
  json.filter((v) => !isObject(v)).map((v) => ({ value: v, defects: ['eg event not an object'] })),
);

const CE_CONTENT_TYPES = [
  'application/cloudevents+json',
  'application/cloudevents+json; charset=utf-8',
  'APPLICATION/CloudEvents+JSON',
];
const BATCH_CONTENT_TYPES = [
  'application/cloudevents-batch+json',
  'application/cloudevents-batch+json; charset=utf-8',
];
const anyContentType = fc.oneof(
  fc.constantFrom(...CE_CONTENT_TYPES, ...BATCH_CONTENT_TYPES, 'application/json', 'text/plain', 'application/octet-stream',
    'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16',
    'application/cloudevents', 'application/cloudevents-batch', '*/*', ';', 'application/json; charset=nope'),
  printable,
); // prettier-ignore
const RESERVED_HEADERS = ['ce-id', 'ce-source', 'ce-type', 'ce-specversion', 'ce-time', 'ce-datacontenttype'];
const extraHeaders = fc.dictionary(
  fc.oneof(
    fc.stringMatching(/^ce-[a-z0-9]{1,24}$/).filter((n) => !RESERVED_HEADERS.includes(n)),
    fc.stringMatching(/^x-[a-z0-9-]{1,12}$/),
  ),
  printable,
  { maxKeys: 3 },
);

/** Binary mode header defects (the other ce-* headers stay valid). */
const headerDefect: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constantFrom('id', 'source', 'type', 'specversion').map((k) => mut(`ce-${k} header missing`, (h) => omit(h, `ce-${k}`))),
  fc.constantFrom('id', 'source', 'type').map((k) => mut(`ce-${k} header empty`, (h) => ({ ...h, [`ce-${k}`]: '' }))),
  printable.filter((t) => !CE_TYPES.includes(t)).map((t) => mut('ce-type header unknown', (h) => ({ ...h, 'ce-type': t }))),
  fc
    .constantFrom('2.0', '1', '1.0.0', '0.1')
    .map((v) => mut(`ce-specversion header ${JSON.stringify(v)}`, (h) => ({ ...h, 'ce-specversion': v }))),
); // prettier-ignore

const noEmptyArray = (v: unknown) => !(Array.isArray(v) && v.length === 0);

/** Requests the hub must refuse with a 4xx, across every ingest endpoint and mode. */
export function badIngestRequests(auth: FuzzAuth): fc.Arbitrary<FuzzRequest> {
  const bearer = fc.constantFrom(...auth.bearer).map((t) => ({ authorization: `Bearer ${t}` }));
  const egAuth = fc.constantFrom<{ path: string; headers: Record<string, string> }>(
    { path: '', headers: { 'aeg-sas-key': auth.eventGridKey } },
    { path: `?aeg-sas-key=${encodeURIComponent(auth.eventGridKey)}`, headers: {} },
  );
  const req = (kind: string, defects: string[], path: string, base: Record<string, string>, body: string | Uint8Array) =>
    extraHeaders.map((extra): FuzzRequest => ({ kind, defects, path, headers: { ...extra, ...base }, body })); // prettier-ignore

  const randomJson = fc
    .tuple(json.filter(noEmptyArray), anyContentType, fc.boolean(), bearer, egAuth, fc.constantFrom(...EG_PATHS))
    .chain(([v, ct, toCe, b, eg, egPath]) =>
      toCe
        ? req('random-json', ['random JSON'], CE_PATH, { ...b, 'content-type': ct }, JSON.stringify(v))
        : req('random-json', ['random JSON'], egPath + eg.path, { ...eg.headers, 'content-type': ct }, JSON.stringify(v)),
    ); // prettier-ignore
  const randomBytes = fc
    .tuple(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.string({ maxLength: 200 })), anyContentType, bearer)
    .chain(([body, ct, b]) =>
      req('random-bytes', ['random bytes'], CE_PATH, { ...b, 'content-type': ct }, body),
    );
  const structured = fc
    .tuple(badCeEvent, fc.constantFrom(...CE_CONTENT_TYPES), bearer)
    .chain(([e, ct, b]) =>
      req('ce-structured', e.defects, CE_PATH, { ...b, 'content-type': ct }, JSON.stringify(e.value)),
    );
  const batch = fc
    .tuple(batchWithBad(ceEvent, badCeEvent), fc.constantFrom(...BATCH_CONTENT_TYPES), bearer)
    .chain(([es, ct, b]) =>
      req('ce-batch', es.defects, CE_PATH, { ...b, 'content-type': ct }, JSON.stringify(es.value)),
    );
  const wrongMode = fc
    .tuple(ceEvent, anyContentType.filter((ct) => !/^application\/cloudevents(?!-batch)/i.test(ct)), bearer)
    .chain(([e, ct, b]) =>
      req('ce-wrong-content-type', [`structured body as ${ct}`], CE_PATH, { ...b, 'content-type': ct }, JSON.stringify(e)),
    ); // prettier-ignore
  const binary = fc
    .tuple(ceEvent, fc.oneof(dataMutations.map((ms) => ({ data: ms })), headerDefect.map((m) => ({ header: m }))), bearer)
    .chain(([e, defect, b]) => {
      let ce: Record<string, string> = {};
      for (const k of ['id', 'source', 'type', 'specversion', 'time']) ce[`ce-${k}`] = String(e[k]);
      if ('header' in defect) ce = defect.header.apply(ce) as Record<string, string>;
      const body = 'data' in defect ? applyAll(e.data as Json, defect.data) : { value: e.data, defects: [] };
      const defects = 'header' in defect ? [defect.header.label] : body.defects;
      return req('ce-binary', defects, CE_PATH, { ...b, ...ce, 'content-type': 'application/json' }, JSON.stringify(body.value));
    }); // prettier-ignore
  const eventGrid = fc
    .tuple(
      fc.oneof(batchWithBad(fc.oneof(egEvent, egAzureEvent), badEgEvent), json.filter((v) => !Array.isArray(v)).map((v) => ({ value: v, defects: ['eg body not an array'] }))),
      egAuth,
      fc.constantFrom(...EG_PATHS),
      fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/cloudevents-batch+json'),
    )
    .chain(([body, eg, p, ct]) =>
      req('event-grid', body.defects, p + eg.path, { ...eg.headers, 'content-type': ct }, JSON.stringify(body.value)),
    ); // prettier-ignore

  return fc.oneof(
    { arbitrary: randomJson, weight: 20 },
    { arbitrary: randomBytes, weight: 5 },
    { arbitrary: structured, weight: 20 },
    { arbitrary: batch, weight: 15 },
    { arbitrary: wrongMode, weight: 5 },
    { arbitrary: binary, weight: 15 },
    { arbitrary: eventGrid, weight: 20 },
  );
}
