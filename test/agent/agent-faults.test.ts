// Every simulator fault against an in-process agent over real HTTP: the agent keeps running,
// reports its health, never turns a failed or inconsistent poll into a completion, and once the
// fault is gone reports exactly the transitions that really happened.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatRfc1123 } from '../../src/core/time.js';
import { startAgent } from '../helpers/agent.js';
import { startHubStub, type HubStub } from '../helpers/hub-stub.js';
import { startSim, type TestSim } from '../helpers/sim.js';
import { waitFor } from '../helpers/wait.js';

let t: TestSim;
let hub: HubStub;
let agents: ReturnType<typeof startAgent>[] = [];
const servers: Server[] = [];

beforeEach(async () => {
  t = await startSim();
  hub = await startHubStub({ token: 'agent-token' });
});
afterEach(async () => {
  await Promise.all(agents.map((a) => a.close()));
  agents = [];
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
  await t.close();
  await hub.close();
});

function agentFor(vm = 'solo', extra: Record<string, unknown> = {}) {
  const a = startAgent({
    vm,
    'metadata.url': `${t.url}/vm/${vm}`,
    'metadata.timeout': '300ms',
    'poll.maxBackoff': '1s',
    'hub.url': hub.url,
    'hub.token': 'agent-token',
    'hub.heartbeat': '200ms',
    ...extra,
  });
  agents.push(a);
  return a;
}

const health = (a: ReturnType<typeof startAgent>) => a.agent.health.get('azure')!;
const short = (type: string) => type.replace('forewarn.maintenance.', '');
/** Transitions received for one event, in arrival order. */
const received = (eventId: string) =>
  hub.events.filter((e) => e.data.eventId === eventId).map((e) => short(e.type));
const endings = () =>
  hub.events.map((e) => short(e.type)).filter((x) => x === 'completed' || x === 'canceled');

async function setFault(spec: Record<string, unknown>, vm = 'solo') {
  const res = await t.control('PUT', `/vms/${vm}/faults`, spec);
  expect(res.status).toBe(200);
}
async function clearFault(vm = 'solo') {
  const res = await t.control('DELETE', `/vms/${vm}/faults`);
  expect(res.status).toBe(200);
}

/** Waits until the agent has polled at least `n` more times: it is alive and still polling. */
async function pollsMore(a: ReturnType<typeof startAgent>, n: number, timeoutMs = 8000) {
  const from = health(a).polls;
  await waitFor(() => health(a).polls >= from + n, timeoutMs);
}

/** An event Scheduled and already reported, as every fault test starts. */
async function scheduledAndReported() {
  const [e] = t.sim.controller.schedule({ type: 'Reboot', targets: { vms: ['solo'] }, notice: '1h' });
  await waitFor(() => received(e!.eventId).length === 1);
  expect(received(e!.eventId)).toEqual(['scheduled']);
  return e!.eventId;
}

/** After the fault: start and complete the event; exactly started and completed must follow. */
async function startAndComplete(a: ReturnType<typeof startAgent>, eventId: string) {
  const c = t.sim.controller;
  c.start(eventId);
  await waitFor(() => received(eventId).includes('started'), 8000);
  c.complete(eventId);
  await waitFor(() => received(eventId).includes('completed'), 8000);
  await pollsMore(a, 2); // time for a stray extra transition to show up, if there were one
  const all = hub.events.filter((e) => e.data.eventId === eventId);
  expect(all.map((e) => short(e.type))).toEqual(['scheduled', 'started', 'completed']);
  expect(new Set(all.map((e) => e.id)).size).toBe(3);
  expect(all.every((e) => e.data.mine === true)).toBe(true);
}

