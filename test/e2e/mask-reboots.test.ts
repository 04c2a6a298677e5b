// The acceptance test of issue 6, every part real: a real HAProxy in front of 3 small HTTP
// backends (one per simulated VM, server name = VM name), a real agent per VM polling the
// simulator, a hub with a pool `web` (maxUnavailable 1) and the rule "drain, then approve; put
// back after". A client sends requests through HAProxy the whole time. When the simulator starts
// a VM's (approved) event, that VM's backend stops ("the reboot"); when it completes, it starts.
// Two Reboots: vm1 goes first, vm2's drain is held by the budget until vm1 is back, then vm2.
// Canceling while drained puts the VM back at once. (Hub killed while drained → the reconciler
// restores it: test/hub/lb-kill.test.ts.)
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activity } from '../../src/simulator/controller.js';
import { startAgent } from '../helpers/agent.js';
import {
  haproxySkipReason,
  startClient,
  startHaproxy,
  type LoadClient,
  type TestHaproxy,
} from '../helpers/haproxy.js';
import { READER, startHub, type TestHub } from '../helpers/hub.js';
import { startSim, type TestSim } from '../helpers/sim.js';
import { waitFor } from '../helpers/wait.js';

const skip = haproxySkipReason();
if (skip) console.warn(`skipping the mask-reboots end-to-end test: ${skip}`);

const VMS = ['vm1', 'vm2', 'vm3'] as const;
/** Simulator time runs 60× fast: a 90 min notice is 90 s, a 3 min reboot 3 s. */
const TIME_SCALE = 60;
const NOTICE = 'PT90M';
const REBOOT = 'PT3M';

let hp: TestHaproxy;
let sim: TestSim;
let h: TestHub;
let client: LoadClient;
let agents: ReturnType<typeof startAgent>[] = [];
/** What the "cloud" did to each VM's backend, in order. */
const timeline: { at: number; what: string }[] = [];
/** Most servers out of the `web` backend at once (admin state not ready), sampled every 50 ms. */
let maxOut = 0;
let sampler: NodeJS.Timeout | undefined;

function maskRule(socket: string) {
  const lb = { socket, backend: 'web', server: '{{vm}}' };
  return {
    name: 'mask-reboots',
    match: { types: ['reboot'] },
    steps: [
      { name: 'drain', action: 'haproxy', with: { ...lb, operation: 'drain', drainTimeout: '10s' } },
      // Platform reboots wait for NotBefore (the cancel case); user-initiated ones go at once.
      { name: 'approve', action: 'approve', with: { origins: ['user'] } },
    ],
    undo: [
      {
        name: 'restore',
        action: 'haproxy',
        retry: { maxAttempts: 100, maxBackoff: '500ms' },
        with: {
          ...lb,
          operation: 'ready',
          afterHeartbeat: true,
          healthCheck: { path: '/health', timeout: '1s' },
        },
      },
    ],
  };
}

