// The Azure metadata endpoints over real HTTP: what each api-version shows, the 400s, approvals,
// the legacy service, instance metadata, the rate limit, the enable delay and ETags.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRfc1123 } from '../../src/core/time.js';
import { SCHEDULED_EVENTS_VERSIONS } from '../../src/simulator/azure-versions.js';
import { SE, startSim, type TestSim } from '../helpers/sim.js';

let t: TestSim;
beforeEach(async () => {
  t = await startSim();
});
afterEach(async () => {
  await t.close();
});

const doc = async (vm: string | null, version = '2020-07-01') => {
  const res = await t.imds(vm, SE + version);
  expect(res.status).toBe(200);
  return (await res.json()) as { DocumentIncarnation: number; Events: Record<string, unknown>[] };
};

function scheduleAll() {
  const c = t.sim.controller;
  for (const type of ['Freeze', 'Reboot', 'Redeploy', 'Preempt', 'Terminate']) {
    c.schedule({ type, targets: { vms: ['web-01'] } });
  }
}

describe('Scheduled Events documents', () => {
  it('starts at an empty document with an integer incarnation', async () => {
    const d = await doc('web-01');
    expect(d).toEqual({ DocumentIncarnation: 1, Events: [] });
  });

  it.each([
    ['2017-03-01', ['Freeze', 'Reboot', 'Redeploy'], []],
    ['2017-08-01', ['Freeze', 'Reboot', 'Redeploy'], []],
    ['2017-11-01', ['Freeze', 'Reboot', 'Redeploy', 'Preempt'], []],
    ['2019-01-01', ['Freeze', 'Reboot', 'Redeploy', 'Preempt', 'Terminate'], []],
    ['2019-04-01', ['Freeze', 'Reboot', 'Redeploy', 'Preempt', 'Terminate'], ['Description']],
    ['2019-08-01', ['Freeze', 'Reboot', 'Redeploy', 'Preempt', 'Terminate'], ['Description', 'EventSource']],
    [
      '2020-07-01',
      ['Freeze', 'Reboot', 'Redeploy', 'Preempt', 'Terminate'],
      ['Description', 'EventSource', 'DurationInSeconds'],
    ],
  ])('api-version %s shows types %j with extra fields %j', async (version, types, extra) => {
    scheduleAll();
    const d = await doc('web-01', version);
    expect(d.Events.map((e) => e.EventType).sort()).toEqual([...types].sort());
    const base = ['EventId', 'EventStatus', 'EventType', 'NotBefore', 'ResourceType', 'Resources'];
    for (const e of d.Events) {
      expect(Object.keys(e).sort()).toEqual([...base, ...extra].sort());
      expect(e.ResourceType).toBe('VirtualMachine');
      expect(e.Resources).toEqual([version === '2017-03-01' ? '_web-01' : 'web-01']);
    }
  });

  it('covers every version the simulator knows', () => {
    expect(SCHEDULED_EVENTS_VERSIONS.map((v) => v.version)).toEqual([
      '2017-03-01',
      '2017-08-01',
      '2017-11-01',
      '2019-01-01',
      '2019-04-01',
      '2019-08-01',
      '2020-07-01',
    ]);
  });

  it('shows NotBefore in RFC 1123 while Scheduled and "" once Started, with a stable EventId', async () => {
    const [e] = t.sim.controller.schedule({ type: 'Reboot', targets: { vms: ['solo'] }, notice: '15m' });
    const before = await doc('solo');
    const ev = before.Events[0]!;
    expect(ev.NotBefore).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    expect(Math.abs(parseRfc1123(ev.NotBefore as string) - (Date.now() + 15 * 60_000))).toBeLessThan(2000);
    expect(ev).toMatchObject({
      EventId: e!.eventId,
      EventStatus: 'Scheduled',
      EventSource: 'Platform',
      DurationInSeconds: -1,
    });
    t.sim.controller.start(e!.eventId);
    const after = await doc('solo');
    expect(after.Events[0]).toMatchObject({ EventId: e!.eventId, EventStatus: 'Started', NotBefore: '' });
    expect(after.DocumentIncarnation).toBe(before.DocumentIncarnation + 1);
    t.sim.controller.complete(e!.eventId);
    const done = await doc('solo');
    expect(done.Events).toEqual([]); // never a "Completed" status
    expect(done.DocumentIncarnation).toBe(after.DocumentIncarnation + 1);
  });

  it('shows an event to every VM of the availability set, naming only the affected VMs', async () => {
    t.sim.controller.schedule({ type: 'Freeze', targets: { vms: ['web-01'] } });
    const [a, b, solo] = await Promise.all([doc('web-01'), doc('web-02'), doc('solo')]);
    expect(a.Events).toEqual(b.Events);
    expect(a.Events[0]!.Resources).toEqual(['web-01']);
    expect(solo.Events).toEqual([]);
  });

  it('serves the default VM (the first) on the unprefixed path', async () => {
    t.sim.controller.schedule({ type: 'Freeze', targets: { vms: ['web-01'] } });
    expect((await doc(null)).Events).toHaveLength(1);
  });

  it('the unprefixed 404 says whether the default VM is missing or the fleet is empty', async () => {
    await t.close();
    t = await startSim({ defaultVm: 'ghost' });
    let res = await t.imds(null, SE + '2020-07-01');
    expect(res.status).toBe(404);
    expect((await res.json()).error).toBe('Not found. The default VM "ghost" (--default-vm) does not exist');
    expect((await t.control('POST', '/reset', { fleet: true })).status).toBe(200);
    await t.close();
    t = await startSim();
    await t.control('POST', '/reset', { fleet: true });
    res = await t.imds(null, SE + '2020-07-01');
    expect(res.status).toBe(404);
    expect((await res.json()).error).toBe('Not found. The simulator has no VMs: the fleet is empty');
  });

  it('answers 404 for an unknown VM prefix', async () => {
    const res = await t.imds('ghost', SE + '2020-07-01');
    expect(res.status).toBe(404);
    expect((await res.json()).error).toMatch(/ghost/);
  });
});

