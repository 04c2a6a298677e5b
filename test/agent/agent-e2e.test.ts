// The agent end to end over real HTTP: simulator → agent → receiving endpoint.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAgent, tempDir } from '../helpers/agent.js';
import { startHubStub, type HubStub } from '../helpers/hub-stub.js';
import { startSim, type TestSim } from '../helpers/sim.js';
import { waitFor } from '../helpers/wait.js';

let t: TestSim;
let hub: HubStub;
let agents: ReturnType<typeof startAgent>[] = [];

beforeEach(async () => {
  t = await startSim();
  hub = await startHubStub({ token: 'agent-token' });
});
afterEach(async () => {
  await Promise.all(agents.map((a) => a.close()));
  agents = [];
  await t.close();
  await hub.close();
});

function agentFor(vm: string, extra: Record<string, unknown> = {}) {
  const a = startAgent({
    vm,
    'metadata.url': `${t.url}/vm/${vm}`,
    'hub.url': hub.url,
    'hub.token': 'agent-token',
    'hub.heartbeat': '200ms',
    ...extra,
  });
  agents.push(a);
  return a;
}

const seen = (vm: string) => hub.events.filter((e) => e.source === `/forewarn/vms/${vm}`);
const kinds = (vm: string) =>
  seen(vm).map((e) => `${e.type.replace('forewarn.maintenance.', '')}:${e.data.mine ? 'mine' : 'sibling'}`);

