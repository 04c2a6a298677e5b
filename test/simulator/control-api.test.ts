// The simulator's control API over real HTTP: fleet, scheduling, lifecycle, approvals, config,
// reset, OpenAPI, and bad input that must be refused without changing any state.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../src/simulator/server.js';
import { client, type Client } from '../helpers/sim-http.js';
import { waitFor } from '../helpers/wait.js';

let sim: Simulator;
let api: Client;

const FLEET = [
  { name: 'web-1', pool: 'web', availabilitySet: 'web-as', faultDomain: 0, tags: { role: 'web' } },
  { name: 'web-2', pool: 'web', availabilitySet: 'web-as', faultDomain: 1, tags: { role: 'web' } },
  { name: 'web-3', pool: 'web', availabilitySet: 'web-as2', faultDomain: 0, tags: { role: 'web' } },
  { name: 'db-1', pool: 'db', faultDomain: 1, tags: { role: 'db', env: 'prod' } },
  { name: 'ss-1', pool: 'batch', scaleSet: 'batch-ss' },
  { name: 'ss-2', pool: 'batch', scaleSet: 'batch-ss' },
];

beforeEach(async () => {
  sim = await createSimulator({ rateLimit: 0 });
  api = client(await sim.listen(0));
  for (const vm of FLEET) expect((await api.post('/sim/vms', vm)).status).toBe(201);
});

afterEach(async () => {
  await sim.close();
});

const schedule = async (body: Record<string, unknown>) => {
  const res = await api.post('/sim/events', body);
  expect(res.status, res.text).toBe(201);
  return res.body.events as {
    eventId: string;
    resources: string[];
    audience: string[];
    [k: string]: unknown;
  }[];
};
const sorted = (xs: string[]) => [...xs].sort();

describe('VMs', () => {
  it('creates, lists, gets and deletes VMs', async () => {
    const created = await api.post('/sim/vms', { name: 'solo', zone: '2', updateDomain: 3 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'solo',
      zone: '2',
      updateDomain: 3,
      faultDomain: 0,
      provider: 'azure',
    });
    expect(created.body.id).toMatch(/^[0-9a-f-]{36}$/);

    expect((await api.post('/sim/vms', { name: 'solo' })).status).toBe(409);
    const list = await api.get('/sim/vms');
    expect(list.body.vms.map((v: { name: string }) => v.name)).toEqual([...FLEET.map((v) => v.name), 'solo']);
    expect((await api.get('/sim/vms/solo')).body).toEqual(created.body);

    const deleted = await api.del('/sim/vms/solo');
    expect(deleted.status).toBe(200);
    expect(deleted.body.name).toBe('solo');
    const gone = await api.get('/sim/vms/solo');
    expect(gone.status).toBe(404);
    expect(gone.body.message).toContain('solo');
    expect((await api.get('/sim/vms')).body.vms).toHaveLength(FLEET.length);
  });

  it('deleting a VM cancels the events that only concerned it', async () => {
    const [ev] = await schedule({ type: 'Reboot', targets: { vms: ['db-1'] } });
    await api.del('/sim/vms/db-1');
    expect((await api.get(`/sim/events/${ev!.eventId}`)).body.status).toBe('Canceled');
  });
});

