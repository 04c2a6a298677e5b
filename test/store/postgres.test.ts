// What only a shared store has to get right: several hubs on one schema at once (migrations,
// concurrent ingest of one platform event, planning lease, stale attempts) and notifications
// between them. The common behaviour is in store-contract.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import type { MaintenanceEvent } from '../../src/core/event.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres-schema.js';
import type { IncomingTransition, StoreChange } from '../../src/store/store.js';
import { dropSchema, PG_URL, pgQuery, postgresOrSkip, uniqueSchema } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

const ready = await postgresOrSkip();
const now = () => new Date().toISOString();

let opened: PostgresStore[] = [];
let schemas: string[] = [];
async function replicas(n: number, schema = uniqueSchema(), leaseMs?: number) {
  schemas.push(schema);
  const stores = await Promise.all(
    Array.from({ length: n }, () =>
      PostgresStore.open({ url: PG_URL, schema, poolSize: 3, plannerLeaseMs: leaseMs }),
    ),
  );
  opened.push(...stores);
  return stores;
}
afterEach(async () => {
  await Promise.all(opened.map((s) => s.close().catch(() => undefined)));
  for (const s of schemas) await dropSchema(s);
  opened = [];
  schemas = [];
});

function incoming(vm: string, eventId: string): IncomingTransition {
  const event = {
    provider: 'azure',
    eventId,
    vm,
    type: 'reboot',
    status: 'scheduled',
    notBefore: '2030-01-01T00:15:00.000Z',
    origin: 'platform',
    resources: [vm],
    raw: null,
  } as unknown as MaintenanceEvent;
  return {
    ceSource: `/forewarn/vms/${vm}`,
    ceId: `${eventId}/scheduled`,
    transition: 'scheduled',
    reporter: vm,
    mine: true,
    observedAt: now(),
    event,
    via: 'cloudevents-batch',
  };
}

