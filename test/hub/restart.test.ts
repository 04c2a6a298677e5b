// kill -9 the hub mid-run, then restart it on the same SQLite file (or PostgreSQL schema, where the
// restarted hub waits for the dead one's leases to expire instead of releasing them): every step still runs, and no
// step that succeeded runs again. The hub is a child process (`forewarn hub`); the webhook
// receiver answers slowly and fails some first attempts, and holds its answers at the moment of
// the kill, so every request cut off by the kill is one the hub never saw succeed.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { deriveAgentToken } from '../../src/hub/auth.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/agent.js';
import { dropSchema, PG_URL, pgQuery, postgresOrSkip, uniqueSchema } from '../helpers/postgres.js';
import { startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { writeWaveConfig } from '../helpers/hub-wave.js';
import { cloudEvent, maintenance, publishBatch } from '../helpers/hub-publish.js';
import { startRawReceiver, type RawReceiver } from '../helpers/raw-receiver.js';
import { waitFor } from '../helpers/wait.js';

const AGENT_SECRET = 'restart-test-agent-secret';
const ADMIN_TOKEN = 'restart-test-admin-token';
const VMS = Array.from({ length: 20 }, (_, i) => `vm-${String(i).padStart(2, '0')}`);
const PER_VM = 10;

let hub: HubProcess | undefined;
let rx: RawReceiver | undefined;
afterEach(async () => {
  await hub?.kill('SIGKILL');
  await rx?.close();
  hub = rx = undefined;
});

/** Step statuses and unplanned transitions, read straight from the file. */
function sqliteState(path: string) {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const steps = db.prepare('SELECT status, COUNT(*) AS n FROM steps GROUP BY status').all() as {
      status: string;
      n: number;
    }[];
    const unplanned = (
      db.prepare('SELECT COUNT(*) AS n FROM transitions WHERE id > (SELECT id FROM plan_cursor)').get() as {
        n: number;
      }
    ).n;
    const okTwice = (
      db
        .prepare(
          'SELECT COUNT(*) AS n FROM (SELECT step_id FROM attempts WHERE ok = 1 GROUP BY step_id HAVING COUNT(*) > 1)',
        )
        .get() as { n: number }
    ).n;
    return { steps: Object.fromEntries(steps.map((s) => [s.status, s.n])), unplanned, okTwice };
  } finally {
    db.close();
  }
}

interface State {
  steps: Record<string, number>;
  unplanned: number;
  okTwice: number;
}

/** Where the hub keeps its state, and how the test reads it behind the hub's back. */
interface Target {
  name: string;
  ready: boolean;
  setup(dir: string): { db?: string; store: string[] };
  state(): Promise<State>;
  open(): Promise<Store>;
  cleanup(): Promise<void>;
}

function sqliteTarget(): Target {
  let path = '';
  return {
    name: 'sqlite',
    ready: true,
    setup(dir) {
      path = join(dir, 'hub.db');
      return { db: path, store: [] };
    },
    state: async () => sqliteState(path),
    open: async () => new SqliteStore(path),
    cleanup: async () => {},
  };
}

function postgresTarget(ready: boolean): Target {
  const schema = uniqueSchema('restart');
  return {
    name: 'postgres',
    ready,
    setup: () => ({ store: ['store:', '  kind: postgres', `  url: ${PG_URL}`, `  schema: ${schema}`] }),
    async state() {
      const steps = await pgQuery<{ status: string; n: string }>(
        schema,
        'SELECT status, COUNT(*) AS n FROM steps GROUP BY status',
      );
      const [row] = await pgQuery<{ unplanned: string; ok_twice: string }>(
        schema,
        `SELECT (SELECT COUNT(*) FROM transitions WHERE planned_at IS NULL) AS unplanned,
           (SELECT COUNT(*) FROM (SELECT step_id FROM attempts WHERE ok GROUP BY step_id HAVING COUNT(*) > 1) x) AS ok_twice`,
      );
      return {
        steps: Object.fromEntries(steps.map((s) => [s.status, Number(s.n)])),
        unplanned: Number(row!.unplanned),
        okTwice: Number(row!.ok_twice),
      };
    },
    open: () => PostgresStore.open({ url: PG_URL, schema, poolSize: 2 }),
    cleanup: () => dropSchema(schema),
  };
}

const targets = [sqliteTarget(), postgresTarget(await postgresOrSkip())];