describe('scheduling', () => {
  it('targets named VMs; the audience includes availability-set siblings', async () => {
    const events = await schedule({ type: 'Reboot', targets: { vms: ['web-1'] }, notice: '15m' });
    expect(events).toHaveLength(1);
    expect(events[0]!.resources).toEqual(['web-1']);
    expect(sorted(events[0]!.audience)).toEqual(['web-1', 'web-2']);
    const doc = await api.get('/sim/vms/web-2/document');
    expect(doc.body.Events.map((e: { EventId: string }) => e.EventId)).toEqual([events[0]!.eventId]);
    expect((await api.get('/sim/vms/web-3/document')).body.Events).toEqual([]);
  });

  it('targets a pool with one event per availability set', async () => {
    const events = await schedule({ type: 'Freeze', targets: { pool: 'web' } });
    expect(events.map((e) => sorted(e.resources)).sort()).toEqual([['web-1', 'web-2'], ['web-3']]);
  });

  it('targets an availability set and fault domain together (AND)', async () => {
    const events = await schedule({
      type: 'Redeploy',
      targets: { availabilitySet: 'web-as', faultDomain: 1 },
    });
    expect(events).toHaveLength(1);
    expect(events[0]!.resources).toEqual(['web-2']);
    expect(sorted(events[0]!.audience)).toEqual(['web-1', 'web-2']);
  });

  it('targets a fault domain across groups, and tags', async () => {
    const byDomain = await schedule({ type: 'Freeze', targets: { faultDomain: 1 } });
    expect(byDomain.flatMap((e) => e.resources).sort()).toEqual(['db-1', 'web-2']);
    const byTag = await schedule({ type: 'Reboot', targets: { tags: { role: 'db', env: 'prod' } } });
    expect(byTag.map((e) => e.resources)).toEqual([['db-1']]);
  });

  it('publishes Terminate as one event per VM', async () => {
    const events = await schedule({ type: 'Terminate', targets: { scaleSet: 'batch-ss' } });
    expect(events.map((e) => e.resources).sort()).toEqual([['ss-1'], ['ss-2']]);
    const other = await schedule({ type: 'Reboot', targets: { scaleSet: 'batch-ss' } });
    expect(other).toHaveLength(1);
  });

  it('refuses targets that match no VM', async () => {
    const res = await api.post('/sim/events', { type: 'Reboot', targets: { pool: 'nobody' } });
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('nobody');
  });
});

describe('event lifecycle', () => {
  it('starts and completes an event, with 409 on the wrong state', async () => {
    const [ev] = await schedule({ type: 'Reboot', targets: { vms: ['db-1'] } });
    const id = ev!.eventId;
    expect((await api.post(`/sim/events/${id}/complete`)).status).toBe(409);
    const started = await api.post(`/sim/events/${id}/start`);
    expect(started.status).toBe(200);
    expect(started.body.status).toBe('Started');
    expect(started.body.startedAt).toBeTypeOf('string');

    for (const verb of ['start', 'cancel']) {
      const res = await api.post(`/sim/events/${id}/${verb}`);
      expect(res.status, verb).toBe(409);
      expect(res.body.message).toContain('Started');
    }
    expect((await api.post(`/sim/events/${id}/reschedule`, { notice: '1h' })).status).toBe(409);
    const doc = await api.get('/sim/vms/db-1/document');
    expect(doc.body.Events[0]).toMatchObject({ EventId: id, EventStatus: 'Started', NotBefore: '' });

    const done = await api.post(`/sim/events/${id}/complete`);
    expect(done.body.status).toBe('Completed');
    expect((await api.post(`/sim/events/${id}/complete`)).status).toBe(409);
    expect((await api.get('/sim/vms/db-1/document')).body.Events).toEqual([]);
    expect(
      (await api.get(`/sim/events/${id}`)).body.history.map((h: { status: string }) => h.status),
    ).toEqual(['Scheduled', 'Started', 'Completed']);
  });

  it('cancels and reschedules a Scheduled event', async () => {
    const [a, b] = [
      ...(await schedule({ type: 'Freeze', targets: { vms: ['db-1'] } })),
      ...(await schedule({ type: 'Freeze', targets: { vms: ['web-3'] } })),
    ];
    const canceled = await api.post(`/sim/events/${a!.eventId}/cancel`);
    expect(canceled.body.status).toBe('Canceled');
    expect((await api.post(`/sim/events/${a!.eventId}/start`)).status).toBe(409);
    expect((await api.post(`/sim/events/${a!.eventId}/reschedule`, { notice: '1h' })).status).toBe(409);

    const before = Date.now();
    const moved = await api.post(`/sim/events/${b!.eventId}/reschedule`, { notice: '2h' });
    expect(moved.status).toBe(200);
    const delta = Date.parse(moved.body.notBefore) - before;
    expect(delta).toBeGreaterThan(2 * 3600_000 - 2000);
    expect(delta).toBeLessThan(2 * 3600_000 + 2000);
    const at = await api.post(`/sim/events/${b!.eventId}/reschedule`, { notBefore: '2031-05-06T07:08:09Z' });
    expect(at.body.notBefore).toBe('2031-05-06T07:08:09.000Z');
    expect(
      (await api.get('/sim/events?status=Scheduled')).body.events.map((e: { eventId: string }) => e.eventId),
    ).toEqual([b!.eventId]);
    expect((await api.post('/sim/events/NOPE/cancel')).status).toBe(404);
  });

  it('user reboot and redeploy are User events with their own description', async () => {
    const reboot = await api.post('/sim/vms/db-1/reboot', { notice: '5m' });
    expect(reboot.status).toBe(201);
    expect(reboot.body).toMatchObject({
      type: 'Reboot',
      source: 'User',
      resources: ['db-1'],
      status: 'Scheduled',
    });
    expect(reboot.body.description).toMatch(/restarted as requested by authorized user/);
    const redeploy = await api.post('/sim/vms/web-3/redeploy', {});
    expect(redeploy.body).toMatchObject({ type: 'Redeploy', source: 'User' });
    expect(redeploy.body.description).toMatch(/redeployed as requested by authorized user/);
    const doc = await api.get('/sim/vms/db-1/document');
    expect(doc.body.Events[0]).toMatchObject({
      EventSource: 'User',
      EventType: 'Reboot',
      EventStatus: 'Scheduled',
    });
  });

  it('user reboot without a request body is accepted (the body is optional)', async () => {
    const res = await api.post('/sim/vms/db-1/reboot');
    expect(res.status, res.text).toBe(201);
    expect(res.body.source).toBe('User');
  });

  it('a host failure is published already Started with an empty NotBefore', async () => {
    const [ev] = await schedule({ type: 'Reboot', targets: { vms: ['web-1'] }, status: 'Started' });
    expect(ev).toMatchObject({
      status: 'Started',
      description: 'Virtual machine has encountered a failure.',
    });
    expect(ev!.notBefore).toBe(ev!.createdAt);
    expect(ev!.startedAt).toBe(ev!.createdAt);
    for (const vm of ['web-1', 'web-2']) {
      const doc = await api.get(`/sim/vms/${vm}/document`);
      expect(doc.body.Events).toEqual([
        expect.objectContaining({
          EventId: ev!.eventId,
          EventStatus: 'Started',
          NotBefore: '',
          Resources: ['web-1'],
        }),
      ]);
    }
  });
});