describe('agent against the simulator', () => {
  it('reports every transition of an event, in order, as CloudEvents with stable ids', async () => {
    agentFor('solo');
    const c = t.sim.controller;
    const [e] = c.schedule({ type: 'Reboot', targets: { vms: ['solo'] }, notice: '1h' });
    const notBefore = new Date(Math.floor(e!.notBefore / 1000) * 1000).toISOString();
    await waitFor(() => seen('solo').length === 1);
    c.reschedule(e!.eventId, { notice: '2h' });
    await waitFor(() => seen('solo').length === 2);
    c.start(e!.eventId);
    await waitFor(() => seen('solo').length === 3);
    c.complete(e!.eventId);
    await waitFor(() => seen('solo').length === 4);
    expect(kinds('solo')).toEqual(['scheduled:mine', 'rescheduled:mine', 'started:mine', 'completed:mine']);
    const first = seen('solo')[0]!;
    expect(first).toMatchObject({
      specversion: '1.0',
      id: `azure/${e!.eventId}/scheduled`,
      subject: `azure/${e!.eventId}`,
    });
    expect(first.data).toMatchObject({
      provider: 'azure',
      eventId: e!.eventId,
      type: 'reboot',
      status: 'scheduled',
      origin: 'platform',
      vm: 'solo',
    });
    expect(first.data.notBefore).toBe(notBefore); // RFC 1123 from IMDS, ISO 8601 from us
    expect(seen('solo')[1]!.data.previousNotBefore).toBe(notBefore);
    expect(hub.requests.find((r) => r.path === '/api/v1/events')).toMatchObject({
      auth: 'Bearer agent-token',
      contentType: expect.stringMatching(/cloudevents-batch/),
    });
    expect(new Set(seen('solo').map((x) => x.id)).size).toBe(4);
  });

  it('reports a cancellation and a host failure that appears already Started', async () => {
    agentFor('solo');
    const c = t.sim.controller;
    const [a] = c.schedule({ type: 'Freeze', targets: { vms: ['solo'] } });
    await waitFor(() => seen('solo').length === 1);
    c.cancel(a!.eventId);
    const [b] = c.schedule({ type: 'Reboot', targets: { vms: ['solo'] }, status: 'Started' });
    await waitFor(() => seen('solo').length === 3);
    const byEvent = (id: string) =>
      seen('solo')
        .filter((x) => x.data.eventId === id)
        .map((x) => x.type);
    expect(byEvent(a!.eventId)).toEqual(['forewarn.maintenance.scheduled', 'forewarn.maintenance.canceled']);
    expect(byEvent(b!.eventId)).toEqual(['forewarn.maintenance.started']);
  });

  it('marks siblings’ events as not mine', async () => {
    agentFor('web-02');
    t.sim.controller.schedule({ type: 'Reboot', targets: { vms: ['web-01'] } });
    await waitFor(() => seen('web-02').length === 1);
    expect(kinds('web-02')).toEqual(['scheduled:sibling']);
    expect(seen('web-02')[0]!.data.resources).toEqual(['web-01']);
  });

  it('approves through StartRequests only its own Scheduled events', async () => {
    agentFor('web-01');
    const c = t.sim.controller;
    const [own] = c.schedule({ type: 'Reboot', targets: { vms: ['web-01'] } });
    const [sibling] = c.schedule({ type: 'Reboot', targets: { vms: ['web-02'] } });
    await waitFor(() => seen('web-01').length === 2);
    hub.queue('web-01', { id: 'cmd-1', type: 'approve', eventId: sibling!.eventId });
    hub.queue('web-01', { id: 'cmd-2', type: 'approve', eventId: own!.eventId });
    hub.queue('web-01', { id: 'cmd-3', type: 'approve', eventId: 'NOT-THERE' });
    await waitFor(() => hub.results.length === 3, 8000);
    const byId = Object.fromEntries(hub.results.map((r) => [r.id, r.body]));
    expect(byId['cmd-1']).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/does not concern web-01/),
    });
    expect(byId['cmd-2']).toMatchObject({ ok: true });
    expect(byId['cmd-3']).toMatchObject({ ok: false, detail: expect.stringMatching(/not in this VM/) });
    expect(c.approvals().map((x) => [x.vm, x.eventId])).toEqual([['web-01', own!.eventId]]);
    expect(c.get(own!.eventId).status).toBe('Started');
    expect(c.get(sibling!.eventId).status).toBe('Scheduled');
    await waitFor(() => kinds('web-01').includes('started:mine'));
  });

  it('a re-sent command is not executed twice', async () => {
    const a = agentFor('solo');
    const [e] = t.sim.controller.schedule({ type: 'Reboot', targets: { vms: ['solo'] } });
    await waitFor(() => seen('solo').length === 1);
    const cmd = { id: 'cmd-x', type: 'approve' as const, eventId: e!.eventId };
    const first = await a.agent.execute(cmd);
    const again = await a.agent.execute(cmd);
    expect(first.ok).toBe(true);
    expect(again).toEqual(first);
    expect(t.sim.controller.approvals()).toHaveLength(1);
  });

  it('sends heartbeats with identity, source health and version', async () => {
    agentFor('solo');
    const hb = await waitFor(() => hub.heartbeats[0]);
    expect(hb).toMatchObject({
      agentVersion: expect.any(String),
      vm: { name: 'solo' },
      outbox: expect.any(Number),
    });
    const sources = await waitFor(() => {
      const last = hub.heartbeats.at(-1) as { sources: { source: string; lastSuccessAt?: string }[] };
      return last.sources[0]?.lastSuccessAt ? last.sources : undefined;
    });
    expect(sources[0]).toMatchObject({ source: 'azure', consecutiveFailures: 0 });
  });

  it('reads the legacy 2015 endpoint and reports the reboot and its end', async () => {
    agentFor('solo', { 'metadata.legacy': true, 'metadata.scheduledEvents': false });
    const c = t.sim.controller;
    c.timeScale = 60;
    const [e] = c.schedule({ type: 'Reboot', targets: { vms: ['solo'] }, notice: '2m', startedFor: '30s' });
    await waitFor(() => seen('solo').length === 1);
    expect(seen('solo')[0]!.data).toMatchObject({
      provider: 'azure-legacy',
      eventId: e!.eventId.toLowerCase(),
      type: 'reboot',
    });
    await waitFor(() => seen('solo').length === 2, 8000); // starts after 2 s, gone 0.5 s later
    expect(kinds('solo')).toEqual(['scheduled:mine', 'completed:mine']);
  });

  it('keeps everything while the hub is down and delivers it in order afterwards', async () => {
    agentFor('solo');
    hub.failWith = 503;
    const c = t.sim.controller;
    const ids = [];
    for (let i = 0; i < 5; i++) {
      const [e] = c.schedule({ type: 'Freeze', targets: { vms: ['solo'] }, notice: `${30 + i}m` });
      ids.push(e!.eventId);
      await new Promise((r) => setTimeout(r, 250));
    }
    c.cancel(ids[0]!);
    await waitFor(() => hub.requests.filter((r) => r.path === '/api/v1/events').length >= 3, 8000);
    expect(hub.events).toEqual([]);
    hub.failWith = undefined;
    await waitFor(() => seen('solo').length === 6, 15_000);
    expect(seen('solo').map((e) => e.data.eventId)).toEqual([...ids, ids[0]]);
    expect(kinds('solo').at(-1)).toBe('canceled:mine');
  });

  it('publishes to an Event Grid topic with aeg-sas-key and the Event Grid schema', async () => {
    await hub.close();
    hub = await startHubStub({ eventGridKey: 'sas-key-1' });
    const a = startAgent({
      vm: 'solo',
      'metadata.url': `${t.url}/vm/solo`,
      'eventGrid.endpoint': `${hub.url}/api/events`,
      'eventGrid.key': 'sas-key-1',
    });
    agents.push(a);
    const [e] = t.sim.controller.schedule({ type: 'Redeploy', targets: { vms: ['solo'] } });
    const got = await waitFor(() => hub.eventGrid[0]);
    expect(got).toMatchObject({
      id: `azure/${e!.eventId}/scheduled`,
      eventType: 'forewarn.maintenance.scheduled',
      subject: `/forewarn/vms/solo/events/azure/${e!.eventId}`,
      dataVersion: '1.0',
      data: { type: 'redeploy', eventId: e!.eventId },
    });
  });

  it('runs a local hook with the event as env and JSON, once per transition', async () => {
    const dir = tempDir();
    const out = join(dir, 'hook.out');
    const script = join(dir, 'hook.sh');
    writeFileSync(
      script,
      `#!/bin/sh\necho "$FOREWARN_TRANSITION $FOREWARN_EVENT_TYPE $FOREWARN_EVENT_ID $FOREWARN_MINE" >> ${out}\ncat >> ${out}\necho >> ${out}\n`,
      { mode: 0o755 },
    );
    const cfg = join(dir, 'agent.yaml');
    writeFileSync(
      cfg,
      `hooks:\n  - name: drain\n    command: [${script}]\n    timeout: 5s\n    on: { types: [reboot], transitions: [scheduled, started] }\n`,
    );
    const a = startAgent({ vm: 'solo', 'metadata.url': `${t.url}/vm/solo` }, cfg);
    agents.push(a);
    const c = t.sim.controller;
    c.schedule({ type: 'Freeze', targets: { vms: ['solo'] } }); // not a reboot: no hook
    const [e] = c.schedule({ type: 'Reboot', targets: { vms: ['solo'] } });
    const { readFileSync } = await import('node:fs');
    await waitFor(() => readFileSync(out, 'utf8').includes(`scheduled reboot ${e!.eventId} true`));
    c.start(e!.eventId);
    const text = await waitFor(() => {
      const s = readFileSync(out, 'utf8');
      return s.includes('started reboot') ? s : undefined;
    });
    const lines = text.trim().split('\n');
    expect(lines.filter((l) => /^(scheduled|started) /.test(l))).toEqual([
      `scheduled reboot ${e!.eventId} true`,
      `started reboot ${e!.eventId} true`,
    ]);
    expect(JSON.parse(lines[1]!)).toMatchObject({ transition: 'scheduled', event: { eventId: e!.eventId } });
  });
});