describe('Scheduled Events request validation', () => {
  const bad = async (res: Response, pattern: RegExp) => {
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const body = await res.json();
    expect(body.error).toMatch(pattern);
    return body;
  };

  it('400 without the Metadata header, for GET and POST', async () => {
    await bad(
      await t.imds('web-01', SE + '2020-07-01', { headers: { 'x-no-metadata': '1' } }),
      /Required metadata header/,
    );
    await bad(
      await t.imds('web-01', SE + '2020-07-01', { headers: { Metadata: 'false' } }),
      /Required metadata header/,
    );
    await bad(
      await t.imds('web-01', SE + '2020-07-01', {
        method: 'POST',
        headers: { 'x-no-metadata': '1' },
        body: '{}',
      }),
      /Required metadata header/,
    );
  });

  it('400 with newest-versions for a missing or unknown api-version', async () => {
    const body = await bad(await t.imds('web-01', '/metadata/scheduledevents'), /api-version is invalid/);
    expect(body['newest-versions']).toEqual(['2020-07-01', '2019-08-01', '2019-04-01']);
    await bad(await t.imds('web-01', SE + '2021-01-01'), /api-version is invalid/);
    await bad(await t.imds('web-01', SE + 'latest'), /api-version is invalid/);
  });

  it('400 for a duplicated query parameter, even with identical values', async () => {
    await bad(await t.imds('web-01', `${SE}2020-07-01&api-version=2020-07-01`), /duplicated/);
  });

  it('400 for an X-Forwarded-For header', async () => {
    await bad(
      await t.imds('web-01', SE + '2020-07-01', { headers: { 'X-Forwarded-For': '10.0.0.1' } }),
      /X-Forwarded-For/,
    );
  });

  it('405 for other verbs', async () => {
    expect((await t.imds('web-01', SE + '2020-07-01', { method: 'PUT', body: '{}' })).status).toBe(405);
    expect((await t.imds('web-01', SE + '2020-07-01', { method: 'DELETE' })).status).toBe(405);
  });

  it('does not enforce the header on the 2017-03-01 preview', async () => {
    expect((await t.imds('web-01', SE + '2017-03-01', { headers: { 'x-no-metadata': '1' } })).status).toBe(
      200,
    );
  });
});