describe('approvals and requests', () => {
  it('records StartRequests, starts the approved event and logs metadata requests', async () => {
    const [ev] = await schedule({ type: 'Reboot', targets: { vms: ['web-1'] } });
    const read = await api.metadata('web-2');
    expect(read.status).toBe(200);
    const post = await api.metadata('web-2', {
      method: 'POST',
      json: { StartRequests: [{ EventId: ev!.eventId }, { EventId: 'bogus' }] },
    });
    expect(post.status).toBe(200);

    const approvals = (await api.get('/sim/approvals')).body.approvals;
    expect(approvals).toEqual([
      expect.objectContaining({ vm: 'web-2', eventId: ev!.eventId, result: 'approved' }),
      expect.objectContaining({ vm: 'web-2', eventId: 'bogus', result: 'unknown-event' }),
    ]);
    expect((await api.get(`/sim/approvals?event=${ev!.eventId}`)).body.approvals).toHaveLength(1);
    expect((await api.get(`/sim/events/${ev!.eventId}`)).body).toMatchObject({
      status: 'Started',
      approvedBy: ['web-2'],
    });

    const logged = await waitFor(async () => {
      const r = (await api.get('/sim/requests?vm=web-2')).body.requests as {
        method: string;
        status: number;
      }[];
      return r.length === 2 && r;
    });
    expect(logged.map((r) => `${r.method} ${r.status}`)).toEqual(['GET 200', 'POST 200']);
    expect((await api.get('/sim/requests?vm=web-1')).body.requests).toEqual([]);
  });
});

describe("approval mode 'all'", () => {
  it('records an approval from a sibling outside Resources as not-affected; it does not count', async () => {
    const [ev] = await schedule({ type: 'Reboot', targets: { vms: ['web-1'] }, approval: 'all' });
    const approve = (vm: string) =>
      api.metadata(vm, { method: 'POST', json: { StartRequests: [{ EventId: ev!.eventId }] } });
    expect((await approve('web-2')).status).toBe(200);
    expect((await api.get(`/sim/events/${ev!.eventId}`)).body).toMatchObject({
      status: 'Scheduled',
      approvedBy: [],
    });
    expect((await approve('web-1')).status).toBe(200);
    expect((await api.get(`/sim/events/${ev!.eventId}`)).body).toMatchObject({
      status: 'Started',
      approvedBy: ['web-1'],
    });
    const approvals = (await api.get(`/sim/approvals?event=${ev!.eventId}`)).body.approvals;
    expect(approvals.map((a: { vm: string; result: string }) => [a.vm, a.result])).toEqual([
      ['web-2', 'not-affected'],
      ['web-1', 'approved'],
    ]);
  });
});

