// Timer triggers on three hub replicas sharing one PostgreSQL schema: all three look at every slot
// at the same moment, and each slot still fires once per VM (one event, one run, one webhook
// delivery); a replica started later does not fire again what the others fired.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres.js';
import { READER, startHub, type TestHub } from '../helpers/hub.js';
import { dropSchema, PG_URL, pgQuery, postgresOrSkip, uniqueSchema } from '../helpers/postgres.js';
import { startRawReceiver, type RawReceiver } from '../helpers/raw-receiver.js';
import { waitFor } from '../helpers/wait.js';
import { testClock } from '../helpers/clock.js';

const ready = await postgresOrSkip();

let hubs: TestHub[] = [];
let rx: RawReceiver;
let schema: string;
const { now, set: setClock } = testClock(new Date().toISOString());

const replica = async () =>
  startHub({
    store: await PostgresStore.open({ url: PG_URL, schema, poolSize: 4 }),
    releaseLeasesAtStart: false,
    now,
    scheduleTimer: false,
    rules: [
      {
        name: 'nightly',
        schedule: { cron: '*/10 * * * * *', vms: ['build-1', 'build-2'], catchUp: 'all' },
        steps: [{ name: 'hook', action: 'webhook', with: { url: rx.url } }],
      },
    ],
  });

describe.skipIf(!ready)('timer triggers on three replicas', () => {
  beforeEach(async () => {
    schema = uniqueSchema('schedrep');
    rx = await startRawReceiver();
    setClock('2026-11-23T00:00:05Z');
    hubs = await Promise.all([replica(), replica(), replica()]);
  });
  afterEach(async () => {
    await Promise.all(hubs.map((h) => h.close()));
    await rx.close();
    await dropSchema(schema);
  });

  it('each slot fires exactly once per VM however many replicas look', { timeout: 40_000 }, async () => {
    setClock('2026-11-23T00:00:05Z'); // cursors start here, however long the replicas took to start
    await Promise.all(hubs.map((h) => h.hub.scheduler.tick()));
    const slots = ['2026-11-23T00:00:10.000Z', '2026-11-23T00:00:20.000Z', '2026-11-23T00:00:30.000Z'];
    for (const slot of slots) {
      setClock(new Date(Date.parse(slot) + 100).toISOString());
      // All three at once: the same slot's events reach the store three times.
      const fired = await Promise.all(hubs.map((h) => h.hub.scheduler.tick()));
      expect(fired.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    }
    const expected = slots.flatMap((s) => [`build-1 ${s}`, `build-2 ${s}`]).sort();
    const delivered = () =>
      rx.calls.map((c) => `${c.body.vm as string} ${c.body.event.raw.slot as string}`).sort();
    await waitFor(() => rx.calls.length >= expected.length, 15_000);
    // Everything planned and run: nothing more is coming.
    await Promise.all(hubs.map((h) => h.hub.idle()));
    await waitFor(
      async () =>
        (
          await pgQuery<{ n: string }>(schema, `SELECT COUNT(*) AS n FROM steps WHERE status <> 'succeeded'`)
        )[0]!.n === '0',
      15_000,
    );
    expect(delivered()).toEqual(expected);
    expect(new Set(rx.calls.map((c) => c.body.idempotencyKey)).size).toBe(expected.length);

    const events = await hubs[0]!.api('GET', '/api/v1/events?provider=schedule&limit=100', undefined, READER);
    expect(events.body.total).toBe(expected.length);
    const count = async (sql: string) => Number((await pgQuery<{ n: string }>(schema, sql))[0]!.n);
    expect(await count(`SELECT COUNT(*) AS n FROM runs WHERE phase = 'do'`)).toBe(expected.length);
    expect(
      await count(
        `SELECT COUNT(*) AS n FROM transitions WHERE transition = 'scheduled' AND via = 'schedule'`,
      ),
    ).toBe(expected.length);

    // A fourth replica starting now (catchUp all) finds nothing missed.
    const late = await replica();
    hubs.push(late);
    expect(await late.hub.scheduler.tick()).toBe(0);
    expect((await pgQuery(schema, 'SELECT slot FROM schedule_cursors')).map((r) => r.slot)).toEqual([
      slots[2],
    ]);
  });
});
