// A rule step `approve` end to end with real parts: simulator → agent → hub → webhook, then the
// approve command to the agent's long-poll → StartRequests on the simulator → the event starts.
// The command waits for the previous step; an approve for an event that does not concern the VM
// is refused, by the hub (rule step) and by the agent (operator command).
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgent } from '../helpers/agent.js';
import { OPERATOR, READER, startHub, type TestHub } from '../helpers/hub.js';
import { cloudEvent, maintenance, publishOne } from '../helpers/hub-publish.js';
import { startRawReceiver, type RawReceiver } from '../helpers/raw-receiver.js';
import { startSim, type TestSim } from '../helpers/sim.js';
import { waitFor } from '../helpers/wait.js';

let t: TestSim;
let h: TestHub | undefined;
let rx: RawReceiver;
let agents: ReturnType<typeof startAgent>[] = [];

beforeEach(async () => {
  t = await startSim();
  rx = await startRawReceiver();
});
afterEach(async () => {
  await Promise.all(agents.map((a) => a.close()));
  agents = [];
  await h?.close();
  h = undefined;
  await t.close();
  await rx.close();
});

function agentFor(vm: string) {
  const a = startAgent({
    vm,
    'metadata.url': `${t.url}/vm/${vm}`,
    'hub.url': h!.url,
    'hub.token': h!.agentToken(vm),
    'hub.heartbeat': '200ms',
  });
  agents.push(a);
  return a;
}

async function detail(eventId: string) {
  const res = await h!.api('GET', `/api/v1/events/azure/${eventId}`, undefined, READER);
  return res.status === 200 ? res.body : undefined;
}

async function finishedSteps(eventId: string, n: number): Promise<any[]> {
  return waitFor(
    async () => {
      const res = await h!.api(
        'GET',
        `/api/v1/steps?event=azure/${eventId.toLowerCase()}`,
        undefined,
        READER,
      );
      const steps: any[] = res.body.steps ?? [];
      return steps.length === n && steps.every((s) => ['succeeded', 'dead', 'skipped'].includes(s.status))
        ? steps.sort((a, b) => a.idx - b.idx)
        : undefined;
    },
    15_000,
    50,
  );
}

const activity = (eventId: string) =>
  t.sim.controller.visibleTo('web-01').find((a) => a.eventId === eventId) ??
  t.sim.controller.visibleTo('web-02').find((a) => a.eventId === eventId);

const approveRule = (url: string, match: Record<string, unknown> = { types: ['reboot'] }) => ({
  name: 'approve-early',
  match,
  steps: [
    { name: 'notify', action: 'webhook', with: { url } },
    { name: 'ok', action: 'approve' },
  ],
});