describe('config, reset and OpenAPI', () => {
  it('PATCH /sim/config changes the time scale and the rest', async () => {
    const res = await api.patch('/sim/config', {
      timeScale: 60,
      rateLimit: 3,
      etag: true,
      enableDelay: '2m',
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      timeScale: 60,
      rateLimit: 3,
      etag: true,
      enableDelayMs: 120_000,
      strictApprovals: false,
    });
    expect((await api.get('/sim/config')).body).toEqual(res.body);
    const [ev] = await schedule({ type: 'Reboot', targets: { vms: ['db-1'] }, notice: '15m' });
    const notice = Date.parse(ev!.notBefore as string) - Date.parse(ev!.createdAt as string);
    expect(notice).toBeGreaterThan(14_000);
    expect(notice).toBeLessThan(16_000);
  });

  it('reset drops events, approvals and faults but keeps the fleet', async () => {
    const [ev] = await schedule({ type: 'Reboot', targets: { vms: ['web-1'] } });
    await api.metadata('web-1', { method: 'POST', json: { StartRequests: [{ EventId: ev!.eventId }] } });
    await api.put('/sim/vms/web-1/faults', { errorRate: 1 });
    const res = await api.post('/sim/reset', { fleet: false });
    expect(res.body).toEqual({ ok: true, vms: FLEET.length });
    expect((await api.get('/sim/events')).body.events).toEqual([]);
    expect((await api.get('/sim/approvals')).body.approvals).toEqual([]);
    expect((await api.get('/sim/faults')).body).toEqual({ vms: {} });
    expect((await api.metadata('web-1')).status).toBe(200);
    expect((await api.get('/sim/vms')).body.vms).toHaveLength(FLEET.length);
  });

  it('reset with fleet also deletes every VM', async () => {
    await schedule({ type: 'Reboot', targets: { vms: ['web-1'] } });
    expect((await api.post('/sim/reset', { fleet: true })).body).toEqual({ ok: true, vms: 0 });
    expect((await api.get('/sim/vms')).body.vms).toEqual([]);
    expect((await api.get('/sim/events')).body.events).toEqual([]);
  });

  it('reset without a request body is accepted (the body is optional)', async () => {
    await schedule({ type: 'Reboot', targets: { vms: ['web-1'] } });
    const res = await api.post('/sim/reset');
    expect(res.status, res.text).toBe(200);
    expect((await api.get('/sim/events')).body.events).toEqual([]);
  });

  it('serves a valid OpenAPI document', async () => {
    const res = await api.get('/sim/openapi.json');
    expect(res.status).toBe(200);
    const doc = JSON.parse(res.text) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths['/sim/events'] ?? {})).toEqual(expect.arrayContaining(['get', 'post']));
    expect(doc.paths['/sim/events/{id}/reschedule']).toHaveProperty('post');
    expect(doc.paths['/sim/openapi.json']).toBeUndefined();
  });
});

