// The NATS JetStream transport against a real nats-server (one per test, with forewarn's per-VM
// permissions) and a real hub (SQLite, or PostgreSQL in the postgres project): agent → stream →
// hub, dedup, a hub that starts late, per-VM order, bad messages, and commands both ways.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NatsCommandChannel } from '../../src/agent/nats-commands.js';
import { NatsLink, NatsPublisher } from '../../src/agent/nats-publisher.js';
import type { TransitionRecord } from '../../src/core/transition.js';
import { subjects } from '../../src/nats/config.js';
import { startAgent } from '../helpers/agent.js';
import { OPERATOR, READER, startHub, type TestHub } from '../helpers/hub.js';
import { cloudEvent, eventDetail, maintenance, storeCounts } from '../helpers/hub-publish.js';
import { natsOrSkip, startNats, vmPassword, type TestNats } from '../helpers/nats.js';
import { startSim, type TestSim } from '../helpers/sim.js';
import { waitFor } from '../helpers/wait.js';

const ready = natsOrSkip();

let nats: TestNats;
let hub: TestHub | undefined;
const cleanup: (() => Promise<unknown>)[] = [];

const record = (vm: string, transition: TransitionRecord['transition'], data = maintenance(vm)) =>
  ({
    id: `${data.provider}/${data.eventId}/${transition}`,
    transition,
    event: { ...data, mine: undefined },
    mine: true,
    observedAt: new Date().toISOString(),
  }) as unknown as TransitionRecord;

function publisher(vm: string) {
  const link = new NatsLink(nats.agent(vm), vm);
  cleanup.push(() => link.close());
  return { link, publisher: new NatsPublisher(link), commands: new NatsCommandChannel(link) };
}

async function raw(vm: string): Promise<NatsConnection> {
  const nc = await connect({
    servers: nats.url,
    user: vm,
    pass: vmPassword(vm),
    inboxPrefix: subjects.inbox(vm),
  });
  cleanup.push(() => nc.close());
  return nc;
}

/** A simulator, a hub consuming the stream, and the agent `solo` publishing over NATS. */
async function simHubAgent(transport: Record<string, unknown> = {}, more: Record<string, unknown> = {}) {
  const sim: TestSim = await startSim();
  cleanup.push(() => sim.close());
  const h = await startHub({ nats: nats.hub() });
  hub = h;
  await h.hub.nats!.ready;
  const agent = startAgent({
    vm: 'solo',
    'metadata.url': `${sim.url}/vm/solo`,
    transport: {
      kind: 'nats',
      servers: [nats.url],
      user: 'solo',
      password: vmPassword('solo'),
      ...transport,
    },
    ...more,
  });
  cleanup.push(() => agent.close());
  return { sim, hub: h, agent };
}

const transitionsOf = async (h: TestHub, eventId: string) =>
  ((await eventDetail(h, eventId)).transitions as { transition: string; via: string }[]).map(
    (t) => `${t.transition}:${t.via}`,
  );

