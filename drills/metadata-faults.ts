// Drill 8: the metadata service misbehaves for a while — 500s, garbage JSON, hangs past the
// agent's timeout, 429 with Retry-After — on every VM, one fault after another, while the
// scenario starts some of the events. Real agents report to a real hub. Verdict: no phantom
// transition (no completed/canceled the scenario did not produce; after the faults exactly the
// transitions that happened), every agent alive and polling, and the hub shows each agent's
// health degraded during the faults and ok after.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultSpec } from '../src/simulator/faults.js';
import { startAgent, tempDir } from '../test/helpers/agent.js';
import { READER, startHub } from '../test/helpers/hub.js';
import { storeTransitions } from '../test/helpers/store-read.js';
import { startSim } from '../test/helpers/sim.js';
import { waitFor } from '../test/helpers/wait.js';
import { Checks, sayer, verdict, type DrillResult } from './verdict.js';

export interface MetadataFaultsOptions {
  vms: number;
  /** How long each kind of fault lasts. */
  phaseMs: number;
  quiet?: boolean;
}

/** The faults, in the order they are injected; each for `phaseMs`. */
export const FAULT_PHASES: { name: string; spec: FaultSpec }[] = [
  { name: '500', spec: { errorRate: 1, errorStatus: 500 } },
  { name: 'garbage JSON', spec: { malformedRate: 1, malformedKind: 'garbage' } },
  { name: 'truncated JSON', spec: { malformedRate: 1, malformedKind: 'truncated' } },
  { name: 'hang', spec: { hangRate: 1, hangMs: 5000 } },
  { name: '429 + Retry-After', spec: { errorRate: 1, errorStatus: 429, retryAfter: 1 } },
  { name: 'a random mix', spec: { errorRate: 0.2, malformedRate: 0.2, hangRate: 0.1, hangMs: 2000 } },
];

type FleetVm = { name: string; health?: { sources?: { consecutiveFailures?: number }[] } };