describe('StartRequests approvals', () => {
  const post = (vm: string, body: string, type = 'application/json') =>
    t.imds(vm, SE + '2020-07-01', { method: 'POST', headers: { 'content-type': type }, body });

  it('approves from a sibling VM of the availability set and starts the event for all its resources', async () => {
    const [e] = t.sim.controller.schedule({ type: 'Reboot', targets: { vms: ['web-01'] } });
    const res = await post('web-02', JSON.stringify({ StartRequests: [{ EventId: e!.eventId }] }));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect((await doc('web-01')).Events[0]).toMatchObject({ EventStatus: 'Started', NotBefore: '' });
    // Posting again for an event that already started is still 200.
    expect((await post('web-01', JSON.stringify({ StartRequests: [{ EventId: e!.eventId }] }))).status).toBe(
      200,
    );
    const approvals = (await (await t.control('GET', `/approvals?event=${e!.eventId}`)).json()).approvals;
    expect(approvals.map((a: { vm: string; result: string }) => [a.vm, a.result])).toEqual([
      ['web-02', 'approved'],
      ['web-01', 'not-scheduled'],
    ]);
    expect(Date.parse(approvals[0].at)).toBeGreaterThan(Date.now() - 5000);
  });

  it("in 'all' mode waits for every affected VM of the availability set", async () => {
    const [e] = t.sim.controller.schedule({ type: 'Reboot', targets: { pool: 'web' }, approval: 'all' });
    const body = JSON.stringify({ DocumentIncarnation: 2, StartRequests: [{ EventId: e!.eventId }] });
    expect((await post('web-01', body)).status).toBe(200);
    expect((await doc('web-02')).Events[0]!.EventStatus).toBe('Scheduled');
    expect((await post('web-02', body, 'application/x-www-form-urlencoded')).status).toBe(200);
    expect((await doc('web-02')).Events[0]!.EventStatus).toBe('Started');
  });

  it('accepts an unknown EventId with 200 and changes nothing, but records it', async () => {
    const [e] = t.sim.controller.schedule({ type: 'Reboot', targets: { vms: ['solo'] } });
    const before = await doc('solo');
    expect((await post('solo', JSON.stringify({ StartRequests: [{ EventId: 'DEADBEEF' }] }))).status).toBe(
      200,
    );
    expect(await doc('solo')).toEqual(before);
    expect(t.sim.controller.approvals()).toMatchObject([
      { vm: 'solo', eventId: 'DEADBEEF', result: 'unknown-event' },
    ]);
    expect(t.sim.controller.get(e!.eventId).status).toBe('Scheduled');
  });

  it('with strictApprovals, rejects a request naming a foreign or unknown id and approves nothing', async () => {
    await t.close();
    t = await startSim({ strictApprovals: true });
    const [own] = t.sim.controller.schedule({ type: 'Reboot', targets: { vms: ['solo'] } });
    const [other] = t.sim.controller.schedule({ type: 'Reboot', targets: { vms: ['web-01'] } });
    const res = await post(
      'solo',
      JSON.stringify({ StartRequests: [{ EventId: own!.eventId }, { EventId: other!.eventId }] }),
    );
    expect(res.status).toBe(400);
    expect((await res.json()).error).toContain(other!.eventId);
    expect(t.sim.controller.get(own!.eventId).status).toBe('Scheduled');
    expect(t.sim.controller.approvals()).toMatchObject([
      { vm: 'solo', eventId: other!.eventId, result: 'rejected' },
    ]);
    expect((await post('solo', JSON.stringify({ StartRequests: [{ EventId: own!.eventId }] }))).status).toBe(
      200,
    );
    expect(t.sim.controller.get(own!.eventId).status).toBe('Started');
  });

  it.each([
    ['not JSON', '{"StartRequests": ['],
    ['empty body', ''],
    ['an array', '[]'],
    ['no StartRequests', '{}'],
    ['StartRequests not an array', '{"StartRequests": {"EventId": "x"}}'],
    ['empty StartRequests', '{"StartRequests": []}'],
    ['EventId not a string', '{"StartRequests": [{"EventId": 7}]}'],
    ['blank EventId', '{"StartRequests": [{"EventId": " "}]}'],
    ['bad DocumentIncarnation', '{"DocumentIncarnation": [], "StartRequests": [{"EventId": "x"}]}'],
  ])('400 for a malformed body: %s, and nothing is approved', async (_name, body) => {
    const [e] = t.sim.controller.schedule({ type: 'Reboot', targets: { vms: ['solo'] } });
    const res = await post('solo', body);
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatch(/StartRequests/);
    expect(t.sim.controller.get(e!.eventId).status).toBe('Scheduled');
    expect(t.sim.controller.approvals()).toEqual([]);
  });
});