describe('bad input is refused and changes nothing', () => {
  const event = (extra: Record<string, unknown>) => ({
    type: 'Reboot',
    targets: { vms: ['web-1'] },
    ...extra,
  });
  class Raw {
    constructor(readonly text: string) {}
  }
  type Case = [name: string, route: string, body: unknown, status: number, message: RegExp];
  const cases: Case[] = [
    [
      'unknown VM in targets',
      'POST /sim/events',
      event({ targets: { vms: ['web-1', 'ghost'] } }),
      404,
      /ghost/,
    ],
    ['unknown VM to reboot', 'POST /sim/vms/ghost/reboot', {}, 404, /ghost/],
    [
      'bad event type',
      'POST /sim/events',
      event({ type: 'Explode' }),
      400,
      /^body\/type: must be one of Freeze, Reboot, Redeploy, Preempt, Terminate, system-reboot, .*spot-termination$/,
    ],
    [
      'bad approval mode',
      'POST /sim/events',
      event({ approval: 'some' }),
      400,
      /^body\/approval: must be one of any, all$/,
    ],
    [
      'negative notice',
      'POST /sim/events',
      event({ notice: -5 }),
      400,
      /^body\/notice: must be a non-negative number of seconds or a duration string/,
    ],
    [
      'bad malformedKind',
      'PUT /sim/faults',
      { malformedRate: 1, malformedKind: 'wrong' },
      400,
      /^body\/malformedKind: must be one of truncated, garbage, empty, wrong-shape$/,
    ],
    [
      'bad endpoint in a fault spec',
      'PUT /sim/faults',
      { errorRate: 1, endpoints: ['scheduledevents', 'imds'] },
      400,
      /^body\/endpoints\/1: must be one of scheduledevents, instance, legacy, aws, aws-token, gcp, alibaba, alibaba-token, tencent$/,
    ],
    [
      'bad status filter',
      'GET /sim/events?status=Done',
      undefined,
      400,
      /^querystring\/status: must be one of Scheduled, Started, Completed, Canceled$/,
    ],
    [
      'enable delay as a negative number',
      'PATCH /sim/config',
      { enableDelay: -1 },
      400,
      /^body\/enableDelay: must be a non-negative number of seconds or a duration string/,
    ],
    ['bad duration string', 'POST /sim/events', event({ notice: '15 minutes' }), 400, /notice.*15 minutes/],
    ['bad startedFor', 'POST /sim/events', event({ startedFor: 'forever' }), 400, /startedFor/],
    [
      'faultDomain as a string in targets',
      'POST /sim/events',
      event({ targets: { faultDomain: '1' } }),
      400,
      /faultDomain/,
    ],
    [
      'faultDomain as a string on a VM',
      'POST /sim/vms',
      { name: 'new', faultDomain: '1' },
      400,
      /faultDomain/,
    ],
    ['unknown field', 'POST /sim/events', event({ colour: 'red' }), 400, /colour/],
    ['unknown field on a VM', 'POST /sim/vms', { name: 'new', colour: 'red' }, 400, /colour/],
    ['malformed JSON body', 'POST /sim/events', new Raw('{"type":"Reboot","targets":'), 400, /JSON/],
    ['empty targets', 'POST /sim/events', event({ targets: {} }), 400, /targets/],
    ['oversized body', 'POST /sim/events', event({ description: 'x'.repeat(1_100_000) }), 413, /too large/i],
    ['bad config value', 'PATCH /sim/config', { timeScale: 60, enableDelay: 'soon' }, 400, /enableDelay/],
    ['zero time scale', 'PATCH /sim/config', { timeScale: 0 }, 400, /timeScale/],
    ['bad VM name', 'POST /sim/vms', { name: 'no spaces' }, 400, /name/],
  ];

  const snapshot = async () => ({
    events: (await api.get('/sim/events')).text,
    vms: (await api.get('/sim/vms')).text,
    config: (await api.get('/sim/config')).text,
    faults: (await api.get('/sim/faults')).text,
  });

  for (const [name, route, body, status, message] of cases) {
    it(`refuses ${name}`, async () => {
      await schedule({ type: 'Freeze', targets: { vms: ['db-1'] } });
      const before = await snapshot();
      const [method, path] = route.split(' ') as [string, string];
      const res = await api.send(
        method,
        path,
        body instanceof Raw ? { raw: body.text } : body === undefined ? {} : { json: body },
      );
      expect(res.status, res.text).toBe(status);
      expect(res.body, res.text).toBeTypeOf('object');
      expect(res.body.message).toMatch(message);
      expect(await snapshot()).toEqual(before);
    });
  }

  it('refuses a bad reschedule without touching the event', async () => {
    const [ev] = await schedule({ type: 'Freeze', targets: { vms: ['db-1'] } });
    const before = await snapshot();
    for (const body of [
      { notice: '15 minutes' },
      {},
      { notBefore: 'tomorrow' },
      { notice: '1h', extra: 1 },
    ]) {
      const res = await api.post(`/sim/events/${ev!.eventId}/reschedule`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.message).toMatch(/notice|notBefore|extra|properties/);
    }
    expect(await snapshot()).toEqual(before);
  });
});