export async function metadataFaultsDrill(o: MetadataFaultsOptions): Promise<DrillResult> {
  const startedAt = Date.now();
  const name = 'metadata-faults';
  const say = sayer(name, o.quiet);
  const checks = new Checks();
  say(
    `${o.vms} agents; the metadata service answers ${FAULT_PHASES.map((p) => p.name).join(', ')} (${o.phaseMs} ms each) while half the events start`,
  );
  const dbPath = join(tempDir('forewarn-drill-faults-'), 'hub.db');
  const t = await startSim();
  const vms = Array.from({ length: o.vms }, (_, i) => `drill-${String(i).padStart(3, '0')}`);
  for (const vm of vms) t.sim.controller.fleet.add({ name: vm });
  const h = await startHub({ dbPath });
  const agents = vms.map((vm) =>
    startAgent({
      vm,
      'metadata.url': `${t.url}/vm/${vm}`,
      'metadata.timeout': '300ms',
      'poll.interval': '200ms',
      'poll.maxBackoff': '1s',
      'hub.url': h.url,
      'hub.token': h.agentToken(vm),
      'hub.heartbeat': '200ms',
    }),
  );
  const degraded = new Set<string>();
  const fleet = async () =>
    ((await h.api('GET', '/api/v1/fleet', undefined, READER)).body as { vms: FleetVm[] }).vms;
  const failing = (vm: FleetVm) => (vm.health?.sources ?? []).some((s) => (s.consecutiveFailures ?? 0) > 0);
  let faultedRequests = 0;
  let phantoms = 0;
  try {
    const ids = vms.map((vm) => {
      const [e] = t.sim.controller.schedule({ type: 'Reboot', targets: { vms: [vm] }, notice: '1h' });
      return e!.eventId;
    });
    await waitFor(async () => (await storeTransitions(h)).length === vms.length, 20_000, 50);
    say(`${vms.length} events scheduled and reported; faults begin`);
    const pollsBefore = agents.map((a) => a.agent.health.get('azure')!.polls);

    const watching = { on: true };
    const watcher = (async () => {
      while (watching.on) {
        for (const vm of await fleet().catch(() => [])) if (failing(vm)) degraded.add(vm.name);
        await sleep(100);
      }
    })();
    for (const [n, phase] of FAULT_PHASES.entries()) {
      const res = await t.control('PUT', '/faults', phase.spec);
      checks.equal(`PUT /sim/faults (${phase.name})`, res.status, 200);
      // Halfway through the faults, half the events start: the agents see it only afterwards.
      if (n === Math.floor(FAULT_PHASES.length / 2))
        for (const id of ids.slice(0, Math.ceil(ids.length / 2))) t.sim.controller.start(id);
      await sleep(o.phaseMs);
    }
    faultedRequests = t.sim.context.log.list({ limit: 1_000_000 }).filter((r) => r.faults?.length).length;
    checks.equal('DELETE /sim/faults', (await t.control('DELETE', '/faults')).status, 200);
    // No completed or canceled while the service was failing: the scenario produced none.
    const during = (await storeTransitions(h)).filter(
      (r) => r.transition !== 'scheduled' && r.transition !== 'started',
    );
    phantoms += during.length;
    say(
      `faults over: ${faultedRequests} metadata requests faulted; ${degraded.size}/${vms.length} agents were reported degraded at the hub`,
    );

    // Every agent is alive: it polled during the faults and recovers, and the hub says so.
    await waitFor(
      () => agents.every((a) => a.agent.health.get('azure')!.consecutiveFailures === 0),
      15_000,
      50,
    );
    await waitFor(
      async () => (await fleet()).filter((vm) => vms.includes(vm.name) && !failing(vm)).length === vms.length,
      15_000,
      100,
    );
    watching.on = false;
    await watcher;
    const alive = agents.filter(
      (a, i) => a.agent.health.get('azure')!.polls > pollsBefore[i]! + FAULT_PHASES.length,
    ).length;

    // Then the scenario finishes every event: exactly the transitions that happened must arrive.
    for (const id of ids.slice(Math.ceil(ids.length / 2))) t.sim.controller.start(id);
    await sleep(600);
    for (const id of ids) t.sim.controller.complete(id);
    const expected = vms.length * 3;
    await waitFor(async () => (await storeTransitions(h)).length >= expected, 20_000, 100).catch(
      () => undefined,
    );
    await sleep(600); // a stray extra transition has had time to show up
    const rows = await storeTransitions(h);
    let wrong = 0;
    for (const [i, vm] of vms.entries()) {
      const got = rows.filter((r) => r.reporter === vm).map((r) => `${r.eventId}/${r.transition}`);
      const want = ['scheduled', 'started', 'completed'].map((x) => `${ids[i]}/${x}`);
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        wrong++;
        if (wrong <= 3) checks.equal(`transitions of ${vm}`, got, want);
      }
    }
    phantoms += Math.max(0, rows.length - expected);
    checks.equal('phantom transitions', phantoms, 0);
    checks.equal('VMs with wrong transitions', wrong, 0);
    checks.equal('agents alive and polling through the faults', alive, vms.length);
    checks.equal('agents reported degraded at the hub', degraded.size, vms.length);
    checks.that('no metadata request was faulted', faultedRequests > 0);
    return verdict(
      name,
      `metadata faults: ${vms.length} agents, ${FAULT_PHASES.length} fault kinds, ${faultedRequests} faulted requests, ${phantoms} phantom transitions, ${alive}/${vms.length} alive, ${degraded.size}/${vms.length} degraded then ok`,
      {
        vms: vms.length,
        faultKinds: FAULT_PHASES.length,
        faultedRequests,
        phantoms,
        alive,
        degradedThenOk: degraded.size,
        transitions: rows.length,
      },
      checks.failures,
      startedAt,
    );
  } catch (err) {
    checks.that(`drill did not finish: ${(err as Error).message.split('\n')[0]}`, false);
    return verdict(name, 'metadata faults: did not finish', {}, checks.failures, startedAt);
  } finally {
    await Promise.all(agents.map((a) => a.close()));
    await h.close();
    await t.close();
  }
}