describe('legacy 2015 endpoints', () => {
  it('serves {} until five minutes (scaled) before a reboot of this VM, then the event', async () => {
    const c = t.sim.controller;
    c.timeScale = 60; // 5 min → 5 s
    const [e] = c.schedule({ type: 'Reboot', targets: { vms: ['web-01'] }, notice: '10m' });
    const legacy = async (vm: string) =>
      (await t.imds(vm, '/metadata/v1/maintenance', { headers: { 'x-no-metadata': '1' } })).json();
    expect(await legacy('web-01')).toEqual({});
    c.reschedule(e!.eventId, { notice: '4m' });
    const body = await legacy('web-01');
    expect(body).toEqual({
      EventID: e!.eventId.toLowerCase(),
      EventCreationTime: expect.stringMatching(/^\d{1,2}\/\d{1,2}\/\d{4} \d{1,2}:\d{2}:\d{2} [AP]M$/),
    });
    expect(await legacy('web-02')).toEqual({}); // a sibling's reboot is not this VM's
  });

  it('serves InstanceInfo under both spellings', async () => {
    for (const path of ['/metadata/v1/InstanceInfo', '/metadata/v1/instanceInfo']) {
      expect(await (await t.imds('web-02', path)).json()).toEqual({ ID: '_web-02', UD: '0', FD: '1' });
    }
  });
});

describe('instance metadata', () => {
  it('identifies the VM', async () => {
    const vm = t.sim.controller.fleet.require('web-01');
    const res = await t.imds('web-01', '/metadata/instance?api-version=2021-02-01');
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.compute).toMatchObject({
      name: 'web-01',
      vmId: vm.id,
      zone: '1',
      platformFaultDomain: '0',
      platformUpdateDomain: '0',
      resourceGroupName: 'forewarn-sim',
      tags: 'role:web',
      tagsList: [{ name: 'role', value: 'web' }],
    });
  });

  it('walks sub-paths and serves leaves as text', async () => {
    const vm = t.sim.controller.fleet.require('solo');
    const res = await t.imds('solo', '/metadata/instance/compute/vmId?api-version=2021-02-01&format=text');
    expect(await res.text()).toBe(vm.id);
    expect((await t.imds('solo', '/metadata/instance/compute/nope?api-version=2021-02-01')).status).toBe(404);
    expect(
      (await t.imds('solo', '/metadata/instance/compute?api-version=2021-02-01&format=text')).status,
    ).toBe(400);
  });

  it('omits tagsList before 2019-06-04 and requires the header and a version', async () => {
    const old = await (await t.imds('web-01', '/metadata/instance?api-version=2019-03-11')).json();
    expect(old.compute.tagsList).toBeUndefined();
    expect(
      (
        await t.imds('web-01', '/metadata/instance?api-version=2021-02-01', {
          headers: { 'x-no-metadata': '1' },
        })
      ).status,
    ).toBe(400);
    const res = await t.imds('web-01', '/metadata/instance');
    expect(res.status).toBe(400);
    expect((await res.json())['newest-versions']).toContain('2025-04-07');
  });
});