describe.skipIf(!ready)('PostgreSQL store shared by several hubs', () => {
  it('hubs starting at once migrate the schema exactly once', async () => {
    const schema = uniqueSchema();
    await replicas(4, schema);
    const rows = await pgQuery<{ version: number }>(
      schema,
      'SELECT version FROM forewarn_migrations ORDER BY version',
    );
    expect(rows.map((r) => r.version)).toEqual(POSTGRES_MIGRATIONS.map((_, i) => i + 1));
  });

  it('refuses a bad schema name, an unreachable server and a schema newer than it knows, clearly', async () => {
    await expect(PostgresStore.open({ url: PG_URL, schema: 'Robert"; DROP' })).rejects.toThrow(
      /postgres schema .* use lower-case letters, digits and _/,
    );
    await expect(
      PostgresStore.open({ url: 'postgres://postgres@127.0.0.1:1/test', schema: uniqueSchema() }),
    ).rejects.toThrow(/ECONNREFUSED/);
    const [s] = await replicas(1);
    await pgQuery(s!.schema, 'INSERT INTO forewarn_migrations (version) VALUES (999)');
    await expect(PostgresStore.open({ url: PG_URL, schema: s!.schema })).rejects.toThrow(
      /at version 999, newer than this hub knows/,
    );
  });

  it('many VMs reporting one platform event through different hubs at once: one transition, the rest merged', async () => {
    const stores = await replicas(3);
    const vms = Array.from({ length: 30 }, (_, i) => `vm-${i}`);
    const results = await Promise.all(
      vms.map((vm, i) => stores[i % 3]!.ingest([incoming(vm, 'SHARED'), incoming(vm, `OWN-${i}`)], now())),
    );
    const shared = results.map((r) => r[0]!);
    expect(shared.filter((r) => r.outcome === 'new')).toHaveLength(1);
    expect(shared.filter((r) => r.outcome === 'merged')).toHaveLength(29);
    expect(new Set(shared.map((r) => r.transitionId)).size).toBe(1);
    expect(results.every((r) => r[1]!.outcome === 'new')).toBe(true);
    const event = (await stores[0]!.getEvent('azure/shared'))!;
    expect(event.event.reporters.sort()).toEqual([...vms].sort());
    expect(event.transitions[0]!.sightings).toHaveLength(30);
  });

  it('an event read while another hub ingests is from one moment: its status agrees with its history', async () => {
    const [a, b] = await replicas(2);
    for (let i = 0; i < 100; i++) {
      const id = `RACE-${i}`;
      await a!.ingest([incoming('vm-a', id)], now());
      const started = { ...incoming('vm-a', id), transition: 'started' as const, ceId: `${id}/started` };
      started.event = { ...started.event, status: 'started' };
      const [, seen] = await Promise.all([
        a!.ingest([started], now()),
        b!.getEvent(`azure/${id.toLowerCase()}`),
      ]);
      const hasStarted = seen!.transitions.some((t) => t.transition === 'started');
      expect(seen!.event.status, `round ${i}`).toBe(hasStarted ? 'started' : 'scheduled');
    }
  });

  it('one hub at a time plans; another takes over when the lease lapses', async () => {
    const [a, b] = await replicas(2, uniqueSchema(), 300);
    await a!.ingest([incoming('vm-a', 'E1')], now());
    expect(await a!.unplanned(10)).toHaveLength(1);
    expect(await b!.unplanned(10)).toEqual([]); // a holds the lease
    expect(await a!.unplanned(10)).toHaveLength(1); // and renews it
    const taken = await waitFor(async () => (await b!.unplanned(10)).length === 1, 5000, 50);
    expect(taken).toBe(true);
    expect(await a!.unplanned(10)).toEqual([]);
    await b!.close(); // a hub that stops gives the lease back at once
    expect(await a!.unplanned(10)).toHaveLength(1);
  });

  it('tells every hub what another changed: transitions, commands, steps, rules', async () => {
    const [a, b] = await replicas(2);
    const heard: StoreChange[] = [];
    b!.onChange((c) => heard.push(c));
    await a!.ingest([incoming('vm-a', 'E1')], now());
    await a!.enqueueCommand({ id: 'c1', vm: 'vm-a', type: 'approve', eventId: 'E1', origin: 'test' }, now());
    await a!.markPlanned([1], now());
    await a!.putRule('r', { name: 'r' }, now());
    await a!.ingest([incoming('vm-a', 'E1')], now()); // a duplicate: nothing new, no notice
    await waitFor(() => heard.length >= 4, 5000);
    expect(heard).toEqual([
      { kind: 'transition' },
      { kind: 'command', vm: 'vm-a' },
      { kind: 'steps' },
      { kind: 'rules' },
    ]);
  });

  it('an attempt that finishes after another hub took the step over does not overwrite its state', async () => {
    const [a, b] = await replicas(2);
    await a!.createRun(
      {
        key: 'k',
        rule: 'r',
        eventKey: 'azure/e1',
        vm: 'vm-a',
        phase: 'do',
        triggerTransitionId: 1,
        createdAt: now(),
      },
      [
        {
          idx: 0,
          name: 's',
          action: 'webhook',
          params: {},
          timeoutMs: 10,
          maxAttempts: 5,
          maxBackoffMs: 10,
          runAfterDeadline: false,
          dueAt: '2000-01-01T00:00:00.000Z',
          idempotencyKey: 'fw-k',
          disruptive: false,
        },
      ],
    );
    const [stale] = await a!.claimDue('2000-01-01T00:00:00.000Z', 0, 1);
    expect(await b!.reapExpired('2000-01-01T00:00:01.000Z')).toBe(1);
    const [current] = await b!.claimDue('2000-01-01T00:00:01.000Z', 60_000, 1);
    expect(current!.attempts).toBe(2);
    const attempt = (n: number) => ({ n, startedAt: now(), finishedAt: now(), ok: false, detail: 'x' });
    await a!.finishAttempt(
      stale!.id,
      attempt(1),
      { status: 'pending', dueAt: now(), lastError: 'late' },
      now(),
    );
    expect(await b!.getStep(stale!.id)).toMatchObject({ status: 'running', attempts: 2 });
    expect(await b!.attemptsOf(stale!.id)).toHaveLength(1); // the late attempt is still on record
  });
});

