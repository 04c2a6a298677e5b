// Drill 7: the hub is unreachable for "10 minutes" (time-scaled: one real second stands for
// `scale` seconds) while a maintenance wave runs on simulated VMs, each watched by a real agent
// (the same wiring as `forewarn agent`). Agents spool transitions to their outbox; when the hub is
// back (same port, same SQLite file) everything arrives, exactly once, in order per VM.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startAgent, tempDir } from '../test/helpers/agent.js';
import { startHub, type TestHub } from '../test/helpers/hub.js';
import { storeTransitions } from '../test/helpers/store-read.js';
import { startSim } from '../test/helpers/sim.js';
import { waitFor } from '../test/helpers/wait.js';
import { Checks, sayer, verdict, type DrillResult } from './verdict.js';

export interface HubOutageOptions {
  vms: number;
  /** Maintenance events each VM goes through (scheduled → started → completed) during the outage. */
  eventsPerVm: number;
  /** The outage in simulated minutes, and how many simulated seconds one real second stands for. */
  outageMinutes: number;
  scale: number;
  quiet?: boolean;
}

/** Real time between two steps of the wave: several agent polls, so each state is seen. */
const STEP_MS = 800;

export async function hubOutageDrill(o: HubOutageOptions): Promise<DrillResult> {
  const startedAt = Date.now();
  const name = 'hub-outage';
  const say = sayer(name, o.quiet);
  const outageMs = (o.outageMinutes * 60_000) / o.scale;
  const checks = new Checks();
  say(
    `${o.vms} agents; the hub goes away for ${o.outageMinutes} simulated minutes (${outageMs} ms at ×${o.scale}) while each VM goes through ${o.eventsPerVm} reboots`,
  );
  const dbPath = join(tempDir('forewarn-drill-outage-'), 'hub.db');
  const t = await startSim();
  const vms = Array.from({ length: o.vms }, (_, i) => `drill-${String(i).padStart(3, '0')}`);
  for (const vm of vms) t.sim.controller.fleet.add({ name: vm });
  let h: TestHub | undefined = await startHub({ dbPath });
  const port = Number(new URL(h.url).port);
  const agents = vms.map((vm) =>
    startAgent({
      vm,
      'metadata.url': `${t.url}/vm/${vm}`,
      'poll.interval': '200ms',
      'poll.maxBackoff': '500ms',
      'hub.url': h!.url,
      'hub.token': h!.agentToken(vm),
      'hub.heartbeat': '1s',
    }),
  );
  /** What each VM went through, in the order the simulator made it happen. */
  const expected = new Map<string, string[]>(vms.map((vm) => [vm, []]));
  let maxOutbox = 0;
  try {
    // One event per VM scheduled and delivered before the outage: it starts during it.
    const before = vms.map((vm) => {
      const [e] = t.sim.controller.schedule({ type: 'Reboot', targets: { vms: [vm] }, notice: '1h' });
      expected.get(vm)!.push(`${e!.eventId}/scheduled`);
      return e!.eventId;
    });
    await waitFor(async () => (await storeTransitions({ dbPath })).length === vms.length, 20_000, 50);
    say(`${vms.length} events scheduled and delivered; the hub goes away`);
    await h.close();
    h = undefined;
    const downAt = Date.now();

    // The wave, spread over the outage: start/complete the first events, then more reboots.
    const step = async (fn: () => void) => {
      fn();
      await sleep(STEP_MS);
    };
    await step(() => {
      for (const [i, vm] of vms.entries()) {
        t.sim.controller.start(before[i]!);
        expected.get(vm)!.push(`${before[i]}/started`);
      }
    });
    await step(() => {
      for (const [i, vm] of vms.entries()) {
        t.sim.controller.complete(before[i]!);
        expected.get(vm)!.push(`${before[i]}/completed`);
      }
    });
    for (let n = 0; n < o.eventsPerVm; n++) {
      const ids = vms.map((vm) => {
        const [e] = t.sim.controller.schedule({ type: 'Reboot', targets: { vms: [vm] }, notice: '1h' });
        return e!.eventId;
      });
      for (const transition of ['scheduled', 'started', 'completed'] as const)
        await step(() => {
          for (const [i, vm] of vms.entries()) {
            if (transition === 'started') t.sim.controller.start(ids[i]!);
            if (transition === 'completed') t.sim.controller.complete(ids[i]!);
            expected.get(vm)!.push(`${ids[i]}/${transition}`);
          }
        });
    }
    // On a busy machine the wave may take longer than planned: then the outage lasts longer too.
    await sleep(Math.max(0, outageMs - (Date.now() - downAt)));
    const downFor = Date.now() - downAt;
    const spooled = agents.map((a) => a.agent.heartbeatPayload().outbox);
    maxOutbox = Math.max(...spooled);
    const totalSpooled = spooled.reduce((a, b) => a + b, 0);
    say(
      `outage over after ${downFor} ms: ${totalSpooled} transitions spooled in the agents' outboxes; the hub comes back`,
    );
    checks.equal('transitions spooled during the outage', totalSpooled, vms.length * (2 + 3 * o.eventsPerVm));

    h = await startHub({ dbPath, port });
    const total = [...expected.values()].reduce((n, l) => n + l.length, 0);
    const backAt = Date.now();
    await waitFor(async () => (await storeTransitions({ dbPath })).length >= total, 60_000, 100).catch(
      () => undefined,
    );
    await sleep(500); // anything extra (a duplicate, a phantom) has had time to arrive
    const rows = await storeTransitions({ dbPath });
    say(`${rows.length} of ${total} transitions at the hub ${Date.now() - backAt} ms after it came back`);

    // Per VM, the hub's order (by transition id) must be exactly the order things happened.
    let outOfOrder = 0;
    for (const vm of vms) {
      const got = rows.filter((r) => r.reporter === vm).map((r) => `${r.eventId}/${r.transition}`);
      if (JSON.stringify(got) !== JSON.stringify(expected.get(vm))) {
        outOfOrder++;
        if (outOfOrder <= 3) checks.equal(`transitions of ${vm} at the hub`, got, expected.get(vm));
      }
    }
    const arrived = rows.length;
    const lost = Math.max(0, total - arrived);
    checks.equal('VMs whose transitions are missing, extra or out of order', outOfOrder, 0);
    checks.equal('transitions at the hub', arrived, total);
    const left = agents.map((a) => a.agent.heartbeatPayload().outbox).reduce((a, b) => a + b, 0);
    checks.equal('transitions left in outboxes', left, 0);
    return verdict(
      name,
      `hub outage ${o.outageMinutes} min (×${o.scale}): ${vms.length} agents, ${totalSpooled} spooled, ${arrived}/${total} arrived, ${lost} lost, ${outOfOrder} VMs out of order`,
      {
        vms: vms.length,
        spooled: totalSpooled,
        maxOutbox,
        expected: total,
        arrived,
        lost,
        outOfOrder,
        outageMs,
      },
      checks.failures,
      startedAt,
    );
  } catch (err) {
    checks.that(`drill did not finish: ${(err as Error).message.split('\n')[0]}`, false);
    return verdict(name, `hub outage ${o.outageMinutes} min: did not finish`, {}, checks.failures, startedAt);
  } finally {
    await Promise.all(agents.map((a) => a.close()));
    await h?.close();
    await t.close();
  }
}
