// Three `forewarn hub` processes on one PostgreSQL schema share a wave of 5,000 events (two webhook
// steps each); one replica is killed with SIGKILL while the wave is being published, another later
// while steps are running. Every step still runs, none runs twice after success, no event is lost.
// As in restart.test.ts, the receiver holds its answers at each kill, so a request cut off by the
// kill is one the dead replica never saw succeed (and the step is rightly run again elsewhere).
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { deriveAgentToken } from '../../src/hub/auth.js';
import { tempDir } from '../helpers/agent.js';
import { startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { writeWaveConfig } from '../helpers/hub-wave.js';
import { cloudEvent, maintenance, publishUntilAccepted } from '../helpers/hub-publish.js';
import { dropSchema, PG_URL, pgQuery, postgresOrSkip, uniqueSchema } from '../helpers/postgres.js';
import { startRawReceiver, type RawReceiver } from '../helpers/raw-receiver.js';
import { waitFor } from '../helpers/wait.js';

const ready = await postgresOrSkip();
const AGENT_SECRET = 'failover-test-agent-secret';
const ADMIN_TOKEN = 'failover-test-admin-token';
/** 100 VMs × 50 events = 5,000 events, 10,000 steps. */
const VMS = Array.from({ length: 100 }, (_, i) => `vm-${String(i).padStart(3, '0')}`);
const PER_VM = 50;
const EVENTS = VMS.length * PER_VM;
const STEPS = EVENTS * 2;

const schema = uniqueSchema('failover');
let hubs: HubProcess[] = [];
let rx: RawReceiver | undefined;
afterAll(async () => {
  await Promise.all(hubs.map((h) => h.kill('SIGKILL')));
  await rx?.close();
  if (ready) await dropSchema(schema);
});

async function dbState() {
  const [row] = await pgQuery<Record<string, string>>(
    schema,
    `SELECT (SELECT COUNT(*) FROM events) AS events, (SELECT COUNT(*) FROM transitions) AS transitions,
       (SELECT COUNT(*) FROM transitions WHERE planned_at IS NULL) AS unplanned,
       (SELECT COUNT(*) FROM steps WHERE status = 'succeeded') AS succeeded,
       (SELECT COUNT(*) FROM steps) AS steps,
       (SELECT COUNT(*) FROM (SELECT step_id FROM attempts WHERE ok GROUP BY step_id HAVING COUNT(*) > 1) x) AS ok_twice`,
  );
  return Object.fromEntries(Object.entries(row!).map(([k, v]) => [k, Number(v)]));
}

describe.skipIf(!ready)('three hub replicas on PostgreSQL, two killed mid-wave', () => {
  it('every step runs, none twice after success, no event lost', { timeout: 400_000, retry: 0 }, async () => {
    const dir = tempDir('forewarn-failover-');
    rx = await startRawReceiver();
    rx.decide = () => ({ status: 200, delayMs: 20 });
    const config = writeWaveConfig(dir, {
      url: rx.url,
      steps: ['first', 'second'],
      store: ['store:', '  kind: postgres', `  url: ${PG_URL}`, `  schema: ${schema}`, '  poolSize: 6'],
      concurrency: 24,
    });
    const env = { FOREWARN_AGENT_SECRET: AGENT_SECRET, FOREWARN_ADMIN_TOKEN: ADMIN_TOKEN };
    // All three at once: they race to create the schema (the migration lock sorts it out).
    hubs = await Promise.all([0, 1, 2].map(() => startHubProcess({ config, env, timeoutMs: 60_000 })));
    const live = new Set(hubs);

    // Agents (four at a time) publish their batches to any live replica, as behind a load balancer;
    // a request to a replica that dies is sent again to another (its events may be stored: dups).
    let published = 0;
    let resent = 0;
    const publishLane = async (lane: number) => {
      for (let round = 0; round < PER_VM / 10; round++) {
        for (const [i, vm] of VMS.entries()) {
          if (i % 4 !== lane) continue;
          const events = Array.from({ length: 10 }, (_, j) =>
            cloudEvent(maintenance(vm, { eventId: `EV-${vm}-${round * 10 + j}` })),
          );
          // Each try to the next live replica, as behind a load balancer.
          resent += await publishUntilAccepted(
            (attempt) => {
              const targets = [...live];
              return targets[(i + round + attempt) % targets.length]!;
            },
            deriveAgentToken(AGENT_SECRET, vm),
            events,
          );
          published += events.length;
        }
      }
    };
    const publishing = Promise.all([0, 1, 2, 3].map(publishLane));

    const killMidWave = async (victim: HubProcess) => {
      // Hold the receiver's answers, let every answered step be recorded, then kill.
      rx!.holding = true;
      await waitFor(async () => (await dbState()).succeeded === rx!.successesByKey().size, 60_000, 100);
      live.delete(victim);
      expect((await victim.kill('SIGKILL')).signal).toBe('SIGKILL');
      rx!.release();
    };

    // First kill while the wave is still being published, the second while steps are running.
    await waitFor(() => published >= EVENTS * 0.4 && rx!.successesByKey().size > 0, 120_000, 50);
    await killMidWave(hubs[0]!);
    const publishedAtFirstKill = published;
    await waitFor(() => rx!.successesByKey().size >= STEPS * 0.6, 240_000, 100);
    await killMidWave(hubs[1]!);
    await publishing;

    await waitFor(() => rx!.successesByKey().size === STEPS, 240_000, 250);
    await sleep(1000); // anything that would run twice has had time to
    const cutOff = rx.calls.filter((c) => c.status === 'aborted').length;
    console.log(
      `failover: ${EVENTS} events (${publishedAtFirstKill} published at the first kill, ${resent} batches re-sent), ` +
        `${rx.calls.length} webhook calls for ${STEPS} steps, ${cutOff} cut off by the kills`,
    );

    const successes = rx.successesByKey();
    expect(successes.size).toBe(STEPS);
    expect(
      [...successes].filter(([, n]) => n !== 1),
      'keys delivered successfully twice',
    ).toEqual([]);
    expect(await dbState()).toEqual({
      events: EVENTS,
      transitions: EVENTS,
      unplanned: 0,
      succeeded: STEPS,
      steps: STEPS,
      ok_twice: 0,
    });
    const survivor = hubs[2]!;
    const dead = await fetch(`${survivor.url}/api/v1/dead-letter`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(((await dead.json()) as { steps: unknown[] }).steps).toEqual([]);
    expect(survivor.output()).not.toMatch(/"level":(50|60)/);
  });
});
