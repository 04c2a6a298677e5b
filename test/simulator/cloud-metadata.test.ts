// The AWS, GCP, Alibaba and Tencent metadata servers of the simulator, over real HTTP: each
// cloud's request rules and document shapes, and the control API for VMs of every cloud.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gcpEtag } from '../../src/simulator/gcp-metadata.js';
import { startSim, type TestSim } from '../helpers/sim.js';

let t: TestSim;
beforeEach(async () => {
  t = await startSim();
  const fleet = t.sim.controller.fleet;
  fleet.add({ name: 'ec2-01', provider: 'aws', httpTokens: 'required' });
  fleet.add({ name: 'ec2-02', provider: 'aws' });
  fleet.add({ name: 'gce-01', provider: 'gcp' });
  fleet.add({ name: 'ecs-01', provider: 'alibaba', httpTokens: 'required' });
  fleet.add({ name: 'cvm-01', provider: 'tencent' });
});
afterEach(() => t.close());

const get = (vm: string, path: string, headers: Record<string, string> = {}, method = 'GET') =>
  fetch(`${t.url}/vm/${vm}${path}`, { method, headers });
const TTL = 'X-aws-ec2-metadata-token-ttl-seconds';
async function awsToken(vm = 'ec2-01', ttl = '60') {
  const res = await get(vm, '/latest/api/token', { [TTL]: ttl }, 'PUT');
  expect(res.status).toBe(200);
  return res.text();
}

