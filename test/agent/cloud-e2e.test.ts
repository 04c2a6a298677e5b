// Every cloud end to end with real parts: the simulator schedules an AWS or GCP event, a real
// agent configured for that cloud detects it and publishes it, and the hub (SQLite) stores it
// with the right provider, type and NotBefore.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { startAgent, tempDir } from '../helpers/agent.js';
import { startHub, type TestHub } from '../helpers/hub.js';
import { startSim, type TestSim } from '../helpers/sim.js';
import { waitFor } from '../helpers/wait.js';

let t: TestSim;
let h: TestHub;
let agents: ReturnType<typeof startAgent>[] = [];

beforeEach(async () => {
  t = await startSim();
  t.sim.controller.fleet.add({ name: 'ec2-01', provider: 'aws', httpTokens: 'required' });
  t.sim.controller.fleet.add({ name: 'gce-01', provider: 'gcp' });
  t.sim.controller.fleet.add({ name: 'ecs-01', provider: 'alibaba' });
  t.sim.controller.fleet.add({ name: 'cvm-01', provider: 'tencent' });
  h = await startHub();
});
afterEach(async () => {
  await Promise.all(agents.map((a) => a.close()));
  agents = [];
  await h.close();
  await t.close();
});

function agentFor(vm: string, provider: string, extra: Record<string, unknown> = {}) {
  const a = startAgent({
    vm,
    'source.provider': provider,
    'metadata.url': `${t.url}/vm/${vm}`,
    'hub.url': h.url,
    'hub.token': h.agentToken(vm),
    'hub.heartbeat': '200ms',
    ...extra,
  });
  agents.push(a);
  return a;
}

const whole = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString();

async function stored(provider: string, match: (e: Record<string, unknown>) => boolean) {
  return waitFor(async () => {
    const res = await h.api('GET', `/api/v1/events?provider=${provider}`);
    return (res.body?.events ?? res.body ?? []).find(match) as Record<string, unknown> | undefined;
  }, 15_000);
}

describe('cloud sources end to end', () => {
  it('AWS: a scheduled reboot read with IMDSv2 tokens is stored, then its cancellation', async () => {
    agentFor('ec2-01', 'aws');
    const c = t.sim.controller;
    const [a] = c.schedule({ type: 'system-reboot', targets: { vms: ['ec2-01'] }, notice: '2h' });
    const e = await stored('aws', (x) => x.eventId === a!.eventId);
    expect(e).toMatchObject({
      provider: 'aws',
      type: 'reboot',
      status: 'scheduled',
      notBefore: whole(a!.notBefore),
      resources: ['ec2-01'],
      description: 'scheduled reboot',
    });
    c.cancel(a!.eventId);
    await stored('aws', (x) => x.eventId === a!.eventId && x.status === 'canceled');
    // Every read carried a token: the VM requires them.
    const log = t.sim.context.log.list({ vm: 'ec2-01' });
    expect(log.filter((r) => r.status === 401)).toEqual([]);
    expect(log.filter((r) => r.method === 'PUT')).toHaveLength(1);
  });

  it('AWS: a spot interruption notice is stored as a preempt with its action time', async () => {
    agentFor('ec2-01', 'aws');
    const [a] = t.sim.controller.schedule({ type: 'spot-terminate', targets: { vms: ['ec2-01'] } });
    const e = await stored('aws', (x) => x.type === 'preempt');
    expect(e).toMatchObject({ notBefore: whole(a!.notBefore), status: 'scheduled' });
    expect(a!.notBefore - a!.createdAt).toBe(120_000);
  });

  it('GCP: upcoming maintenance and a live migration, read by long-polls', async () => {
    agentFor('gce-01', 'gcp', { 'source.longPoll': '20s' });
    const c = t.sim.controller;
    const [up] = c.schedule({ type: 'upcoming-maintenance', targets: { vms: ['gce-01'] }, notice: '3d' });
    const window = await stored('gcp', (x) => x.type === 'system-maintenance');
    expect(window).toMatchObject({
      status: 'scheduled',
      notBefore: whole(up!.notBefore),
      durationSeconds: 7200,
      resources: ['gce-01'],
    });
    c.schedule({ type: 'migrate', targets: { vms: ['gce-01'] } });
    const migrate = await stored('gcp', (x) => x.type === 'live-migrate');
    // Seen within the 60 s notice: NotBefore is first sight + 60 s, so in the next minute.
    const lead = Date.parse(migrate.notBefore as string) - Date.now();
    expect(lead).toBeGreaterThan(0);
    expect(lead).toBeLessThanOrEqual(60_000);
  });

  it('GCP: an agent restarted mid-notice keeps the minted event id, then reports the end once', async () => {
    const stateDir = tempDir();
    const c = t.sim.controller;
    const first = agentFor('gce-01', 'gcp', { stateDir, 'source.upcoming': false });
    const [a] = c.schedule({ type: 'migrate', targets: { vms: ['gce-01'] } });
    const e = await stored('gcp', (x) => x.type === 'live-migrate');
    await first.close();
    agents = agents.filter((x) => x !== first);
    await sleep(1100); // a new id would now carry another second
    agentFor('gce-01', 'gcp', { stateDir, 'source.upcoming': false });
    // The restarted agent has read both keys and holds its long-polls.
    await waitFor(() => c.listenerCount('changed') === 2);
    c.start(a!.eventId);
    c.complete(a!.eventId);
    await stored('gcp', (x) => x.eventId === e.eventId && x.status === 'completed');
    const all = (await h.api('GET', '/api/v1/events?provider=gcp')).body.events as unknown[];
    expect(all).toHaveLength(1);
    const detail = await h.api('GET', `/api/v1/events/gcp/${encodeURIComponent(e.eventId as string)}`);
    expect(detail.body.transitions.map((x: { transition: string }) => x.transition)).toEqual([
      'scheduled',
      'completed',
    ]);
  });

  it('Alibaba and Tencent: spot reclamation notices', async () => {
    agentFor('ecs-01', 'alibaba');
    agentFor('cvm-01', 'tencent');
    const [ali] = t.sim.controller.schedule({ type: 'spot-termination', targets: { vms: ['ecs-01'] } });
    const [tc] = t.sim.controller.schedule({ type: 'spot-termination', targets: { vms: ['cvm-01'] } });
    expect(await stored('alibaba', (x) => x.type === 'preempt')).toMatchObject({
      notBefore: whole(ali!.notBefore),
    });
    expect(await stored('tencent', (x) => x.type === 'preempt')).toMatchObject({
      notBefore: whole(tc!.notBefore),
    });
  });
});