// The methods main's Store interface has grown meanwhile (planning in one commit, group-committed
// attempts, steps claimed with their run, pool budgets), answered by this store already.
describe.skipIf(!ready)('PostgreSQL store: batch planning, claims with runs, pool budgets', () => {
  const T = '2030-01-01T00:00:00.000Z';
  const runRow = (key: string) => ({
    key,
    rule: 'r',
    eventKey: 'azure/e1',
    vm: 'vm-a',
    phase: 'do' as const,
    triggerTransitionId: 1,
    createdAt: T,
    snapshot: { key: 'azure/e1' } as never,
  });
  const step = (key: string, disruptive = false) => ({
    idx: 0,
    name: 's',
    action: 'webhook',
    params: {},
    timeoutMs: 1000,
    maxAttempts: 3,
    maxBackoffMs: 100,
    runAfterDeadline: false,
    dueAt: T,
    idempotencyKey: `fw-${key}`,
    disruptive,
  });

  it('commitPlan writes runs once and marks their transitions planned in one commit; claims carry the run', async () => {
    const [s] = await replicas(1);
    const [t] = await s!.ingest([incoming('vm-a', 'E1')], now());
    const plan = [
      { run: runRow('k1'), steps: [step('k1', true)] },
      { run: runRow('k2'), steps: [step('k2')] },
    ];
    expect(await s!.commitPlan(plan, [t!.transitionId], T)).toEqual([true, true]);
    expect(await s!.commitPlan(plan, [t!.transitionId], T)).toEqual([false, false]);
    expect(await s!.unplanned(10)).toEqual([]);
    const claimed = await s!.claimDue(T, 1000, 10);
    expect(claimed.map((c) => [c.runKey, c.disruptive, c.run?.key, c.run?.snapshot])).toEqual([
      ['k1', true, 'k1', { key: 'azure/e1' }],
      ['k2', false, 'k2', { key: 'azure/e1' }],
    ]);
    await s!.holdStep(claimed[0]!.id, '2030-01-01T00:01:00.000Z', 'pool web full', T);
    expect(await s!.getStep(claimed[0]!.id)).toMatchObject({
      status: 'pending',
      attempts: 0,
      heldReason: 'pool web full',
      dueAt: '2030-01-01T00:01:00.000Z',
    });
    const attempt = { n: 1, startedAt: T, finishedAt: T, ok: true, detail: 'ok' };
    await s!.finishAttempts([{ stepId: claimed[1]!.id, attempt, outcome: { status: 'succeeded' } }], T);
    expect(await s!.getStep(claimed[1]!.id)).toMatchObject({ status: 'succeeded', heldReason: undefined });
  });

  it('a pool budget holds across replicas deciding at the same moment', async () => {
    const stores = await replicas(3);
    const exp = '2030-01-01T01:00:00.000Z';
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        stores[i % 3]!.acquireSlot({ pool: 'web', vm: `vm-${i}`, eventKey: `azure/e${i}` }, 2, T, exp),
      ),
    );
    expect(answers.filter((a) => a.ok)).toHaveLength(2);
    const held = await stores[0]!.listSlots(T, 'web');
    expect(held).toHaveLength(2);
    // The holder renews; another event of the same VM counts as the same VM.
    const holder = held[0]!;
    expect((await stores[1]!.acquireSlot({ ...holder }, 2, T, exp)).ok).toBe(true);
    expect((await stores[1]!.acquireSlot({ ...holder, eventKey: 'azure/other' }, 2, T, exp)).ok).toBe(true);
    expect(await stores[2]!.releaseSlots(holder.eventKey, holder.vm)).toBe(1);
    expect(
      (await stores[2]!.acquireSlot({ pool: 'web', vm: 'vm-new', eventKey: 'azure/n' }, 2, T, exp)).ok,
    ).toBe(false);
    expect(await stores[0]!.listSlots('2030-01-01T02:00:00.000Z')).toEqual([]); // expired
  });
});