describe.skipIf(!ready)('NATS JetStream transport', () => {
  beforeEach(async () => {
    nats = await startNats(['vm-a', 'vm-b', 'web-01', 'solo']);
  });
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
    await hub?.close();
    hub = undefined;
    await nats.stop();
  });

  it('simulator → agent → JetStream → hub: every transition stored in order, via nats', async () => {
    const { sim, agent, hub } = await simHubAgent();
    const c = sim.sim.controller;
    const [e] = c.schedule({ type: 'Reboot', targets: { vms: ['solo'] }, notice: '1h' });
    await waitFor(async () => (await transitionsOf(hub!, e!.eventId).catch(() => [])).length === 1, 10_000);
    c.reschedule(e!.eventId, { notice: '2h' });
    await waitFor(async () => (await transitionsOf(hub!, e!.eventId)).length === 2, 10_000);
    c.start(e!.eventId);
    await waitFor(async () => (await transitionsOf(hub!, e!.eventId)).length === 3, 10_000);
    c.complete(e!.eventId);
    await waitFor(async () => (await transitionsOf(hub!, e!.eventId)).length === 4, 10_000);
    expect(await transitionsOf(hub, e!.eventId)).toEqual([
      'scheduled:nats',
      'rescheduled:nats',
      'started:nats',
      'completed:nats',
    ]);
    await waitFor(() => agent.agent.deliveryHealth()?.backlog === 0);
  });

  it('NATS down while the agent observes: the outbox keeps it, and it arrives once NATS is back', async () => {
    const { sim, agent, hub } = await simHubAgent({ timeout: '1s' });
    await nats.stop();
    const [e] = sim.sim.controller.schedule({ type: 'Reboot', targets: { vms: ['solo'] }, notice: '1h' });
    await waitFor(() => (agent.agent.deliveryHealth()?.consecutiveFailures ?? 0) > 0, 10_000);
    expect(agent.agent.deliveryHealth()?.backlog).toBe(1);
    await nats.restart();
    await waitFor(async () => (await transitionsOf(hub!, e!.eventId).catch(() => [])).length === 1, 20_000);
    expect(await transitionsOf(hub, e!.eventId)).toEqual(['scheduled:nats']);
    await waitFor(() => agent.agent.deliveryHealth()?.backlog === 0, 10_000);
  });

  it('an agent runs a hub command that came over NATS and its result is recorded', async () => {
    const { hub } = await simHubAgent(
      {},
      {
        hooks: [
          {
            name: 'drain',
            command: ['/bin/sh', '-c', 'echo drained'],
            remote: true,
            on: { transitions: [] },
          },
        ],
      },
    );
    const queued = await hub.api(
      'POST',
      '/api/v1/agents/solo/commands',
      { type: 'run-hook', hook: 'drain' },
      OPERATOR,
    );
    const done = await waitFor(async () => (await hub!.hub.store.getCommand(queued.body.id))?.result, 15_000);
    expect(done).toMatchObject({ ok: true, detail: 'hook drain succeeded' });
  });

  it('a republished transition is stored once (JetStream dedup window and the store)', async () => {
    hub = await startHub({ nats: nats.hub() });
    await hub.hub.nats!.ready;
    const { publisher: p } = publisher('vm-a');
    const t = record('vm-a', 'scheduled');
    await p.publish([t]);
    await p.publish([t]); // the outbox resends after a lost PubAck
    const js = jetstream(await raw('vm-a'));
    const again = await js.publish(subjects.events('vm-a'), JSON.stringify({}), {
      msgID: `/forewarn/vms/vm-a#${t.id}`,
    });
    expect(again.duplicate).toBe(true);
    await waitFor(async () => (await storeCounts(hub!)).transitions === 1);
    await hub.hub.idle();
    expect(await transitionsOf(hub, t.event.eventId)).toEqual(['scheduled:nats']);
    const jsm = await jetstream(await raw('vm-a'))
      .jetstreamManager()
      .catch(() => undefined);
    expect(jsm).toBeUndefined(); // an agent has no JetStream API rights at all
  });

  it('agents publish while no hub runs; the stream holds everything until a hub starts', async () => {
    // The stream exists (an earlier hub made it) but no hub consumes now.
    const first = await startHub({ nats: nats.hub() });
    await first.hub.nats!.ready;
    await first.close();
    const { publisher: a } = publisher('vm-a');
    const { publisher: b } = publisher('vm-b');
    const sent = [...Array(20).keys()].map((i) => record(i % 2 ? 'vm-a' : 'vm-b', 'scheduled'));
    await a.publish(sent.filter((t) => t.event.vm === 'vm-a'));
    await b.publish(sent.filter((t) => t.event.vm === 'vm-b'));
    hub = await startHub({ nats: nats.hub() });
    await waitFor(async () => (await storeCounts(hub!)).transitions === 20, 10_000);
    const listed = await hub.api('GET', '/api/v1/events?limit=100', undefined, READER);
    expect(new Set(listed.body.events.map((e: { eventId: string }) => e.eventId))).toEqual(
      new Set(sent.map((t) => t.event.eventId)),
    );
  });

  it('a hub started while NATS is down serves HTTP, and consumes once NATS is up', async () => {
    await nats.stop();
    hub = await startHub({ nats: nats.hub() });
    expect((await hub.api('GET', '/api/v1/events', undefined, READER)).status).toBe(200);
    await nats.restart();
    await hub.hub.nats!.ready;
    const { publisher: a } = publisher('vm-a');
    const t = record('vm-a', 'scheduled');
    await a.publish([t]);
    await waitFor(
      async () => (await transitionsOf(hub!, t.event.eventId).catch(() => [])).length === 1,
      10_000,
    );
  });

  it('keeps each VM’s order: scheduled, rescheduled, rescheduled, started, completed', async () => {
    hub = await startHub({ nats: nats.hub() });
    await hub.hub.nats!.ready;
    const { publisher: a } = publisher('vm-a');
    const { publisher: b } = publisher('vm-b');
    const steps = (vm: string) => {
      const d = maintenance(vm);
      const at = (min: number) => new Date(Date.now() + min * 60_000).toISOString();
      const moved = (min: number) => ({ ...d, notBefore: at(min) });
      // One NotBefore for the last move and what follows it (two Date.now() calls can differ by 1 ms).
      const last = moved(45);
      return [
        record(vm, 'scheduled', d),
        { ...record(vm, 'rescheduled', moved(30)), id: `${d.provider}/${d.eventId}/rescheduled/1` },
        { ...record(vm, 'rescheduled', last), id: `${d.provider}/${d.eventId}/rescheduled/2` },
        record(vm, 'started', { ...last, status: 'started' }),
        record(vm, 'completed', { ...last, status: 'completed' }),
      ] as TransitionRecord[];
    };
    const [sa, sb] = [steps('vm-a'), steps('vm-b')];
    // Interleaved, one transition per publish, as two agents would.
    for (let i = 0; i < sa.length; i++) await Promise.all([a.publish([sa[i]!]), b.publish([sb[i]!])]);
    for (const s of [sa, sb]) {
      const id = s[0]!.event.eventId;
      await waitFor(async () => (await transitionsOf(hub!, id).catch(() => [])).length === 5, 10_000);
      const detail = await eventDetail(hub, id);
      expect(detail.transitions.map((t: { ceId: string }) => t.ceId)).toEqual(s.map((t) => t.id));
      expect(detail.event.notBefore).toBe(s[2]!.event.notBefore); // the last reschedule won
      expect(detail.event.status).toBe('completed');
    }
  });

  it('terminates malformed and forged messages, counts them, and keeps consuming', async () => {
    const logged: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(line) });
    hub = await startHub({ nats: nats.hub(), log });
    await hub.hub.nats!.ready;
    const js = jetstream(await raw('vm-a'));
    const secret = 'sup3r-secret-in-payload';
    await js.publish(subjects.events('vm-a'), `{"not json ${secret}`);
    await js.publish(subjects.events('vm-a'), JSON.stringify({ specversion: '1.0', id: 'x', secret }));
    // vm-a's credentials on vm-a's subject, but the event claims to be vm-b's.
    await js.publish(subjects.events('vm-a'), JSON.stringify(cloudEvent(maintenance('vm-b'))));
    const good = maintenance('vm-a');
    await js.publish(subjects.events('vm-a'), JSON.stringify(cloudEvent(good)));
    await waitFor(async () => (await storeCounts(hub!)).transitions === 1, 10_000);
    const metrics = await await hub.hub.metrics.registry.getSingleMetricAsString(
      'forewarn_nats_rejected_total',
    );
    expect(metrics).toContain('forewarn_nats_rejected_total{reason="malformed"} 2');
    expect(metrics).toContain('forewarn_nats_rejected_total{reason="forbidden"} 1');
    expect((await eventDetail(hub, good.eventId)).transitions[0].reporter).toBe('vm-a');
    // Terminated, not redelivered: nothing is pending or waiting for an ack.
    const admin = await connect({ servers: nats.url, user: 'hub', pass: 'hub-password' });
    cleanup.push(() => admin.close());
    const consumer = await jetstream(admin).consumers.get(nats.hub().stream, nats.hub().consumer);
    await waitFor(async () => {
      const info = await consumer.info();
      return info.num_pending === 0 && info.num_ack_pending === 0;
    });
    // Logged with subject, sequence and reason, never with the payload.
    const refusals = logged.filter((l) => l.includes('NATS message refused'));
    expect(refusals).toHaveLength(3);
    expect(refusals.join('\n')).not.toContain(secret);
    expect(refusals[2]).toContain('"subject":"forewarn.events.vm-a"');
  });

  it('commands reach the agent over NATS request/reply and results come back; HTTP long-poll still works', async () => {
    hub = await startHub({ nats: nats.hub() });
    await hub.hub.nats!.ready;
    const { commands } = publisher('vm-a');
    const poll = commands.commands(20);
    const queued = await hub.api(
      'POST',
      '/api/v1/agents/vm-a/commands',
      { type: 'run-hook', hook: 'drain' },
      OPERATOR,
    );
    expect(queued.status).toBe(201);
    expect(await poll).toEqual([{ id: queued.body.id, type: 'run-hook', hook: 'drain' }]);
    await commands.report(queued.body.id, { ok: true, detail: 'drained' });
    await waitFor(async () => {
      const audit = await hub!.hub.store.auditLog(`command:${queued.body.id}`, 10);
      return audit.some((x) => x.action === 'command.succeeded');
    });
    await expect(commands.report('no-such-command', { ok: true, detail: 'x' })).rejects.toThrow(/no command/);

    // The HTTP long-poll serves the same queue.
    const second = await hub.api(
      'POST',
      '/api/v1/agents/vm-b/commands',
      { type: 'approve', eventId: 'E1' },
      OPERATOR,
    );
    const http = await hub.api(
      'GET',
      '/api/v1/agents/vm-b/commands?wait=1',
      undefined,
      hub.agentToken('vm-b'),
    );
    expect(http.body.commands).toEqual([{ id: second.body.id, type: 'approve', eventId: 'E1' }]);
  });
});
