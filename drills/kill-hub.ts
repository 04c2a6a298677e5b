// Drill 6: kill -9 the hub (a `forewarn hub` process on SQLite or PostgreSQL) at random points of a
// wave, N times, restarting it on the same store each time, while agents keep publishing (and
// re-send a batch whose request died with the hub). A webhook receiver counts deliveries per
// Idempotency-Key. Verdict: every event stored once, every step succeeded once, and no key that
// got a 2xx was ever delivered again.
// At each kill the receiver holds its answers until the hub has recorded every 2xx it got: a 2xx
// the hub never heard of (cut off by the kill) is rightly sent again — at-least-once — and is not
// what "run twice after success" means. The kill points themselves are random (seeded).
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { deriveAgentToken } from '../src/hub/auth.js';
import { tempDir } from '../test/helpers/agent.js';
import { startHubProcess, type HubProcess } from '../test/helpers/hub-process.js';
import { writeWaveConfig } from '../test/helpers/hub-wave.js';
import { cloudEvent, maintenance, publishUntilAccepted } from '../test/helpers/hub-publish.js';
import { dropSchema, PG_URL, pgQuery, postgresMissing, uniqueSchema } from '../test/helpers/postgres.js';
import { startRawReceiver, type RawReceiver } from '../test/helpers/raw-receiver.js';
import { seededRandom } from '../test/helpers/sim.js';
import { waitFor } from '../test/helpers/wait.js';
import { Checks, sayer, skipped, verdict, type DrillResult } from './verdict.js';

export interface KillHubOptions {
  store: 'sqlite' | 'postgres';
  kills: number;
  vms: number;
  eventsPerVm: number;
  /** Webhook steps per event. */
  steps: number;
  seed?: number;
  quiet?: boolean;
}

const AGENT_SECRET = 'drill-agent-secret';
const ADMIN_TOKEN = 'drill-admin-token';
const BATCH = 10;

interface StoreCounts {
  events: number;
  succeeded: number;
  steps: number;
  okTwice: number;
}

/** Where the hub keeps its state, and how the drill reads it behind the hub's back. */
function storeOf(kind: 'sqlite' | 'postgres', dir: string) {
  if (kind === 'sqlite') {
    const path = join(dir, 'hub.db');
    return {
      db: path,
      config: [] as string[],
      async counts(): Promise<StoreCounts> {
        const db = new Database(path, { readonly: true, fileMustExist: true });
        try {
          return db
            .prepare(
              `SELECT (SELECT COUNT(*) FROM events) AS events,
                 (SELECT COUNT(*) FROM steps WHERE status = 'succeeded') AS succeeded,
                 (SELECT COUNT(*) FROM steps) AS steps,
                 (SELECT COUNT(*) FROM (SELECT step_id FROM attempts WHERE ok = 1 GROUP BY step_id HAVING COUNT(*) > 1)) AS okTwice`,
            )
            .get() as StoreCounts;
        } finally {
          db.close();
        }
      },
      cleanup: async () => {},
    };
  }
  const schema = uniqueSchema('drill');
  return {
    db: undefined,
    config: ['store:', '  kind: postgres', `  url: ${PG_URL}`, `  schema: ${schema}`, '  poolSize: 6'],
    async counts(): Promise<StoreCounts> {
      const [row] = await pgQuery<Record<string, string>>(
        schema,
        `SELECT (SELECT COUNT(*) FROM events) AS events,
           (SELECT COUNT(*) FROM steps WHERE status = 'succeeded') AS succeeded,
           (SELECT COUNT(*) FROM steps) AS steps,
           (SELECT COUNT(*) FROM (SELECT step_id FROM attempts WHERE ok GROUP BY step_id HAVING COUNT(*) > 1) x) AS "okTwice"`,
      );
      return Object.fromEntries(
        Object.entries(row!).map(([k, v]) => [k, Number(v)]),
      ) as unknown as StoreCounts;
    },
    cleanup: () => dropSchema(schema),
  };
}

/**
 * Waits until the hub has recorded every 2xx the receiver sent, so the kill cuts off no success the
 * hub never heard of. Gives up when the counts stop moving for 5 s: the hub may have judged a late
 * 2xx a failure (its own step timeout), and will rightly send that step again.
 */
