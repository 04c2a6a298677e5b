// The whole path with real parts: simulator → agent → hub (SQLite) → planner → executor → webhook.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgent } from '../helpers/agent.js';
import { startHub, startReceiver, type Receiver, type TestHub } from '../helpers/hub.js';
import { startSim, type TestSim } from '../helpers/sim.js';
import { waitFor } from '../helpers/wait.js';

let t: TestSim;
let h: TestHub;
let rx: Receiver;
let agents: ReturnType<typeof startAgent>[] = [];

beforeEach(async () => {
  t = await startSim();
  rx = await startReceiver();
});
afterEach(async () => {
  await Promise.all(agents.map((a) => a.close()));
  agents = [];
  await h?.close();
  await t.close();
  await rx.close();
});

function agentFor(vm: string) {
  const a = startAgent({
    vm,
    'metadata.url': `${t.url}/vm/${vm}`,
    'hub.url': h.url,
    'hub.token': h.agentToken(vm),
    'hub.heartbeat': '200ms',
  });
  agents.push(a);
  return a;
}

describe('hub end to end', () => {
  it('one platform event seen by two VMs is stored once and acted on once per affected VM', async () => {
    h = await startHub({
      rules: [
        {
          name: 'tell-ops',
          match: { types: ['reboot'] },
          steps: [{ name: 'hook', action: 'webhook', with: { url: rx.url } }],
        },
      ],
    });
    agentFor('web-01');
    agentFor('web-02');
    const [e] = t.sim.controller.schedule({ type: 'Reboot', targets: { vms: ['web-01'] } });
    await waitFor(() => rx.calls.length >= 1);
    const detail = await waitFor(async () => {
      const d = await h.api('GET', `/api/v1/events/azure/${e!.eventId}`);
      return d.body?.transitions?.[0]?.sightings?.length === 2 ? d.body : undefined;
    });
    expect(detail.event).toMatchObject({ type: 'reboot', status: 'scheduled', resources: ['web-01'] });
    expect(detail.transitions).toHaveLength(1);
    expect(detail.event.reporters.sort()).toEqual(['web-01', 'web-02']);
    await new Promise((r) => setTimeout(r, 300));
    expect(rx.calls).toHaveLength(1); // web-02 only saw it: no second run
    expect(rx.calls[0]!.body).toMatchObject({
      rule: 'tell-ops',
      vm: 'web-01',
      transition: 'scheduled',
      event: { eventId: e!.eventId },
    });
    expect(rx.calls[0]!.headers['idempotency-key']).toMatch(/^fw-[0-9a-f]{32}$/);
  });
});
