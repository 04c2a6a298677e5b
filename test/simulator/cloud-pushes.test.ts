// The simulator as the clouds' event buses: Alibaba CloudMonitor ECS system events and AWS
// EventBridge events posted to a real hub's push endpoints as activities move, and stored there.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alibabaInstanceId } from '../../src/simulator/alibaba-metadata.js';
import { awsInstanceId } from '../../src/simulator/aws-metadata.js';
import { ADMIN, AGENT_SECRET, startHub, type TestHub } from '../helpers/hub.js';
import { startSim, type TestSim } from '../helpers/sim.js';
import { waitFor } from '../helpers/wait.js';

const SECRET = 'sim-push-secret-0123456789';
let t: TestSim;
let h: TestHub;
beforeEach(async () => {
  t = await startSim();
  t.sim.controller.fleet.add({ name: 'ecs-01', provider: 'alibaba' });
  t.sim.controller.fleet.add({ name: 'ec2-01', provider: 'aws' });
  h = await startHub({
    auth: {
      agentSecret: AGENT_SECRET,
      operators: [{ name: 'root', role: 'admin', token: ADMIN }],
      pushSecrets: [{ name: 'sim', secret: SECRET }],
    },
  });
  const res = await t.control('PUT', '/pushes', {
    alibaba: { url: `${h.url}/api/v1/push/alibaba`, secret: SECRET },
    aws: { url: `${h.url}/api/v1/push/aws`, secret: SECRET },
  });
  expect(res.status).toBe(200);
});
afterEach(async () => {
  await t.sim.context.pusher.idle();
  await t.close();
  await h.close();
});

const stored = (provider: string, match: (e: Record<string, any>) => boolean) =>
  waitFor(async () => {
    const res = await h.api('GET', `/api/v1/events?provider=${provider}`);
    return (res.body.events as Record<string, any>[]).find(match);
  }, 10_000);

describe('simulated cloud pushes', () => {
  it('an Alibaba host failure is pushed as CloudMonitor events: Executing, then Executed', async () => {
    const c = t.sim.controller;
    const [a] = c.schedule({ type: 'SystemFailure.Reboot', targets: { vms: ['ecs-01'] } });
    const iid = alibabaInstanceId(c.fleet.get('ecs-01')!);
    await stored('alibaba', (e) => e.eventId === a!.eventId && e.status === 'started');
    c.complete(a!.eventId);
    const done = await stored('alibaba', (e) => e.eventId === a!.eventId && e.status === 'completed');
    expect(done).toMatchObject({ type: 'reboot', resources: [iid], reporters: ['push:sim'] });
    await t.sim.context.pusher.idle();
    const view = (await (await t.control('GET', '/pushes')).json()) as {
      targets: unknown;
      pushes: { kind: string; status: number }[];
    };
    expect(view.pushes.map((p) => [p.kind, p.status])).toEqual([
      ['Instance:SystemFailure.Reboot:Executing', 200],
      ['Instance:SystemFailure.Reboot:Executed', 200],
    ]);
    expect(JSON.stringify(view.targets)).not.toContain(SECRET);
  });

  it('a planned Alibaba reboot is pushed Scheduled with its notBefore, and its cancellation', async () => {
    const c = t.sim.controller;
    const [a] = c.schedule({ type: 'SystemMaintenance.Reboot', targets: { vms: ['ecs-01'] }, notice: '1d' });
    const e = await stored('alibaba', (x) => x.eventId === a!.eventId);
    expect(e).toMatchObject({
      status: 'scheduled',
      notBefore: new Date(Math.floor(a!.notBefore / 1000) * 1000).toISOString(),
    });
    c.cancel(a!.eventId);
    await stored('alibaba', (x) => x.eventId === a!.eventId && x.status === 'canceled');
  });

  it('AWS spot interruptions and Health scheduled changes go to EventBridge', async () => {
    const c = t.sim.controller;
    const iid = awsInstanceId(c.fleet.get('ec2-01')!);
    c.schedule({ type: 'spot-terminate', targets: { vms: ['ec2-01'] } });
    const [r] = c.schedule({ type: 'system-reboot', targets: { vms: ['ec2-01'] }, notice: '2h' });
    expect(await stored('aws', (e) => e.type === 'preempt')).toMatchObject({
      resources: [iid],
      status: 'scheduled',
    });
    const health = await stored('aws', (e) => e.type === 'reboot');
    expect(health).toMatchObject({
      notBefore: new Date(Math.floor(r!.notBefore / 1000) * 1000).toISOString(),
      resources: [iid],
    });
    c.start(r!.eventId);
    c.complete(r!.eventId);
    await stored('aws', (e) => e.type === 'reboot' && e.status === 'completed');
  });

  it('a push the hub refuses is logged with its answer, not retried, and nothing is stored', async () => {
    await t.control('PUT', '/pushes', {
      alibaba: { url: `${h.url}/api/v1/push/alibaba`, secret: 'wrong-secret-0123456789' },
    });
    t.sim.controller.schedule({ type: 'InstanceFailure.Reboot', targets: { vms: ['ecs-01'] } });
    const push = await waitFor(() => t.sim.context.pusher.view().pushes.find((p) => p.status !== undefined));
    expect(push).toMatchObject({ status: 401, attempts: 1, error: expect.stringContaining('push secret') });
    expect((await h.api('GET', '/api/v1/events?provider=alibaba')).body.events).toEqual([]);
  });
});