async function get(path: string): Promise<any> {
  const res = await h.api('GET', path, undefined, READER);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

const history = (eventId: string) => get(`/api/v1/events/azure/${eventId.toLowerCase()}`);

function schedule(vm: string, source: 'User' | 'Platform'): string {
  const [a] = sim.sim.controller.schedule({
    type: 'Reboot',
    targets: { vms: [vm] },
    source,
    notice: NOTICE,
    startedFor: REBOOT,
  });
  return a!.eventId;
}

async function stepsSettled(eventId: string, n: number): Promise<Record<string, any>> {
  const found = await waitFor(
    async () => {
      const { steps } = await history(eventId);
      return steps.length === n &&
        steps.every((s: any) => ['succeeded', 'dead', 'skipped'].includes(s.status))
        ? steps
        : undefined;
    },
    60_000,
    100,
  );
  return Object.fromEntries(found.map((s: any) => [s.name, s]));
}

const ms = (iso: string) => Date.parse(iso);
const at = (what: string) => timeline.find((t) => t.what === what)?.at ?? NaN;

describe.skipIf(skip)('mask reboots from users (HAProxy, simulator, agents, hub, budgets)', () => {
  beforeAll(async () => {
    hp = await startHaproxy();
    sim = await startSim({ timeScale: TIME_SCALE });
    for (const vm of VMS) sim.sim.controller.fleet.add({ name: vm, pool: 'web', tags: { role: 'web' } });
    // The "reboot": a VM's backend is down from the moment its event starts until it completes.
    sim.sim.controller.on('activity', (a: Activity) => {
      const vm = a.resources[0]!;
      const backend = hp.backends.find((b) => b.name === vm);
      if (!backend) return;
      if (a.status === 'Started' && backend.running) {
        timeline.push({ at: Date.now(), what: `${vm} down` });
        void backend.stop();
      }
      if ((a.status === 'Completed' || a.status === 'Canceled') && !backend.running) {
        void backend.start().then(() => timeline.push({ at: Date.now(), what: `${vm} up` }));
      }
    });
    h = await startHub({
      rules: [maskRule(hp.socket)],
      pools: [{ name: 'web', match: { vms: ['vm*'] }, maxUnavailable: 1, forceBefore: '10s' }],
    });
    for (const vm of VMS)
      agents.push(
        startAgent({
          vm,
          'metadata.url': `${sim.url}/vm/${vm}`,
          'hub.url': h.url,
          'hub.token': h.agentToken(vm),
          'hub.heartbeat': '200ms',
        }),
      );
    await waitFor(async () => (await get('/api/v1/fleet')).vms.length === 3, 20_000);
    sampler = setInterval(() => {
      void Promise.all(VMS.map((vm) => hp.mode(vm).catch(() => 'ready'))).then((modes) => {
        maxOut = Math.max(maxOut, modes.filter((m) => m !== 'ready').length);
      });
    }, 50);
    client = startClient(hp.url);
  }, 60_000);

  afterAll(async () => {
    if (sampler) clearInterval(sampler);
    await client?.stop();
    await Promise.all(agents.map((a) => a.close()));
    agents = [];
    await h?.close();
    await sim?.close();
    await hp?.stop();
  });

  it(
    'vm1 drained, approved, rebooted, restored once healthy; then vm2 the same; no request fails',
    { timeout: 150_000 },
    async () => {
      const e1 = schedule('vm1', 'User');
      // vm1 holds the pool's only slot before vm2's event exists: vm1 goes first.
      await waitFor(
        async () => (await get('/api/v1/pools')).pools[0].inUse.some((s: any) => s.vm === 'vm1'),
        20_000,
      );
      const e2 = schedule('vm2', 'User');

      // vm2's drain is held by the budget while vm1 is out, and says why; vm2 stays in the pool.
      const held = await waitFor(
        async () => (await get('/api/v1/pools')).pools[0].held.find((x: any) => x.vm === 'vm2'),
        20_000,
      );
      expect(held).toMatchObject({
        step: 'drain',
        rule: 'mask-reboots',
        reason: expect.stringMatching(/^pool web is full \(1 unavailable at most\): vm1 /),
      });
      expect(await hp.mode('vm2')).toBe('ready');

      const s1 = await stepsSettled(e1, 3);
      const s2 = await stepsSettled(e2, 3);
      for (const s of [s1, s2])
        expect([s.drain.status, s.approve.status, s.restore.status]).toEqual([
          'succeeded',
          'succeeded',
          'succeeded',
        ]);
      await waitFor(() => timeline.filter((t) => t.what.endsWith(' up')).length === 2, 10_000);

      // In order: vm1 drain → approve → down → up → restored; only then vm2's drain ran.
      // (the approve step finishes when the agent reports back, after the simulator started the event)
      const approved = (id: string) =>
        ms(sim.sim.controller.approvals(id).find((a) => a.result === 'approved')!.at);
      expect(ms(s1.drain.finishedAt)).toBeLessThanOrEqual(approved(e1));
      expect(approved(e1)).toBeLessThanOrEqual(at('vm1 down'));
      expect(at('vm1 down')).toBeLessThan(at('vm1 up'));
      expect(at('vm1 up')).toBeLessThanOrEqual(ms(s1.restore.finishedAt));
      expect(ms(s1.restore.finishedAt)).toBeLessThanOrEqual(ms(s2.drain.finishedAt));
      expect(ms(s2.drain.finishedAt)).toBeLessThanOrEqual(approved(e2));
      expect(approved(e2)).toBeLessThanOrEqual(at('vm2 down'));
      expect(at('vm2 down')).toBeLessThan(at('vm2 up'));
      expect(at('vm2 up')).toBeLessThanOrEqual(ms(s2.restore.finishedAt));
      expect(maxOut).toBe(1);

      // The history of each event, from GET /api/v1/events/<key>.
      // (the slot is freed, and that audited, just after the restore step is recorded)
      const afterRelease = (id: string) =>
        waitFor(
          async () => {
            const d = await history(id);
            return d.audit.some((a: any) => a.action === 'budget.released') ? d : undefined;
          },
          10_000,
          100,
        );
      const h1 = await afterRelease(e1);
      const h2 = await afterRelease(e2);
      for (const d of [h1, h2]) {
        expect(d.transitions.map((t: any) => t.transition)).toEqual(['scheduled', 'started', 'completed']);
        expect(d.commands).toMatchObject([
          { type: 'approve', origin: 'rule:mask-reboots/approve', result: { ok: true } },
        ]);
        const audit = d.audit.map((a: any) => a.action);
        expect(audit).toContain('budget.released');
        expect(audit).not.toContain('budget.overridden');
        const times = [
          ...d.transitions.map((t: any) => t.receivedAt ?? t.at),
          ...d.steps.map((s: any) => s.finishedAt),
        ];
        for (const t of times) expect(Number.isNaN(ms(t))).toBe(false);
        const [drainAt, approveAt, restoreAt] = d.steps.map((s: any) => ms(s.finishedAt));
        expect(drainAt).toBeLessThanOrEqual(approveAt);
        expect(approveAt).toBeLessThanOrEqual(restoreAt);
        const released = d.audit.find((a: any) => a.action === 'budget.released');
        expect(ms(released.at)).toBeGreaterThanOrEqual(restoreAt);
      }
      expect(h2.audit.map((a: any) => a.action)).toContain('budget.held');
      expect(h1.audit.map((a: any) => a.action)).not.toContain('budget.held');
      const heldEntry = h2.audit.find((a: any) => a.action === 'budget.held');
      expect(ms(heldEntry.at)).toBeLessThan(ms(h1.steps.find((s: any) => s.name === 'restore').finishedAt));
      expect(t(h1, 'started')).toBeLessThan(t(h1, 'completed'));

      // Back to three servers; clients were served throughout, by vm1 again after its restore.
      await waitFor(
        async () => (await Promise.all(VMS.map((vm) => hp.status(vm)))).every((s) => s === 'UP'),
        15_000,
      );
      const served = { ...client.byServer };
      await waitFor(() => VMS.every((vm) => (client.byServer[vm] ?? 0) > (served[vm] ?? 0) + 5), 15_000);
      expect((await get('/api/v1/pools')).pools[0]).toMatchObject({ inUse: [], held: [] });
      expect(client.failed, client.errors.slice(0, 5).join('; ')).toBe(0);
      expect(client.ok).toBeGreaterThan(100);

      if (process.env.FOREWARN_WRITE_EXAMPLES) {
        for (const step of h1.steps) step.attemptList = (await get(`/api/v1/steps/${step.id}`)).attempts;
        writeExample(h1);
      }
    },
  );

  it(
    'a platform reboot canceled while its VM is drained → back in the pool at once',
    { timeout: 60_000 },
    async () => {
      const e3 = schedule('vm3', 'Platform');
      await waitFor(async () => (await hp.mode('vm3')) === 'drain', 20_000);
      // The approve step leaves a platform reboot to its NotBefore (policy): the event stays Scheduled.
      const before = await waitFor(async () => {
        const { steps } = await history(e3);
        return steps.find((s: any) => s.name === 'approve' && s.status === 'succeeded');
      }, 20_000);
      expect(before.status).toBe('succeeded');
      expect(sim.sim.controller.approvals(e3)).toEqual([]);
      sim.sim.controller.cancel(e3);
      const s3 = await stepsSettled(e3, 3);
      expect(s3.restore).toMatchObject({ status: 'succeeded', attempts: 1 });
      expect(await hp.mode('vm3')).toBe('ready');
      const d = await history(e3);
      expect(d.transitions.map((x: any) => x.transition)).toEqual(['scheduled', 'canceled']);
      expect(d.commands).toEqual([]);
      await waitFor(async () => (await get('/api/v1/pools')).pools[0].inUse.length === 0, 10_000);
      expect(timeline.some((x) => x.what === 'vm3 down')).toBe(false);
      expect(client.failed, client.errors.slice(0, 5).join('; ')).toBe(0);
    },
  );
});

function t(d: any, transition: string): number {
  const row = d.transitions.find((x: any) => x.transition === transition);
  return ms(row.receivedAt ?? row.at);
}

/** docs/examples/mask-reboots-history.json: vm1's history, trimmed to what a reader needs. */
function writeExample(d: any): void {
  const trimmed = {
    event: { key: d.event.key, type: d.event.type, origin: d.event.origin, status: d.event.status },
    transitions: d.transitions.map((x: any) => ({ transition: x.transition, receivedAt: x.receivedAt })),
    steps: d.steps.map((s: any) => ({
      name: s.name,
      vm: s.vm,
      phase: s.phase,
      status: s.status,
      attempts: s.attemptList.map((a: any) => ({
        startedAt: a.startedAt,
        finishedAt: a.finishedAt,
        ok: a.ok,
        detail: a.detail,
      })),
    })),
    commands: d.commands.map((c: any) => ({
      type: c.type,
      origin: c.origin,
      createdAt: c.createdAt,
      deliveredAt: c.deliveredAt,
      completedAt: c.completedAt,
      result: c.result,
    })),
    audit: [...d.audit]
      .sort((a: any, b: any) => a.id - b.id)
      .map((a: any) => ({
        at: a.at,
        actor: a.actor,
        action: a.action,
        detail: { ...a.detail, clauses: undefined },
      })),
  };
  writeFileSync(
    new URL('../../docs/examples/mask-reboots-history.json', import.meta.url),
    `${JSON.stringify(trimmed, null, 2)}\n`,
  );
}
