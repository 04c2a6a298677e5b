// Timer triggers end to end, on both stores: a timer rule's slots become schedule events through
// the ingest path (history, API, webhook deliveries), in the rule's time zone; a hub that was down
// catches up per its misfire policy; a firing honours pool budgets; bad rules are refused. The
// clock is the hub's injectable `now`, moved by the test (it runs at real speed between moves),
// and slots fire on `scheduler.tick()`, so no assertion depends on timing. One test uses the real
// timer and clock.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadHubConfig } from '../../src/hub/config.js';
import { SqliteThreadedStore } from '../../src/store/sqlite-threaded.js';
import { PostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/agent.js';
import { ADMIN, READER, startHub, TEST_STORE, type TestHub } from '../helpers/hub.js';
import { cloudEvent, maintenance, publishOne } from '../helpers/hub-publish.js';
import { dropSchema, PG_URL, uniqueSchema } from '../helpers/postgres.js';
import { startRawReceiver, type RawReceiver } from '../helpers/raw-receiver.js';
import { waitFor } from '../helpers/wait.js';
import { testClock } from '../helpers/clock.js';

/** A store that outlives a hub (restart tests): a SQLite file, or a PostgreSQL schema. */
function durableStore() {
  const path = join(tempDir('forewarn-sched-'), 'hub.db');
  const schema = uniqueSchema('sched');
  return {
    open: async (): Promise<Store> =>
      TEST_STORE === 'postgres'
        ? PostgresStore.open({ url: PG_URL, schema, poolSize: 4 })
        : new SqliteThreadedStore(path),
    drop: () => (TEST_STORE === 'postgres' ? dropSchema(schema) : Promise.resolve()),
  };
}

const hook = (url: string, extra: Record<string, unknown> = {}) => [
  { name: 'hook', action: 'webhook', with: { url }, ...extra },
];

let hubs: TestHub[] = [];
let rx: RawReceiver | undefined;
let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  rx?.release();
  await Promise.all(hubs.map((h) => h.close()));
  await rx?.close();
  await cleanup?.();
  hubs = [];
  rx = cleanup = undefined;
});

async function scheduleEvents(h: TestHub): Promise<any[]> {
  const res = await h.api('GET', '/api/v1/events?provider=schedule&limit=500', undefined, READER);
  expect(res.status).toBe(200);
  return res.body.events;
}
const ids = (events: any[]) => events.map((e) => e.eventId as string).sort();
const hooked = () =>
  rx!.calls
    .filter((c) => c.status !== 'aborted')
    .map((c) => `${c.body.rule} ${c.body.vm} ${c.body.event.raw.slot}`)
    .sort();

/** Ticks every hub and waits until what fired is planned, run and completed. */
async function tick(...hs: TestHub[]): Promise<number[]> {
  const fired = await Promise.all(hs.map((h) => h.hub.scheduler.tick()));
  await Promise.all(hs.map((h) => h.hub.idle()));
  return fired;
}