describe('AWS IMDS', () => {
  it.each([
    ['no TTL', {}, '/latest/api/token', 400],
    ['TTL 0', { [TTL]: '0' }, '/latest/api/token', 400],
    ['TTL above 6 h', { [TTL]: '21601' }, '/latest/api/token', 400],
    ['X-Forwarded-For', { [TTL]: '60', 'X-Forwarded-For': '10.0.0.9' }, '/latest/api/token', 403],
    ['a version path', { [TTL]: '60' }, '/2021-03-23/api/token', 403],
  ])('refuses a token PUT with %s', async (_name, headers, path, status) => {
    const res = await get('ec2-01', path, headers as Record<string, string>, 'PUT');
    expect(res.status).toBe(status);
    expect(await res.text()).toMatch(new RegExp(`<h1>${status} - `));
  });

  it('issues a token with its TTL, and reports the remaining TTL on reads', async () => {
    const res = await get('ec2-01', '/latest/api/token', { [TTL]: '21600' }, 'PUT');
    expect(res.headers.get(TTL)).toBe('21600');
    const token = await res.text();
    expect(Buffer.from(token, 'base64')).toHaveLength(32);
    const read = await get('ec2-01', '/latest/meta-data/instance-id', { 'X-aws-ec2-metadata-token': token });
    expect(read.status).toBe(200);
    expect(Number(read.headers.get(TTL))).toBeGreaterThan(21590);
    expect(read.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await read.text()).toMatch(/^i-0[0-9a-f]{16}$/);
  });

  it('requires a token where HttpTokens=required, takes v1 reads where optional, refuses foreign tokens', async () => {
    expect((await get('ec2-01', '/latest/meta-data/instance-id')).status).toBe(401);
    expect((await get('ec2-02', '/latest/meta-data/instance-id')).status).toBe(200);
    const other = await awsToken('ec2-02');
    expect(
      (await get('ec2-01', '/latest/meta-data/instance-id', { 'X-aws-ec2-metadata-token': other })).status,
    ).toBe(401);
    expect(
      (await get('ec2-02', '/latest/meta-data/instance-id', { 'X-aws-ec2-metadata-token': 'nope' })).status,
    ).toBe(401);
    const revoked = await awsToken('ec2-01');
    expect((await t.control('DELETE', '/vms/ec2-01/tokens')).status).toBe(200);
    const after = await get('ec2-01', '/latest/meta-data/instance-id', {
      'X-aws-ec2-metadata-token': revoked,
    });
    expect(after.status).toBe(401);
  });

  it('lists active events, then moves them to history as completed or canceled', async () => {
    const c = t.sim.controller;
    const [done] = c.schedule({
      type: 'instance-reboot',
      targets: { vms: ['ec2-02'] },
      notice: '1h',
      startedFor: '1m',
    });
    const [dropped] = c.schedule({
      type: 'instance-stop',
      targets: { vms: ['ec2-02'] },
      notBefore: '2099-03-01T02:00:00Z',
    });
    const scheduled = async () =>
      JSON.parse(await (await get('ec2-02', '/latest/meta-data/events/maintenance/scheduled')).text());
    const active = await scheduled();
    expect(active).toEqual([
      {
        NotBefore: expect.stringMatching(/^\d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/),
        Code: 'instance-reboot',
        Description: 'scheduled reboot',
        EventId: done!.eventId,
        NotAfter: expect.any(String),
        State: 'active',
      },
      expect.objectContaining({
        EventId: dropped!.eventId,
        NotBefore: '1 Mar 2099 02:00:00 GMT',
        State: 'active',
      }),
    ]);
    expect(Date.parse(active[0].NotAfter) - Date.parse(active[0].NotBefore)).toBe(60_000);
    c.start(done!.eventId);
    c.complete(done!.eventId);
    c.cancel(dropped!.eventId);
    expect(await scheduled()).toEqual([]);
    const history = JSON.parse(
      await (await get('ec2-02', '/latest/meta-data/events/maintenance/history')).text(),
    );
    expect(history.map((e: Record<string, string>) => [e.EventId, e.State, e.Description])).toEqual([
      [done!.eventId, 'completed', '[Completed] scheduled reboot'],
      [dropped!.eventId, 'canceled', '[Canceled] scheduled stop'],
    ]);
  });

  it('serves spot items only while a notice is out, with times fixed when issued', async () => {
    const path = '/latest/meta-data/spot/instance-action';
    const missing = await get('ec2-02', path);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('<title>404 - Not Found</title>');
    const [a] = t.sim.controller.schedule({ type: 'spot-terminate', targets: { vms: ['ec2-02'] } });
    const first = await (await get('ec2-02', path)).text();
    await new Promise((r) => setTimeout(r, 1100));
    expect(await (await get('ec2-02', path)).text()).toBe(first);
    expect(JSON.parse(first)).toEqual({
      action: 'terminate',
      time: new Date(Math.floor(a!.notBefore / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
    });
    expect(await (await get('ec2-02', '/latest/meta-data/spot/termination-time')).text()).toBe(
      JSON.parse(first).time,
    );
    t.sim.controller.schedule({ type: 'rebalance', targets: { vms: ['ec2-02'] } });
    const rebalance = JSON.parse(
      await (await get('ec2-02', '/latest/meta-data/events/recommendations/rebalance')).text(),
    );
    expect(rebalance.noticeTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });
});

describe('GCP metadata server', () => {
  const G = { 'Metadata-Flavor': 'Google' };
  const key = '/computeMetadata/v1/instance/maintenance-event';

  it('refuses requests without Metadata-Flavor or with X-Forwarded-For, and bad query values', async () => {
    const bare = await get('gce-01', key);
    expect(bare.status).toBe(403);
    expect(await bare.text()).toContain('Missing required header "Metadata-Flavor": "Google"');
    expect((await get('gce-01', key, { ...G, 'X-Forwarded-For': '1.2.3.4' })).status).toBe(403);
    expect((await get('gce-01', `${key}?wait_for_change=maybe`, G)).status).toBe(400);
    expect((await get('gce-01', `${key}?wait_for_change=true&timeout_sec=-1`, G)).status).toBe(400);
    expect((await get('gce-01', '/computeMetadata/v1/instance/nothing-here', G)).status).toBe(404);
  });

  it('sends the value with Metadata-Flavor and an ETag; a timed-out wait returns the same value and ETag', async () => {
    const now = await get('gce-01', key, G);
    expect(now.headers.get('metadata-flavor')).toBe('Google');
    expect(now.headers.get('etag')).toBe(gcpEtag('NONE'));
    expect(await now.text()).toBe('NONE');
    const waited = await get(
      'gce-01',
      `${key}?wait_for_change=true&last_etag=${gcpEtag('NONE')}&timeout_sec=1`,
      G,
    );
    expect([await waited.text(), waited.headers.get('etag')]).toEqual(['NONE', gcpEtag('NONE')]);
    // A stale last_etag answers at once.
    t.sim.controller.schedule({ type: 'terminate', targets: { vms: ['gce-01'] } });
    const stale = await get(
      'gce-01',
      `${key}?wait_for_change=true&last_etag=${gcpEtag('NONE')}&timeout_sec=60`,
      G,
    );
    expect(await stale.text()).toBe('TERMINATE_ON_HOST_MAINTENANCE');
  });

  it('serves upcoming-maintenance as JSON while a window is pending or ongoing', async () => {
    const path = '/computeMetadata/v1/instance/upcoming-maintenance?alt=json';
    expect(await (await get('gce-01', path, G)).json()).toEqual({});
    const [a] = t.sim.controller.schedule({
      type: 'upcoming-maintenance',
      targets: { vms: ['gce-01'] },
      notice: '2d',
    });
    expect(await (await get('gce-01', path, G)).json()).toMatchObject({
      can_reschedule: 'true',
      maintenance_status: 'PENDING',
      type: 'SCHEDULED',
      maintenance_reasons: ['PLANNED_UPDATE'],
    });
    t.sim.controller.start(a!.eventId);
    expect(await (await get('gce-01', path, G)).json()).toMatchObject({ maintenance_status: 'ONGOING' });
  });
});

describe('Alibaba and Tencent metadata', () => {
  it('Alibaba hardened mode: token PUT, then reads with it', async () => {
    const path = '/latest/meta-data/instance/spot/termination-time';
    expect((await get('ecs-01', path)).status).toBe(401);
    const res = await get(
      'ecs-01',
      '/latest/api/token',
      { 'X-aliyun-ecs-metadata-token-ttl-seconds': '60' },
      'PUT',
    );
    const token = await res.text();
    expect((await get('ecs-01', path, { 'X-aliyun-ecs-metadata-token': token })).status).toBe(404);
    t.sim.controller.schedule({ type: 'spot-termination', targets: { vms: ['ecs-01'] } });
    const spot = await get('ecs-01', path, { 'X-aliyun-ecs-metadata-token': token });
    expect(await spot.text()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('Tencent: the termination time in UTC+8 without a zone', async () => {
    const [a] = t.sim.controller.schedule({
      type: 'spot-termination',
      targets: { vms: ['cvm-01'] },
      notBefore: '2026-03-07T04:05:33Z',
    });
    expect(a!.provider).toBe('tencent');
    expect(await (await get('cvm-01', '/latest/meta-data/spot/termination-time')).text()).toBe(
      '2026-03-07 12:05:33',
    );
  });

  it('a VM serves only its own cloud’s paths', async () => {
    expect(
      (await get('cvm-01', '/computeMetadata/v1/instance/id', { 'Metadata-Flavor': 'Google' })).status,
    ).toBe(404);
    expect((await get('gce-01', '/latest/meta-data/instance-id')).status).toBe(404);
    expect(
      (await get('ec2-02', '/metadata/scheduledevents?api-version=2020-07-01', { Metadata: 'true' })).status,
    ).toBe(404);
    expect((await get('web-01', '/latest/meta-data/instance-id')).status).toBe(404);
  });
});

describe('control API across clouds', () => {
  it('refuses a type of another cloud and targets that span clouds, changing nothing', async () => {
    const wrong = await t.control('POST', '/events', { type: 'Reboot', targets: { vms: ['ec2-01'] } });
    expect(wrong.status).toBe(400);
    expect((await wrong.json()).message).toMatch(
      /unknown event type "Reboot" for aws VMs; one of system-reboot/,
    );
    const mixed = await t.control('POST', '/events', {
      type: 'spot-termination',
      targets: { vms: ['ecs-01', 'cvm-01'] },
    });
    expect(mixed.status).toBe(400);
    expect((await mixed.json()).message).toMatch(/span clouds/);
    expect(t.sim.controller.list()).toEqual([]);
  });

  it('plays a scenario with a fleet of AWS VMs', async () => {
    const res = await t.control('POST', '/scenario', {
      name: 'aws wave',
      fleet: [{ generate: { prefix: 'spot-', count: 2, provider: 'aws' } }],
      timeline: [{ at: 0, schedule: { type: 'spot-terminate', targets: { vms: ['spot-01', 'spot-02'] } } }],
    });
    expect(res.status).toBe(201);
    await new Promise((r) => setTimeout(r, 100));
    const events = t.sim.controller.list({ vm: 'spot-02' });
    expect(events.map((e) => [e.provider, e.type, e.resources])).toEqual([
      ['aws', 'spot-terminate', ['spot-02']],
    ]);
  });

  it('reset revokes every metadata token', async () => {
    const token = await awsToken('ec2-01');
    expect((await t.control('POST', '/reset')).status).toBe(200);
    expect(
      (await get('ec2-01', '/latest/meta-data/instance-id', { 'X-aws-ec2-metadata-token': token })).status,
    ).toBe(401);
  });
});