describe.each(targets)('hub kill -9 mid-run ($name)', (target) => {
  afterEach(async () => {
    if (target.ready) await target.cleanup();
  });
  it.skipIf(!target.ready)(
    'resumes after a restart on the same store: every step succeeds once, none twice, late transitions get planned',
    { timeout: 120_000 },
    async () => {
      const dir = tempDir('forewarn-restart-');
      const { db, store: storeConfig } = target.setup(dir);
      rx = await startRawReceiver();
      const tries = new Map<string, number>();
      rx.decide = (call) => {
        const n = (tries.get(call.key!) ?? 0) + 1;
        tries.set(call.key!, n);
        // Some keys fail their first two attempts; every answer takes a while.
        const flaky = parseInt(call.key!.slice(-2), 16) % 5 === 0;
        return { status: flaky && n <= 2 ? 500 : 200, delayMs: 60 };
      };
      const config = writeWaveConfig(dir, { url: rx.url, steps: ['first', 'second'], store: storeConfig });
      const env = { FOREWARN_AGENT_SECRET: AGENT_SECRET, FOREWARN_ADMIN_TOKEN: ADMIN_TOKEN };
      hub = await startHubProcess({ db, config, env });

      // 200 events, published by their VMs' agents in batches.
      for (const vm of VMS) {
        const events = Array.from({ length: PER_VM }, () => cloudEvent(maintenance(vm)));
        const res = await publishBatch(hub, deriveAgentToken(AGENT_SECRET, vm), events);
        expect(res.status, res.text).toBe(200);
        expect(res.body).toEqual({ new: PER_VM, duplicate: 0, merged: 0 });
      }
      const expected = VMS.length * PER_VM * 2;

      // Mid-run: hold the receiver's answers, let everything already answered be recorded, then kill.
      await waitFor(() => rx!.successesByKey().size >= expected / 4, 30_000, 20);
      rx.holding = true;
      await waitFor(() => {
        const last = Math.max(0, ...rx!.calls.map((c) => c.answeredAt ?? 0));
        return rx!.inFlight() > 0 && Date.now() - last > 300;
      }, 1500);
      const killed = await hub.kill('SIGKILL');
      expect(killed.signal).toBe('SIGKILL');
      rx.dropHeld(); // the cut-off requests: their caller is gone
      await sleep(100);
      const cutOff = rx.calls.filter((c) => c.status === 'aborted').length;
      expect(cutOff).toBeGreaterThan(0);

      const atKill = await target.state();
      expect(atKill.steps.running, JSON.stringify(atKill)).toBeGreaterThan(0);
      expect(atKill.steps.pending, JSON.stringify(atKill)).toBeGreaterThan(0);
      const succeededAtKill = atKill.steps.succeeded ?? 0;
      expect(succeededAtKill).toBe(rx.successesByKey().size);

      // A transition stored but not planned when the hub died (as if it died between the two).
      const store = await target.open();
      const late = maintenance('late-vm');
      await store.ingest(
        [
          {
            ceSource: '/forewarn/vms/late-vm',
            ceId: 'late-1',
            transition: 'scheduled',
            reporter: 'late-vm',
            mine: true,
            observedAt: new Date().toISOString(),
            event: { ...late, raw: null } as never,
            via: 'cloudevents-structured',
          },
        ],
        new Date().toISOString(),
      );
      await store.close();
      // At least this one (planning may still have been behind the wave when the hub died).
      expect((await target.state()).unplanned).toBeGreaterThanOrEqual(1);

      const restartedAt = Date.now();
      hub = await startHubProcess({ db, config, env });
      const total = expected + 2;
      await waitFor(() => rx!.successesByKey().size === total, 60_000, 100);
      // Steps cut off by the kill wait for their lease (timeout + 15 s) before they run again.
      console.log(
        `restart: ${cutOff} requests cut off; all ${total} steps done ${Date.now() - restartedAt} ms after the restart`,
      );
      await sleep(500); // anything that would run twice has had time to

      const successes = rx.successesByKey();
      expect(successes.size).toBe(total);
      const twice = [...successes].filter(([, n]) => n !== 1);
      expect(twice, 'keys delivered successfully more than once').toEqual([]);
      expect(rx.calls.some((c) => c.body?.vm === 'late-vm')).toBe(true);

      const after = await target.state();
      expect(after).toEqual({ steps: { succeeded: total }, unplanned: 0, okTwice: 0 });
      const dead = await fetch(`${hub.url}/api/v1/dead-letter`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(((await dead.json()) as { steps: unknown[] }).steps).toEqual([]);
      expect(hub.output()).not.toMatch(/"level":(50|60)/);
    },
  );
});
