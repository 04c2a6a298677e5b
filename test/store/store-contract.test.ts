// One suite, two backends: every Store behaviour the hub relies on, run against SQLite and against
// the real PostgreSQL (a fresh schema per test). Anything one backend does differently fails here.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MaintenanceEvent, Transition } from '../../src/core/event.js';
import { idempotencyKey } from '../../src/hub/planner.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { IncomingTransition, NewStep, RunRow, Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/agent.js';
import { openTestPostgres, postgresOrSkip } from '../helpers/postgres.js';

const pgReady = await postgresOrSkip();
const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const at = (ms = 0) => new Date(T0 + ms).toISOString();

const backends: { name: string; ready: boolean; open: () => Promise<Store> }[] = [
  { name: 'sqlite', ready: true, open: async () => new SqliteStore(join(tempDir('fw-contract-'), 'hub.db')) },
  { name: 'postgres', ready: pgReady, open: () => openTestPostgres() },
];

function event(vm: string, o: Partial<MaintenanceEvent> = {}): MaintenanceEvent {
  return {
    provider: 'azure',
    eventId: 'EV-1',
    vm,
    type: 'reboot',
    status: 'scheduled',
    notBefore: at(900_000),
    durationSeconds: -1,
    description: 'Host server is undergoing maintenance.',
    origin: 'platform',
    resources: [vm],
    raw: { EventId: 'EV-1', Ordered: ['z', 'a'] },
    ...o,
  } as MaintenanceEvent;
}

function incoming(
  vm: string,
  transition: Transition = 'scheduled',
  o: Partial<MaintenanceEvent> = {},
  ceId?: string,
): IncomingTransition {
  const e = event(vm, o);
  return {
    ceSource: `/forewarn/vms/${vm}`,
    ceId: ceId ?? `${e.provider}/${e.eventId}/${transition}/${e.notBefore ?? ''}`,
    transition,
    reporter: vm,
    mine: true,
    observedAt: at(),
    event: e,
    via: 'cloudevents-structured',
  };
}

function steps(runKey: string, n: number, o: Partial<NewStep> = {}): NewStep[] {
  return Array.from({ length: n }, (_, idx) => ({
    idx,
    name: `s${idx}`,
    action: 'webhook',
    params: { url: 'http://x/', n: idx },
    timeoutMs: 2000,
    maxAttempts: 3,
    maxBackoffMs: 1000,
    runAfterDeadline: false,
    dueAt: at(),
    deadline: at(900_000),
    idempotencyKey: idempotencyKey(runKey, idx),
    disruptive: false,
    ...o,
  }));
}

function run(key: string, o: Partial<RunRow> = {}): RunRow {
  return {
    key,
    rule: 'r1',
    eventKey: 'azure/ev-1',
    vm: 'vm-a',
    phase: 'do',
    triggerTransitionId: 1,
    createdAt: at(),
    ...o,
  };
}