describe('service behaviour', () => {
  it('answers 429 past 5 requests per second per VM, independently per VM', async () => {
    await t.close();
    t = await startSim({ rateLimit: 5 });
    const statuses = [];
    for (let i = 0; i < 7; i++) statuses.push((await t.imds('web-01', SE + '2020-07-01')).status);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    expect((await t.imds('web-02', SE + '2020-07-01')).status).toBe(200);
    const res = await t.imds('web-01', SE + '2020-07-01');
    expect(await res.json()).toEqual({ error: 'Too many requests' });
  });

  it('delays only the first call per VM when the enable delay is on', async () => {
    await t.close();
    t = await startSim({ enableDelay: '30s', timeScale: 100 }); // 300 ms real
    let start = performance.now();
    await doc('web-01');
    expect(performance.now() - start).toBeGreaterThanOrEqual(280);
    start = performance.now();
    await doc('web-01');
    expect(performance.now() - start).toBeLessThan(280);
  });

  it('counts the first call once per VM across both mounts, and again after a reset', async () => {
    await t.close();
    t = await startSim({ enableDelay: '30s', timeScale: 100 }); // 300 ms real
    const timed = async (vm: string | null) => {
      const start = performance.now();
      await doc(vm);
      return performance.now() - start;
    };
    expect(await timed('web-01')).toBeGreaterThanOrEqual(280);
    // The unprefixed path serves the same VM (web-01): its service is already enabled.
    expect(await timed(null)).toBeLessThan(280);
    expect(await timed('web-02')).toBeGreaterThanOrEqual(280);
    expect((await t.control('POST', '/reset')).status).toBe(200);
    expect(await timed(null)).toBeGreaterThanOrEqual(280);
    expect(await timed('web-01')).toBeLessThan(280);
    // A deleted VM created again is a new VM: its first call waits again.
    expect((await t.control('DELETE', '/vms/web-02')).status).toBe(200);
    expect((await t.control('POST', '/vms', { name: 'web-02' })).status).toBe(201);
    expect(await timed('web-02')).toBeGreaterThanOrEqual(280);
  });

  it('sends an ETag and answers 304 when asked, only with the option on', async () => {
    expect((await t.imds('web-01', SE + '2020-07-01')).headers.get('etag')).toBeNull();
    await t.close();
    t = await startSim({ etag: true });
    const first = await t.imds('web-01', SE + '2020-07-01');
    const tag = first.headers.get('etag')!;
    expect(tag).toBeTruthy();
    expect((await t.imds('web-01', SE + '2020-07-01', { headers: { 'If-None-Match': tag } })).status).toBe(
      304,
    );
    t.sim.controller.schedule({ type: 'Freeze', targets: { vms: ['web-01'] } });
    expect((await t.imds('web-01', SE + '2020-07-01', { headers: { 'If-None-Match': tag } })).status).toBe(
      200,
    );
  });

  it('logs each metadata request for tests and operators', async () => {
    await doc('web-02');
    await t.imds('web-02', SE + 'nope');
    const log = (await (await t.control('GET', '/requests?vm=web-02')).json()).requests;
    expect(log.map((r: { status: number; method: string }) => [r.method, r.status])).toEqual([
      ['GET', 200],
      ['GET', 400],
    ]);
  });
});