describe('approve step', () => {
  it('sends approve only after the webhook succeeded; the agent approves; the result is recorded; the event starts', async () => {
    h = await startHub({ rules: [approveRule(rx.url)] });
    // The webhook fails once, then takes a second to answer 200.
    rx.script = [500, { status: 200, delayMs: 1000 }];
    agentFor('web-01');
    const [e] = t.sim.controller.schedule({ type: 'Reboot', targets: { vms: ['web-01'] } });
    const eventId = e!.eventId;

    // While the webhook has not succeeded, nothing is queued and nothing is approved.
    await waitFor(() => rx.calls.length === 2, 10_000);
    await sleep(300);
    expect((await detail(eventId))?.commands).toEqual([]);
    expect(t.sim.controller.approvals(eventId)).toEqual([]);

    const approval = await waitFor(
      () => t.sim.controller.approvals(eventId).find((a) => a.result === 'approved'),
      10_000,
    );
    expect(approval.vm).toBe('web-01');
    const answered = rx.calls[1]!.at + 1000;
    expect(Date.parse(approval.at)).toBeGreaterThanOrEqual(answered - 5);

    const withResult = await waitFor(async () => {
      const d = await detail(eventId);
      return d?.commands?.[0]?.result ? d : undefined;
    });
    const [command] = withResult.commands;
    expect(command).toMatchObject({
      vm: 'web-01',
      type: 'approve',
      eventId,
      origin: 'rule:approve-early/ok',
      result: { ok: true, detail: expect.stringMatching(/approved/) },
    });
    expect(Date.parse(command.createdAt)).toBeGreaterThanOrEqual(answered - 5);
    expect(Date.parse(command.deliveredAt)).toBeGreaterThanOrEqual(Date.parse(command.createdAt));
    expect(Date.parse(command.completedAt)).toBeGreaterThanOrEqual(Date.parse(command.deliveredAt));

    const steps = await finishedSteps(eventId, 2);
    expect(steps.map((s) => [s.name, s.status, s.attempts])).toEqual([
      ['notify', 'succeeded', 2],
      ['ok', 'succeeded', 1],
    ]);

    // The simulator starts the approved event, and the agent reports that to the hub.
    expect(activity(eventId)?.status ?? 'Completed').not.toBe('Scheduled');
    const started = await waitFor(async () => {
      const d = await detail(eventId);
      return d?.transitions?.some((x: any) => x.transition === 'started') ? d : undefined;
    }, 10_000);
    expect(started.event.status).toBe('started');
    expect(t.sim.controller.approvals(eventId)).toHaveLength(1);
  });

  it('refuses to approve for a VM the event does not concern: dead-lettered NonRetryable, no command, no approval', async () => {
    h = await startHub({ rules: [approveRule(rx.url, { vms: ['web-02'] })] });
    const [e] = t.sim.controller.schedule({ type: 'Reboot', targets: { vms: ['web-01'] } });
    const eventId = e!.eventId;
    // web-02 (same availability set) reports the event with no affected resource: the hub plans it
    // for the reporter, web-02, which the event does not concern.
    const data = maintenance('web-02', {
      eventId,
      notBefore: new Date(Math.floor(e!.notBefore / 1000) * 1000).toISOString(),
      resources: [],
      mine: false,
    });
    const res = await publishOne(h, h.agentToken('web-02'), cloudEvent(data));
    expect(res.status, res.text).toBe(200);
    agentFor('web-02');

    const steps = await finishedSteps(eventId, 2);
    expect(steps[0]).toMatchObject({ name: 'notify', status: 'succeeded', vm: 'web-02' });
    expect(steps[1]).toMatchObject({
      name: 'ok',
      status: 'dead',
      attempts: 1,
      deadReason: expect.stringMatching(/^NonRetryable/),
      lastError: expect.stringMatching(/does not concern web-02/),
    });
    await sleep(1000);
    expect((await detail(eventId))?.commands).toEqual([]);
    expect(t.sim.controller.approvals(eventId)).toEqual([]);
    expect(activity(eventId)?.status).toBe('Scheduled');
    const dead = await h.api('GET', '/api/v1/dead-letter', undefined, READER);
    expect(dead.body.steps.map((s: any) => s.name)).toEqual(['ok']);
  });

  it('an operator approve sent to a sibling’s agent is refused by the agent and recorded; nothing is approved', async () => {
    h = await startHub();
    agentFor('web-02');
    const [e] = t.sim.controller.schedule({ type: 'Reboot', targets: { vms: ['web-01'] } });
    const eventId = e!.eventId;
    await waitFor(async () => (await detail(eventId))?.event, 10_000);
    expect(
      (await h.api('POST', '/api/v1/agents/web-02/commands', { type: 'approve', eventId }, READER)).status,
    ).toBe(403);
    const queued = await h.api(
      'POST',
      '/api/v1/agents/web-02/commands',
      { type: 'approve', eventId },
      OPERATOR,
    );
    expect(queued.status, JSON.stringify(queued.body)).toBe(201);
    const done = await waitFor(async () => {
      const d = await detail(eventId);
      return d?.commands?.[0]?.result ? d.commands[0] : undefined;
    }, 10_000);
    expect(done).toMatchObject({
      vm: 'web-02',
      result: { ok: false, detail: expect.stringMatching(/does not concern web-02/) },
    });
    expect(t.sim.controller.approvals(eventId)).toEqual([]);
    expect(activity(eventId)?.status).toBe('Scheduled');
  });
});