describe.each(backends)('store contract: $name', ({ ready, open }) => {
  let s: Store;
  beforeEach(async (ctx) => {
    if (!ready) return ctx.skip();
    s = await open();
  });
  afterEach(async () => {
    if (ready) await s.close();
  });

  describe('ingest', () => {
    it('stores new transitions, answers a retry as duplicate, merges the same platform event from another VM', async () => {
      const first = await s.ingest([incoming('vm-a')], at(1));
      expect(first).toEqual([{ outcome: 'new', transitionId: expect.any(Number), eventKey: 'azure/ev-1' }]);
      const again = await s.ingest([incoming('vm-a'), incoming('vm-b')], at(2));
      expect(again.map((r) => r.outcome)).toEqual(['duplicate', 'merged']);
      expect(again.every((r) => r.transitionId === first[0]!.transitionId)).toBe(true);

      const found = (await s.getEvent('azure/ev-1'))!;
      expect(found.event).toMatchObject({
        key: 'azure/ev-1',
        eventId: 'EV-1',
        status: 'scheduled',
        reporters: ['vm-a', 'vm-b'],
        resources: ['vm-a'],
        notBefore: at(900_000),
        durationSeconds: -1,
        firstSeenAt: at(1),
        lastTransition: 'scheduled',
        raw: { EventId: 'EV-1', Ordered: ['z', 'a'] },
      });
      expect(found.transitions).toHaveLength(1);
      expect(found.transitions[0]!.sightings.map((x) => [x.reporter, x.receivedAt])).toEqual([
        ['vm-a', at(1)],
        ['vm-b', at(2)],
      ]);
    });

    it('dedups within one batch and keeps outcomes in input order', async () => {
      const r = await s.ingest([incoming('vm-a'), incoming('vm-a'), incoming('vm-a', 'started')], at());
      expect(r.map((x) => x.outcome)).toEqual(['new', 'duplicate', 'new']);
      expect(r[2]!.transitionId).toBeGreaterThan(r[0]!.transitionId);
      expect((await s.getEventRow('azure/ev-1'))!.status).toBe('scheduled'); // data says scheduled
    });

    it('a late older transition is history only; an event never leaves a final state', async () => {
      await s.ingest([incoming('vm-a', 'completed', { status: 'completed' })], at(1));
      const late = await s.ingest([incoming('vm-b', 'scheduled')], at(2));
      expect(late[0]!.outcome).toBe('new');
      const row = (await s.getEventRow('azure/ev-1'))!;
      expect(row).toMatchObject({ status: 'completed', lastTransition: 'completed', updatedAt: at(1) });
      expect(row.reporters).toEqual(['vm-a', 'vm-b']);
      expect((await s.getEvent('azure/ev-1'))!.transitions.map((t) => t.transition)).toEqual([
        'completed',
        'scheduled',
      ]);
    });

    it('the raw document is the one of the transition that last updated the event, in lists too', async () => {
      const raw = (status: string) => ({ EventId: 'EV-1', EventStatus: status, Nested: { n: [1, 'two'] } });
      await s.ingest([incoming('vm-a', 'scheduled', { raw: raw('Scheduled') })], at(1));
      expect((await s.getEventRow('azure/ev-1'))!.raw).toEqual(raw('Scheduled'));
      await s.ingest([incoming('vm-a', 'started', { status: 'started', raw: raw('Started') })], at(2));
      // Another VM's late `scheduled` is history only: the document stays the `started` one.
      await s.ingest([incoming('vm-b', 'scheduled', { raw: raw('Late') }, 'late-1')], at(3));
      expect((await s.getEventRow('azure/ev-1'))!.raw).toEqual(raw('Started'));
      expect((await s.getEvent('azure/ev-1'))!.event.raw).toEqual(raw('Started'));
      expect((await s.listEvents({})).events[0]!.raw).toEqual(raw('Started'));
      // A provider without a raw document (a cloud push, a timer) has none.
      await s.ingest([incoming('vm-c', 'scheduled', { eventId: 'EV-2', raw: undefined })], at(4));
      expect((await s.getEventRow('azure/ev-2'))!.raw).toBeUndefined();
    });

    it('reschedules: each move is its own transition, the same move from two VMs is merged', async () => {
      await s.ingest([incoming('vm-a')], at());
      const b = { notBefore: at(2_000_000) };
      const c = { notBefore: at(3_000_000) };
      const r1 = await s.ingest(
        [incoming('vm-a', 'rescheduled', b, 'a-1'), incoming('vm-b', 'rescheduled', b, 'b-1')],
        at(1),
      );
      expect(r1.map((x) => x.outcome)).toEqual(['new', 'merged']);
      const r2 = await s.ingest([incoming('vm-a', 'rescheduled', c, 'a-2')], at(2));
      const r3 = await s.ingest([incoming('vm-a', 'rescheduled', b, 'a-3')], at(3)); // back to B: a new move
      expect([r2[0]!.outcome, r3[0]!.outcome]).toEqual(['new', 'new']);
      expect((await s.getEventRow('azure/ev-1'))!.notBefore).toBe(at(2_000_000));
    });

    it('a batch is all or nothing: one unstorable transition and nothing of it is written', async () => {
      const bad = incoming('vm-b', 'scheduled', { eventId: 'EV-2', type: null as never });
      await expect(s.ingest([incoming('vm-a'), bad], at())).rejects.toThrow();
      expect((await s.listEvents({})).total).toBe(0);
      expect(await s.unplanned(10)).toEqual([]);
      expect((await s.ingest([incoming('vm-a')], at()))[0]!.outcome).toBe('new');
    });

    it('unplanned transitions come back in order until marked planned', async () => {
      const r = await s.ingest([incoming('vm-a'), incoming('vm-a', 'started', { status: 'started' })], at(5));
      const un = await s.unplanned(10);
      expect(un.map((t) => [t.transitionId, t.transition, t.eventKey, t.receivedAt, t.mine])).toEqual([
        [r[0]!.transitionId, 'scheduled', 'azure/ev-1', at(5), true],
        [r[1]!.transitionId, 'started', 'azure/ev-1', at(5), true],
      ]);
      expect(un[0]!.event).toMatchObject({ eventId: 'EV-1', notBefore: at(900_000) });
      expect(await s.unplanned(1)).toHaveLength(1);
      await s.markPlanned([r[0]!.transitionId], at(6));
      expect((await s.unplanned(10)).map((t) => t.transitionId)).toEqual([r[1]!.transitionId]);
      await s.markPlanned([r[1]!.transitionId], at(6));
      expect(await s.unplanned(10)).toEqual([]);
    });
  });

  it('heartbeats upsert a VM and keep when it was first seen', async () => {
    expect(await s.getVm('vm-a')).toBeUndefined();
    await s.heartbeat('vm-b', { identity: { name: 'vm-b' } }, at(1));
    await s.heartbeat(
      'vm-a',
      { identity: { name: 'vm-a', tags: { pool: 'web' } }, agentVersion: '1.0' },
      at(1),
    );
    await s.heartbeat(
      'vm-a',
      { identity: { name: 'vm-a' }, agentVersion: '1.1', health: { ok: true } },
      at(2),
    );
    expect(await s.getVm('vm-a')).toEqual({
      name: 'vm-a',
      identity: { name: 'vm-a' },
      agentVersion: '1.1',
      lastHeartbeatAt: at(2),
      health: { ok: true },
      firstSeenAt: at(1),
    });
    expect((await s.listVms()).map((v) => v.name)).toEqual(['vm-a', 'vm-b']);
  });

  it('a batch of heartbeats upserts every VM in one go; a VM twice keeps its last', async () => {
    await s.heartbeat('vm-a', { identity: { name: 'vm-a' }, agentVersion: '1.0' }, at(1));
    await s.heartbeats(
      [
        { vm: 'vm-a', payload: { identity: { name: 'vm-a' }, agentVersion: '1.1' } },
        { vm: 'vm-b', payload: { identity: { name: 'vm-b' }, health: { ok: false } } },
        { vm: 'vm-b', payload: { identity: { name: 'vm-b', tags: { pool: 'web' } }, health: { ok: true } } },
      ],
      at(2),
    );
    await s.heartbeats([], at(3));
    expect(await s.getVm('vm-a')).toMatchObject({
      agentVersion: '1.1',
      lastHeartbeatAt: at(2),
      firstSeenAt: at(1),
    });
    expect(await s.getVm('vm-b')).toEqual({
      name: 'vm-b',
      identity: { name: 'vm-b', tags: { pool: 'web' } },
      agentVersion: undefined,
      lastHeartbeatAt: at(2),
      health: { ok: true },
      firstSeenAt: at(2),
    });
  });

  it('lists events by status, type, provider, VM and time, newest first, paged with a total', async () => {
    for (let i = 0; i < 5; i++)
      await s.ingest(
        [
          incoming(`vm-${i}`, 'scheduled', {
            eventId: `E${i}`,
            type: i % 2 ? 'freeze' : 'reboot',
            provider: i === 4 ? 'aws' : 'azure',
          }),
        ],
        at(i * 1000),
      );
    await s.ingest([incoming('vm-0', 'completed', { eventId: 'E0', status: 'completed' })], at(9000));
    const keys = async (f: Parameters<Store['listEvents']>[0]) =>
      (await s.listEvents(f)).events.map((e) => e.eventId);
    expect(await keys({})).toEqual(['E0', 'E4', 'E3', 'E2', 'E1']);
    expect(await keys({ status: 'scheduled' })).toEqual(['E4', 'E3', 'E2', 'E1']);
    expect(await keys({ type: 'freeze' })).toEqual(['E3', 'E1']);
    expect(await keys({ provider: 'aws' })).toEqual(['E4']);
    expect(await keys({ vm: 'vm-2' })).toEqual(['E2']);
    expect(await keys({ vm: 'vm-' })).toEqual([]);
    expect(await keys({ since: at(2000), until: at(4000) })).toEqual(['E3', 'E2']);
    const page = await s.listEvents({ limit: 2, offset: 1 });
    expect(page.total).toBe(5);
    expect(page.events.map((e) => e.eventId)).toEqual(['E4', 'E3']);
  });

  it('commands: queued once, taken and redelivered only after a while, first result wins', async () => {
    const c = { id: 'c1', vm: 'vm-a', type: 'approve' as const, eventId: 'EV-1', origin: 'operator:x' };
    const queued = await s.enqueueCommand(c, at(1));
    expect(queued).toMatchObject({ ...c, createdAt: at(1), deliveries: 0 });
    expect(await s.enqueueCommand({ ...c, origin: 'other' }, at(2))).toEqual(queued);
    await s.enqueueCommand(
      { id: 'c2', vm: 'vm-a', type: 'run-hook', hook: 'drain', origin: 'planner' },
      at(2),
    );
    await s.enqueueCommand(
      { id: 'c3', vm: 'vm-b', type: 'run-hook', hook: 'drain', origin: 'planner' },
      at(2),
    );

    const taken = await s.takeCommands('vm-a', at(10), 60_000, 50);
    expect(taken.map((x) => [x.id, x.deliveries, x.deliveredAt])).toEqual([
      ['c1', 1, at(10)],
      ['c2', 1, at(10)],
    ]);
    expect(await s.takeCommands('vm-a', at(20), 60_000, 50)).toEqual([]);
    expect((await s.takeCommands('vm-a', at(70_000), 60_000, 1)).map((x) => [x.id, x.deliveries])).toEqual([
      ['c1', 2],
    ]);

    expect(await s.completeCommand('vm-b', 'c1', { ok: true, detail: 'x' }, at(30))).toBeUndefined();
    const done = await s.completeCommand('vm-a', 'c1', { ok: true, detail: 'approved' }, at(30));
    expect(done).toMatchObject({ completedAt: at(30), result: { ok: true, detail: 'approved' } });
    await s.completeCommand('vm-a', 'c1', { ok: false, detail: 'again' }, at(40));
    expect((await s.getCommand('c1'))!.result).toEqual({ ok: true, detail: 'approved' });
    expect((await s.takeCommands('vm-a', at(200_000), 60_000, 50)).map((x) => x.id)).toEqual(['c2']);
    expect(await s.getCommand('nope')).toBeUndefined();

    await s.ingest([incoming('vm-a')], at());
    expect((await s.getEvent('azure/ev-1'))!.commands.map((x) => x.id)).toEqual(['c1']);
  });

  describe('runs and steps', () => {
    it('creates a run once, with its steps and audit entry in one commit', async () => {
      const audit = {
        at: at(),
        actor: 'planner',
        action: 'rule.matched',
        subject: 'event:azure/ev-1',
        detail: { a: 1 },
      };
      const snapshot = { key: 'azure/ev-1', notBefore: at(900_000) } as never;
      expect(await s.createRun(run('k1', { snapshot }), steps('k1', 2), audit)).toBe(true);
      expect(await s.createRun(run('k1'), steps('k1', 3), audit)).toBe(false);
      expect(await s.getRun('k1')).toEqual(run('k1', { snapshot }));
      expect(await s.getRun('nope')).toBeUndefined();
      const st = await s.stepsOfRun('k1');
      expect(st.map((x) => [x.idx, x.status, x.attempts, x.params, x.runAfterDeadline])).toEqual([
        [0, 'pending', 0, { url: 'http://x/', n: 0 }, false],
        [1, 'pending', 0, { url: 'http://x/', n: 1 }, false],
      ]);
      expect(st[0]).toMatchObject({
        timeoutMs: 2000,
        maxAttempts: 3,
        dueAt: at(),
        deadline: at(900_000),
        leadMs: undefined,
      });
      expect((await s.auditLog('event:azure/ev-1')).map((e) => e.detail)).toEqual([{ a: 1 }]);

      await s.createRun(run('k2', { vm: 'vm-b', phase: 'undo' }), steps('k2', 1));
      expect((await s.runsForEvent('azure/ev-1')).map((r) => r.key)).toEqual(['k1', 'k2']);
      expect((await s.runsForEvent('azure/ev-1', { vm: 'vm-b' })).map((r) => r.key)).toEqual(['k2']);
      expect((await s.runsForEvent('azure/ev-1', { phase: 'do' })).map((r) => r.key)).toEqual(['k1']);
    });

    it('claims due steps in order, one step of a run after the other, under a lease', async () => {
      await s.createRun(run('k1'), steps('k1', 2));
      await s.createRun(run('k2'), steps('k2', 1, { dueAt: at(5000), leadMs: 5000 }));
      expect(await s.nextDue()).toBe(at());
      const claimed = await s.claimDue(at(100), 15_000, 10);
      expect(claimed.map((x) => [x.runKey, x.idx, x.status, x.attempts, x.leaseUntil])).toEqual([
        ['k1', 0, 'running', 1, at(100 + 2000 + 15_000)],
      ]);
      expect(await s.claimDue(at(200), 15_000, 10)).toEqual([]); // idx 1 waits for idx 0
      await s.finishAttempt(
        claimed[0]!.id,
        { n: 1, startedAt: at(100), finishedAt: at(150), ok: true, detail: 'ok', output: { status: 200 } },
        { status: 'succeeded' },
        at(150),
      );
      const next = await s.claimDue(at(6000), 15_000, 10);
      expect(next.map((x) => [x.runKey, x.idx])).toEqual([
        ['k1', 1],
        ['k2', 0],
      ]);
      const done = (await s.getStep(claimed[0]!.id))!;
      expect(done).toMatchObject({
        status: 'succeeded',
        finishedAt: at(150),
        rule: 'r1',
        vm: 'vm-a',
        phase: 'do',
      });
      expect(done.leaseUntil).toBeUndefined();
      expect(await s.attemptsOf(claimed[0]!.id)).toEqual([
        {
          id: expect.any(Number),
          stepId: claimed[0]!.id,
          n: 1,
          startedAt: at(100),
          finishedAt: at(150),
          ok: true,
          retryable: undefined,
          status: undefined,
          detail: 'ok',
          output: { status: 200 },
        },
      ]);
      expect(await s.nextDue()).toBeUndefined();
    });

    it('concurrent claims never hand out the same step twice', async () => {
      for (let i = 0; i < 30; i++) await s.createRun(run(`k${i}`), steps(`k${i}`, 1));
      const claims = await Promise.all(Array.from({ length: 6 }, () => s.claimDue(at(10), 15_000, 8)));
      const ids = claims.flat().map((x) => x.id);
      expect(new Set(ids).size).toBe(ids.length);
      const rest = await s.claimDue(at(10), 15_000, 100);
      expect(ids.length + rest.length).toBe(30);
    });

    it('retries, dead-letters, redrives; reaps only expired leases', async () => {
      await s.createRun(run('k1'), steps('k1', 1));
      await s.createRun(run('k2'), steps('k2', 1));
      const [a, b] = await s.claimDue(at(0), 1000, 10);
      await s.finishAttempt(
        a!.id,
        {
          n: 1,
          startedAt: at(0),
          finishedAt: at(10),
          ok: false,
          retryable: true,
          status: 503,
          detail: 'busy',
        },
        { status: 'pending', dueAt: at(500), lastError: 'busy' },
        at(10),
      );
      expect(await s.getStep(a!.id)).toMatchObject({
        status: 'pending',
        dueAt: at(500),
        lastError: 'busy',
        attempts: 1,
      });
      expect(await s.claimDue(at(400), 1000, 10)).toEqual([]);
      const [again] = await s.claimDue(at(500), 1000, 10);
      expect([again!.id, again!.attempts]).toEqual([a!.id, 2]);
      await s.finishAttempt(
        a!.id,
        {
          n: 2,
          startedAt: at(500),
          finishedAt: at(510),
          ok: false,
          retryable: false,
          status: 400,
          detail: 'no',
        },
        { status: 'dead', lastError: 'no', deadReason: 'NonRetryable (400)' },
        at(510),
      );
      expect((await s.listSteps({ status: 'dead' })).map((x) => [x.id, x.deadReason, x.eventKey])).toEqual([
        [a!.id, 'NonRetryable (400)', 'azure/ev-1'],
      ]);
      expect((await s.attemptsOf(a!.id)).map((x) => [x.n, x.ok, x.retryable, x.status])).toEqual([
        [1, false, true, 503],
        [2, false, false, 400],
      ]);

      // b is still running: its lease (now + 2000 + 1000) has not run out at 2999, has at 3001.
      expect(await s.reapExpired(at(2999))).toBe(0);
      expect(await s.reapExpired(at(3001))).toBe(1);
      expect(await s.getStep(b!.id)).toMatchObject({ status: 'pending', leaseUntil: undefined });

      expect(await s.redrive([999_999], at(600))).toBe(0);
      expect(await s.redrive([a!.id], at(600))).toBe(1);
      expect(await s.getStep(a!.id)).toMatchObject({
        status: 'pending',
        attempts: 0,
        dueAt: at(600),
        runAfterDeadline: true,
        deadReason: undefined,
      });
      expect(await s.redrive(undefined, at(700))).toBe(0);
      expect((await s.listSteps({ eventKey: 'azure/ev-1', limit: 1 })).length).toBe(1);
      expect((await s.listSteps({ eventKey: 'other' })).length).toBe(0);
    });

    it('retimes pending lead-timed steps and skips pending steps', async () => {
      await s.createRun(run('k1'), [
        ...steps('k1', 1),
        ...steps('k1', 2, { leadMs: 60_000, dueAt: at(840_000) }).slice(1),
      ]);
      expect(await s.retimePending('k1', at(1_800_000), at(10))).toBe(2);
      const st = await s.stepsOfRun('k1');
      expect(st.map((x) => [x.dueAt, x.deadline])).toEqual([
        [at(), at(1_800_000)],
        [at(1_740_000), at(1_800_000)],
      ]);
      // Lead reaches into the past: due now.
      await s.retimePending('k1', at(30_000), at(20));
      expect((await s.stepsOfRun('k1'))[1]!.dueAt).toBe(at(20));
      await s.retimePending('k1', undefined, at(30));
      expect((await s.stepsOfRun('k1'))[1]).toMatchObject({ dueAt: at(20), deadline: undefined });

      expect(await s.skipPending('k1', 'event canceled', at(40))).toBe(2);
      expect((await s.stepsOfRun('k1')).map((x) => [x.status, x.deadReason, x.finishedAt])).toEqual([
        ['skipped', 'event canceled', at(40)],
        ['skipped', 'event canceled', at(40)],
      ]);
      expect(await s.skipPending('k1', 'again', at(50))).toBe(0);
    });
  });

  it('rules added through the API are stored, replaced and deleted', async () => {
    await s.putRule('b', { name: 'b', v: 1 }, at(1));
    await s.putRule('a', { name: 'a' }, at(1));
    await s.putRule('b', { name: 'b', v: 2 }, at(2));
    expect(await s.apiRules()).toEqual([
      { name: 'a', definition: { name: 'a' }, updatedAt: at(1) },
      { name: 'b', definition: { name: 'b', v: 2 }, updatedAt: at(2) },
    ]);
    expect(await s.deleteRule('a')).toBe(true);
    expect(await s.deleteRule('a')).toBe(false);
    expect((await s.apiRules()).map((r) => r.name)).toEqual(['b']);
  });

  it('a timer rule’s cursor starts absent and only moves forward', async () => {
    expect(await s.scheduleCursor('nightly')).toBeUndefined();
    await s.advanceSchedule('nightly', at(10_000), at(10_001));
    // A replica that looked earlier writes an older slot afterwards: the cursor stays.
    await s.advanceSchedule('nightly', at(5_000), at(10_002));
    expect(await s.scheduleCursor('nightly')).toBe(at(10_000));
    await s.advanceSchedule('nightly', at(20_000), at(20_001));
    expect(await s.scheduleCursor('nightly')).toBe(at(20_000));
    expect(await s.scheduleCursor('weekly')).toBeUndefined();
  });

  it('a named lease has one holder at a time, is renewed by it, and lapses or is released', async () => {
    expect(await s.holdLease('nats-ingest', 'hub-a', 60_000)).toBe(true);
    expect(await s.holdLease('nats-ingest', 'hub-b', 60_000)).toBe(false);
    expect(await s.holdLease('nats-ingest', 'hub-a', 60_000)).toBe(true); // renewed
    expect(await s.holdLease('other', 'hub-b', 60_000)).toBe(true); // names are independent
    await s.releaseLease('nats-ingest', 'hub-b'); // not its lease: nothing changes
    expect(await s.holdLease('nats-ingest', 'hub-b', 60_000)).toBe(false);
    await s.releaseLease('nats-ingest', 'hub-a');
    expect(await s.holdLease('nats-ingest', 'hub-b', 1)).toBe(true);
    await new Promise((r) => setTimeout(r, 20)); // hub-b stops renewing: its 1 ms lease lapses
    expect(await s.holdLease('nats-ingest', 'hub-a', 60_000)).toBe(true);
  });

  it('the audit log is newest first, by subject, limited', async () => {
    for (let i = 0; i < 4; i++)
      await s.audit({ at: at(i), actor: 'op', action: 'x', subject: i % 2 ? 'odd' : 'even', detail: { i } });
    expect((await s.auditLog()).map((e) => (e.detail as { i: number }).i)).toEqual([3, 2, 1, 0]);
    expect((await s.auditLog('odd')).map((e) => (e.detail as { i: number }).i)).toEqual([3, 1]);
    expect(await s.auditLog(undefined, 1)).toHaveLength(1);
  });

  it('prunes finished events older than the cut-off, with their history', async () => {
    await s.ingest([incoming('vm-a', 'scheduled', { eventId: 'OLD-OPEN' })], at(0));
    await s.ingest([incoming('vm-a', 'completed', { eventId: 'OLD-DONE', status: 'completed' })], at(0));
    await s.ingest([incoming('vm-a', 'canceled', { eventId: 'NEW-DONE', status: 'canceled' })], at(5000));
    expect(await s.prune(at(1000))).toBe(1);
    expect((await s.listEvents({})).events.map((e) => e.eventId).sort()).toEqual(['NEW-DONE', 'OLD-OPEN']);
    expect(await s.getEvent('azure/old-done')).toBeUndefined();
    // Its receipt went with it: the same CloudEvent is new again.
    const again = await s.ingest(
      [incoming('vm-a', 'completed', { eventId: 'OLD-DONE', status: 'completed' })],
      at(6000),
    );
    expect(again[0]!.outcome).toBe('new');
  });
});