describe('agent under metadata errors', () => {
  it.each([
    ['500', { errorRate: 1 }, /answered 500/],
    ['410', { errorRate: 1, errorStatus: 410 }, /answered 410/],
    ['429', { errorRate: 1, errorStatus: 429 }, /answered 429/],
    ['a hang past the metadata timeout', { hangRate: 1, hangMs: 5000 }, /within 300 ms/],
    [
      'a truncated body',
      { malformedRate: 1, malformedKind: 'truncated' },
      /Scheduled Events document: not JSON/,
    ],
    ['a garbage body', { malformedRate: 1, malformedKind: 'garbage' }, /not JSON/],
    ['an empty body', { malformedRate: 1, malformedKind: 'empty' }, /not JSON/],
    ['a wrong-shape body', { malformedRate: 1, malformedKind: 'wrong-shape' }, /DocumentIncarnation "seven"/],
  ])('%s: keeps polling, reports failures, no phantom completion', async (_name, spec, error) => {
    const a = agentFor();
    const eventId = await scheduledAndReported();
    await setFault(spec);
    await waitFor(() => health(a).consecutiveFailures >= 3, 10_000);
    expect(health(a).lastError).toMatch(error);
    expect(health(a).lastErrorAt).toEqual(expect.any(String));
    // The health reaches the hub in heartbeats.
    await waitFor(() => {
      const last = hub.heartbeats.at(-1) as { sources?: { consecutiveFailures: number }[] } | undefined;
      return (last?.sources?.[0]?.consecutiveFailures ?? 0) > 0;
    });
    await pollsMore(a, 2);
    expect(received(eventId)).toEqual(['scheduled']);
    expect(endings()).toEqual([]);

    await clearFault();
    await waitFor(() => health(a).consecutiveFailures === 0, 8000);
    expect(received(eventId)).toEqual(['scheduled']);
    await startAndComplete(a, eventId);
  });

  it('a fault limited by count clears itself and the agent recovers without help', async () => {
    const a = agentFor();
    const eventId = await scheduledAndReported();
    await setFault({ errorRate: 1, errorStatus: 503, count: 3 });
    await waitFor(() => health(a).consecutiveFailures >= 1);
    await waitFor(() => health(a).consecutiveFailures === 0 && health(a).polls > 4, 8000);
    expect(endings()).toEqual([]);
    await startAndComplete(a, eventId);
  });

  it('an event that starts while the metadata service fails is reported as started afterwards', async () => {
    const a = agentFor();
    const eventId = await scheduledAndReported();
    await setFault({ errorRate: 1 });
    await waitFor(() => health(a).consecutiveFailures >= 2);
    t.sim.controller.start(eventId);
    await pollsMore(a, 2);
    expect(received(eventId)).toEqual(['scheduled']);
    await clearFault();
    await waitFor(() => received(eventId).length === 2, 8000);
    expect(received(eventId)).toEqual(['scheduled', 'started']);
  });

  it('a huge Retry-After does not stop polling for longer than poll.maxBackoff', async () => {
    // A metadata service (or something in front of it) that throttles with Retry-After: 1 hour.
    let throttled = 3;
    const server = createServer((_req, res) => {
      if (throttled-- > 0) {
        res.writeHead(429, { 'retry-after': '3600' });
        return res.end('{"error":"Too many requests"}');
      }
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          DocumentIncarnation: 2,
          Events: [
            {
              EventId: 'RA-1',
              EventType: 'Freeze',
              ResourceType: 'VirtualMachine',
              Resources: ['solo'],
              EventStatus: 'Scheduled',
              NotBefore: formatRfc1123(Date.now() + 3_600_000),
            },
          ],
        }),
      );
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const a = agentFor('solo', {
      'metadata.url': `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    });
    await waitFor(() => health(a).consecutiveFailures >= 1);
    await waitFor(() => received('RA-1').length === 1, 8000);
    expect(received('RA-1')).toEqual(['scheduled']);
  });
});

describe('agent under inconsistent documents', () => {
  it('incarnation going backwards: anomalies, no transitions, then exactly started and completed', async () => {
    const a = agentFor();
    const eventId = await scheduledAndReported();
    await setFault({ incarnationBackwardsRate: 1 });
    await waitFor(() => health(a).anomalies > 0, 8000);
    expect(health(a).lastAnomaly).toMatch(/incarnation went back/);
    await pollsMore(a, 5); // past the confirmations: the lower count becomes the baseline
    expect(health(a).consecutiveFailures).toBe(0);
    expect(received(eventId)).toEqual(['scheduled']);
    expect(endings()).toEqual([]);
    await clearFault();
    await pollsMore(a, 2);
    expect(received(eventId)).toEqual(['scheduled']);
    await startAndComplete(a, eventId);
  });

  it('events vanishing (incarnation unchanged): anomalies, no phantom cancel or completion', async () => {
    const a = agentFor();
    const eventId = await scheduledAndReported();
    await setFault({ vanishRate: 1 });
    await waitFor(() => health(a).anomalies >= 3, 8000);
    expect(health(a).lastAnomaly).toMatch(/unchanged but/);
    expect(health(a).consecutiveFailures).toBe(0);
    expect(received(eventId)).toEqual(['scheduled']);
    expect(endings()).toEqual([]);
    await clearFault();
    const anomalies = health(a).anomalies;
    await pollsMore(a, 2);
    expect(health(a).anomalies).toBe(anomalies);
    await startAndComplete(a, eventId);
  });

  it('one vanished document right after an incarnation bump is not a cancellation', async () => {
    // The event starts (incarnation N → N+1) and the first document the agent reads at N+1 comes
    // without its events. The next documents show the event Started at N+1.
    const a = agentFor();
    const eventId = await scheduledAndReported();
    const c = t.sim.controller;
    c.start(eventId);
    t.sim.faults.set({ vanishRate: 1, count: 1 }, 'solo'); // same tick: the next poll vanishes
    await pollsMore(a, 3);
    expect(t.sim.faults.get('solo')).toBeUndefined(); // the vanished document was served
    c.complete(eventId);
    await waitFor(() => ['completed', 'canceled'].some((x) => received(eventId).includes(x)), 8000);
    await pollsMore(a, 2);
    expect(received(eventId)).toEqual(['scheduled', 'started', 'completed']);
  });

  it('a sibling VM’s faults do not touch this agent', async () => {
    const a = agentFor('web-01');
    await setFault({ errorRate: 1 }, 'web-02');
    const [e] = t.sim.controller.schedule({ type: 'Freeze', targets: { vms: ['web-01'] } });
    await waitFor(() => received(e!.eventId).length === 1);
    expect(health(a).consecutiveFailures).toBe(0);
  });
});

describe('agent with an unreachable metadata service', () => {
  it('keeps running, reports failures, emits nothing', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const a = agentFor('solo', { 'metadata.url': `http://127.0.0.1:${port}` });
    await waitFor(() => health(a).consecutiveFailures >= 3, 8000);
    expect(health(a).lastError).toMatch(/cannot reach/);
    expect(health(a).lastSuccessAt).toBeUndefined();
    await pollsMore(a, 2);
    // Health goes to the hub, transitions do not (there are none).
    const hb = await waitFor(() => {
      const last = hub.heartbeats.at(-1) as
        { sources: { consecutiveFailures: number; lastError?: string }[] } | undefined;
      return last && last.sources[0]!.consecutiveFailures > 0 ? last : undefined;
    });
    expect(hb.sources[0]!.lastError).toMatch(/cannot reach/);
    expect(hub.events).toEqual([]);
    expect(hub.requests.filter((r) => r.path === '/api/v1/events')).toEqual([]);
  });
});