describe('timer triggers', () => {
  it('fires each slot in the rule’s time zone, recorded as events and delivered once per VM', async () => {
    rx = await startRawReceiver();
    const clock = testClock('2026-11-22T12:00:00Z');
    const h = await startHub({
      now: clock.now,
      scheduleTimer: false,
      rules: [
        {
          name: 'shanghai',
          schedule: {
            cron: '0 3 * * *',
            timezone: 'Asia/Shanghai',
            vms: ['build-1', 'build-2'],
            type: 'reimage',
          },
          steps: hook(rx.url),
        },
        { name: 'utc', schedule: { cron: '0 3 * * *', vms: ['build-1'] }, steps: hook(rx.url) },
      ],
    });
    hubs.push(h);
    expect(await tick(h)).toEqual([0]); // a new timer rule has missed nothing

    // 03:00 in Shanghai is 19:00 UTC the day before: only the Shanghai rule is due.
    clock.set('2026-11-22T19:00:00.200Z');
    expect(await tick(h)).toEqual([1]);
    await waitFor(() => rx!.calls.length === 2, 8000);
    expect(ids(await scheduleEvents(h))).toEqual([
      'shanghai@2026-11-22T19:00:00.000Z~build-1',
      'shanghai@2026-11-22T19:00:00.000Z~build-2',
    ]);
    expect(await tick(h)).toEqual([0]); // the same slot never fires twice

    clock.set('2026-11-23T03:00:00.200Z');
    expect(await tick(h)).toEqual([1]);
    await waitFor(() => rx!.calls.length === 3, 8000);
    expect(hooked()).toEqual([
      'shanghai build-1 2026-11-22T19:00:00.000Z',
      'shanghai build-2 2026-11-22T19:00:00.000Z',
      'utc build-1 2026-11-23T03:00:00.000Z',
    ]);
    const call = rx.calls.find((c) => c.body.rule === 'shanghai')!;
    expect(call.body.event).toMatchObject({ provider: 'schedule', type: 'reimage', origin: 'user' });
    expect(call.body.transition).toBe('scheduled');

    // Each firing is over once its run is: the event completes, with its history in the API.
    const events = await waitFor(async () => {
      const list = await scheduleEvents(h);
      return list.length === 3 && list.every((e) => e.status === 'completed') && list;
    }, 8000);
    const one = events.find((e: any) => e.eventId.startsWith('utc@'));
    const detail = await h.api('GET', `/api/v1/events/${one.key as string}`, undefined, READER);
    expect(detail.status).toBe(200);
    expect(detail.body.transitions.map((t: any) => t.transition)).toEqual(['scheduled', 'completed']);
    expect(detail.body.transitions[0].via).toBe('schedule');
  });

  it('a hub down over several slots catches up per rule: latest, all or none', async () => {
    rx = await startRawReceiver();
    const store = durableStore();
    cleanup = store.drop;
    const clock = testClock('2026-11-23T00:00:05Z');
    const rules = (['latest', 'all', 'none'] as const).map((catchUp) => ({
      name: `cu-${catchUp}`,
      schedule: { cron: '*/10 * * * * *', vms: ['build-1'], catchUp },
      steps: hook(rx!.url),
    }));
    const start = async () =>
      startHub({ store: await store.open(), now: clock.now, scheduleTimer: false, rules });
    const first = await start();
    // The clock is set just before each tick: however long a hub takes to start does not matter.
    clock.set('2026-11-23T00:00:05Z');
    await tick(first); // cursors start at :05
    await first.close();

    const second = await start();
    hubs.push(second);
    // Down from :05 to :37: slots :10, :20 and :30 were missed (the grace is half the interval).
    clock.set('2026-11-23T00:00:37Z');
    await tick(second);
    await waitFor(() => rx!.calls.length === 4, 8000);
    expect(hooked()).toEqual([
      'cu-all build-1 2026-11-23T00:00:10.000Z',
      'cu-all build-1 2026-11-23T00:00:20.000Z',
      'cu-all build-1 2026-11-23T00:00:30.000Z',
      'cu-latest build-1 2026-11-23T00:00:30.000Z',
    ]);

    const metrics = (await second.api('GET', '/metrics', undefined, READER)).body as string;
    expect(metrics).toContain('forewarn_schedule_slots_total{rule="cu-none",outcome="skipped"} 3');
    expect(metrics).toContain('forewarn_schedule_slots_total{rule="cu-latest",outcome="skipped"} 2');
    expect(metrics).toContain('forewarn_schedule_slots_total{rule="cu-all",outcome="fired"} 3');

    // Back on time: every policy fires the next slot.
    clock.set('2026-11-23T00:00:40.100Z');
    await tick(second);
    await waitFor(() => rx!.calls.length === 7, 8000);
    expect(hooked().filter((c) => c.endsWith('00:00:40.000Z'))).toEqual([
      'cu-all build-1 2026-11-23T00:00:40.000Z',
      'cu-latest build-1 2026-11-23T00:00:40.000Z',
      'cu-none build-1 2026-11-23T00:00:40.000Z',
    ]);
    expect((await scheduleEvents(second)).length).toBe(7);
  });

  it('a firing whose hub stopped before completing it is completed by the next hub', async () => {
    rx = await startRawReceiver();
    rx.holding = true;
    const store = durableStore();
    cleanup = store.drop;
    const clock = testClock('2026-11-23T00:00:05Z');
    const rules = [
      { name: 'once', schedule: { cron: '*/10 * * * * *', vms: ['build-1'] }, steps: hook(rx.url) },
    ];
    const start = async () =>
      startHub({ store: await store.open(), now: clock.now, scheduleTimer: false, rules });
    const first = await start();
    clock.set('2026-11-23T00:00:05Z');
    await tick(first);
    clock.set('2026-11-23T00:00:10.100Z');
    await tick(first);
    await waitFor(() => rx!.inFlight() === 1, 8000);
    // As if killed after the step and before the completion: nobody hears the step finish.
    await first.hub.scheduler.stop();
    rx.release();
    await waitFor(
      async () =>
        (await first.api('GET', '/api/v1/steps?status=succeeded', undefined, READER)).body.steps?.length ===
        1,
      8000,
    );
    expect((await scheduleEvents(first)).map((e) => e.status)).toEqual(['scheduled']);
    await first.close();

    const second = await start();
    hubs.push(second);
    await waitFor(async () => (await scheduleEvents(second))[0]?.status === 'completed', 8000);
    expect(rx.calls.length).toBe(1);
  });

  it('a firing for five VMs keeps to a pool budget of two', async () => {
    rx = await startRawReceiver();
    rx.holding = true;
    const clock = testClock('2026-11-23T00:00:05Z');
    const vms = ['build-1', 'build-2', 'build-3', 'build-4', 'build-5'];
    const h = await startHub({
      now: clock.now,
      scheduleTimer: false,
      pools: [{ name: 'build', match: { vms: ['build-*'] }, maxUnavailable: 2 }],
      rules: [
        {
          name: 'reimage',
          schedule: { cron: '*/10 * * * * *', vms },
          steps: hook(rx.url, { disruptive: true }),
        },
      ],
    });
    hubs.push(h);
    clock.set('2026-11-23T00:00:05Z');
    await tick(h);
    clock.set('2026-11-23T00:00:10.100Z');
    expect(await tick(h)).toEqual([1]);

    const pool = async () => (await h.api('GET', '/api/v1/pools', undefined, READER)).body.pools[0];
    const seen: number[] = [];
    for (const [running, total] of [
      [2, 2],
      [2, 4],
      [1, 5],
    ] as const) {
      // Requests are held unanswered: the VMs in them are out of service.
      await waitFor(() => rx!.inFlight() === running && rx!.calls.length === total, 10_000);
      await waitFor(async () => (await pool()).held.length === 5 - total, 10_000);
      const p = await pool();
      expect(p.inUse.length).toBe(running);
      seen.push(p.inUse.length);
      rx.release();
      rx.holding = true;
    }
    expect(Math.max(...seen)).toBe(2);
    expect(rx.calls.map((c) => c.body.vm).sort()).toEqual(vms);
    // Every firing completed and gave its slot back.
    await waitFor(async () => (await pool()).inUse.length === 0, 10_000);
  });

  it('fires on its own with the real clock and timer, also a rule added through the API', async () => {
    rx = await startRawReceiver();
    const h = await startHub({});
    hubs.push(h);
    // No timer rule yet: the scheduler sleeps long; a new rule wakes it.
    const put = await h.api(
      'PUT',
      '/api/v1/rules/every-second',
      { name: 'every-second', schedule: { cron: '* * * * * *', vms: ['build-1'] }, steps: hook(rx.url) },
      ADMIN,
    );
    expect(put.status).toBeLessThan(300);
    await waitFor(() => rx!.calls.length >= 2, 10_000);
    const slots = rx.calls.slice(0, 2).map((c) => c.body.event.raw.slot as string);
    expect(new Set(slots).size).toBe(2);
    for (const slot of slots) expect(slot).toMatch(/:\d\d\.000Z$/);
  });

  it('refuses bad timer rules with the field’s path, at load and through the API', async () => {
    const bad = {
      name: 'bad',
      schedule: { cron: '0 25 * * *', vms: ['b'] },
      steps: hook('http://127.0.0.1:1/x'),
    };
    const store = durableStore();
    cleanup = store.drop;
    const opened = await store.open();
    await expect(startHub({ store: opened, rules: [bad] })).rejects.toThrow(
      /rule bad: \/rules\/0\/schedule\/cron: bad cron expression "0 25 \* \* \*"/,
    );
    await opened.close();
    const h = await startHub({ scheduleTimer: false });
    hubs.push(h);
    for (const [schedule, message] of [
      [
        { cron: '0 3 * * *', timezone: 'Nowhere/Special', vms: ['b'] },
        /\/schedule\/timezone: unknown time zone/,
      ],
      [{ cron: '0 3 * * *' }, /\/schedule\/vms: say which VMs/],
      [{ cron: '0 3 * * *', vms: ['b'], catchUp: 'maybe' }, /\/schedule\/catchUp/],
    ] as const) {
      const res = await h.api('PUT', '/api/v1/rules/bad', { ...bad, schedule }, ADMIN);
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(message);
    }
    expect((await h.api('GET', '/api/v1/rules', undefined, READER)).body.rules).toEqual([]);
    // Only the hub makes schedule events: an agent cannot publish one.
    const forged = await publishOne(
      h,
      h.agentToken('build-1'),
      cloudEvent({ ...maintenance('build-1'), provider: 'schedule' }),
    );
    expect(forged.status).toBe(400);
    expect(await scheduleEvents(h)).toEqual([]);
  });

  it('examples/nightly-reimage.yaml loads and fires at 03:00 Shanghai time for the build VMs it knows', async () => {
    rx = await startRawReceiver();
    const secretFile = join(tempDir(), 'agent-secret');
    writeFileSync(secretFile, 'a-long-enough-agent-secret\n');
    const config = loadHubConfig(
      'examples/nightly-reimage.yaml',
      { REIMAGE_HOOK_SECRET: 'hook-secret' },
      {
        'auth.agentSecretFile': secretFile,
      },
    );
    process.env.REIMAGE_HOOK_SECRET = 'hook-secret';
    const [rule] = config.rules as any[];
    rule.steps[0].with.url = rx.url; // the reimaging service is our receiver
    const clock = testClock('2026-11-22T18:00:00Z');
    const h = await startHub({
      now: clock.now,
      scheduleTimer: false,
      rules: config.rules,
      pools: config.pools,
    });
    hubs.push(h);
    for (const vm of ['build-1', 'build-2', 'build-3', 'web-1']) {
      const res = await h.api(
        'POST',
        `/api/v1/agents/${vm}/heartbeat`,
        { vm: { name: vm } },
        h.agentToken(vm),
      );
      expect(res.status).toBeLessThan(300);
    }
    await tick(h);
    clock.set('2026-11-22T19:00:00.300Z'); // 03:00 on the 23rd in Shanghai
    await tick(h);
    await waitFor(() => rx!.calls.length === 3, 10_000);
    expect(rx.calls.map((c) => c.body).sort((a, b) => a.vm.localeCompare(b.vm))).toEqual(
      ['build-1', 'build-2', 'build-3'].map((vm) => ({ vm, slot: '2026-11-22T19:00:00.000Z' })),
    );
    expect(rx.calls[0]!.headers['forewarn-signature']).toMatch(/^t=\d+,kid=/);
    delete process.env.REIMAGE_HOOK_SECRET;
  });
});