async function untilRecorded(store: { counts(): Promise<StoreCounts> }, rx: RawReceiver): Promise<void> {
  let last = '';
  let since = Date.now();
  await waitFor(
    async () => {
      const recorded = (await store.counts()).succeeded;
      const answered = rx.successesByKey().size;
      // …and no answer is on its way (one sent after the check could be cut off by the kill).
      if (recorded === answered && rx.inFlight() === rx.held()) return true;
      if (`${recorded}/${answered}` !== last) {
        last = `${recorded}/${answered}`;
        since = Date.now();
      }
      return Date.now() - since > 5000;
    },
    60_000,
    50,
  ).catch(() => undefined);
}

export async function killHubDrill(o: KillHubOptions): Promise<DrillResult> {
  const startedAt = Date.now();
  const name = `kill-9-${o.store}`;
  const say = sayer(name, o.quiet);
  const EVENTS = o.vms * o.eventsPerVm;
  const STEPS = EVENTS * o.steps;
  const summaryOf = (kills: number, lost: number, twice: number) =>
    `kill -9 ${o.store}: ${kills} kills, ${EVENTS} events, ${STEPS} steps, ${lost} lost, ${twice} run twice after success`;
  if (o.store === 'postgres') {
    const why = await postgresMissing();
    if (why) return skipped(name, summaryOf(0, 0, 0), why, startedAt);
  }
  const seed = o.seed ?? Date.now() % 2 ** 31;
  const random = seededRandom(seed);
  say(
    `${o.vms} VMs publish ${EVENTS} events (batches of ${BATCH}), ${o.steps} webhook steps each; the hub is killed ${o.kills} times at random points (seed ${seed})`,
  );

  const dir = tempDir('forewarn-drill-kill-');
  const store = storeOf(o.store, dir);
  const rx = await startRawReceiver();
  // Every answer takes a little while (so kills find steps running); some keys fail twice first.
  const tries = new Map<string, number>();
  rx.decide = (call) => {
    const n = (tries.get(call.key!) ?? 0) + 1;
    tries.set(call.key!, n);
    const flaky = parseInt(call.key!.slice(-2), 16) % 7 === 0;
    return { status: flaky && n <= 2 ? 503 : 200, delayMs: 15 };
  };
  const config = writeWaveConfig(dir, {
    url: rx.url,
    steps: Array.from({ length: o.steps }, (_, i) => `s${i}`),
    store: store.config,
    stepTimeout: '5s',
  });
  const env = { FOREWARN_AGENT_SECRET: AGENT_SECRET, FOREWARN_ADMIN_TOKEN: ADMIN_TOKEN };
  const start = () => startHubProcess({ db: store.db, config, env, timeoutMs: 60_000 });
  let hub: HubProcess = await start();
  const checks = new Checks();
  let kills = 0;
  const killedAt: number[] = [];
  let resent = 0;
  try {
    // Agents publish in four lanes to whichever hub process is up; a failed batch is sent again.
    let published = 0;
    const vms = Array.from({ length: o.vms }, (_, i) => `vm-${String(i).padStart(3, '0')}`);
    const lane = async (n: number) => {
      for (let round = 0; round * BATCH < o.eventsPerVm; round++) {
        for (const [i, vm] of vms.entries()) {
          if (i % 4 !== n) continue;
          const count = Math.min(BATCH, o.eventsPerVm - round * BATCH);
          const events = Array.from({ length: count }, (_, j) =>
            cloudEvent(maintenance(vm, { eventId: `EV-${vm}-${round * BATCH + j}` })),
          );
          // Whichever hub process is up at each try (a restart replaces `hub`).
          resent += await publishUntilAccepted(() => hub, deriveAgentToken(AGENT_SECRET, vm), events);
          published += count;
        }
      }
    };
    const publishing = Promise.all([0, 1, 2, 3].map(lane));

    // Random kill points over the whole run: half publishing progress, half step progress.
    const progress = () => 0.5 * (published / EVENTS) + 0.5 * (rx.successesByKey().size / STEPS);
    const points = Array.from({ length: o.kills }, () => 0.03 + random() * 0.9).sort((a, b) => a - b);
    for (const point of points) {
      await waitFor(() => progress() >= point, 300_000, 20);
      rx.holding = true;
      try {
        await untilRecorded(store, rx);
        const { signal } = await hub.kill('SIGKILL');
        checks.equal(`kill ${kills + 1} signal`, signal, 'SIGKILL');
        kills++;
        killedAt.push(Date.now());
      } finally {
        rx.dropHeld(); // held requests were the dead hub's: nobody reads their answers
      }
      say(
        `kill ${kills} at ${Math.round(point * 100)}% (${published}/${EVENTS} events published, ${rx.successesByKey().size}/${STEPS} steps done); restarting`,
      );
      hub = await start();
    }
    await publishing;
    await waitFor(() => rx.successesByKey().size >= STEPS, 300_000, 100);
    await sleep(1500); // anything that would run again has had time to
  } catch (err) {
    rx.release();
    checks.that(`drill did not finish: ${(err as Error).message.split('\n')[0]}`, false);
  }

  // Count what arrived: per key, its 2xx answers and any delivery after the first 2xx.
  const firstSuccess = new Map<string, number>();
  for (const c of rx.calls)
    if (c.key && typeof c.status === 'number' && c.status < 300 && !firstSuccess.has(c.key))
      firstSuccess.set(c.key, c.at);
  const againAfterSuccess = new Set(
    rx.calls
      .filter((c) => c.key && firstSuccess.has(c.key) && c.at > firstSuccess.get(c.key)!)
      .map((c) => c.key),
  );
  // Say for each such key whether a kill fell between (the hold should prevent it) or the same
  // hub process sent it again (it judged the 2xx a failure: its own timeout).
  for (const key of [...againAfterSuccess].slice(0, 5)) {
    const calls = rx.calls.filter((c) => c.key === key);
    const first = firstSuccess.get(key!)!;
    const again = calls.find((c) => c.at > first)!;
    const across = killedAt.some((t) => t > first && t < again.at);
    say(
      `delivered again after a 2xx: ${key} (${calls.map((c) => `${c.status}@${c.at - startedAt}ms`).join(', ')}; ${across ? 'a kill in between' : 'no kill in between'})`,
    );
  }
  const stepsLost = STEPS - firstSuccess.size;
  const counts = await store.counts().catch(() => ({ events: -1, succeeded: -1, steps: -1, okTwice: -1 }));
  const eventsLost = EVENTS - counts.events;
  const cutOff = rx.calls.filter((c) => c.status === 'aborted').length;
  say(
    `${rx.calls.length} webhook calls for ${STEPS} steps (${cutOff} cut off by kills), ${resent} publish retries while the hub was down; store: ${JSON.stringify(counts)}`,
  );
  checks.equal('kills', kills, o.kills);
  checks.equal('events stored', counts.events, EVENTS);
  checks.equal('steps in store', counts.steps, STEPS);
  checks.equal('steps succeeded in store', counts.succeeded, STEPS);
  checks.equal('steps with two successful attempts', counts.okTwice, 0);
  checks.equal('steps never delivered with a 2xx', stepsLost, 0);
  checks.equal('keys delivered again after a 2xx', againAfterSuccess.size, 0);
  try {
    const dead = await fetch(`${hub.url}/api/v1/dead-letter`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    checks.equal('dead-lettered steps', ((await dead.json()) as { steps: unknown[] }).steps.length, 0);
  } catch (err) {
    checks.that(`dead-letter not readable: ${(err as Error).message}`, false);
  }
  await hub.kill('SIGKILL');
  await rx.close();
  await store.cleanup();
  const lost = Math.max(0, eventsLost) + Math.max(0, stepsLost);
  return verdict(
    name,
    summaryOf(kills, lost, againAfterSuccess.size),
    {
      kills,
      events: EVENTS,
      eventsStored: counts.events,
      steps: STEPS,
      stepsSucceeded: firstSuccess.size,
      webhookCalls: rx.calls.length,
      cutOffByKills: cutOff,
      publishRetries: resent,
      lost,
      runTwiceAfterSuccess: againAfterSuccess.size,
      seed,
    },
    checks.failures,
    startedAt,
  );
}
