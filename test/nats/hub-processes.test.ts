// `forewarn hub` processes on the NATS transport, as an operator runs them: two hubs share the one
// durable consumer (each message stored by exactly one), and a hub killed with SIGKILL mid-consume
// loses nothing (what it had not acked is redelivered to the hub that takes over).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NatsLink, NatsPublisher } from '../../src/agent/nats-publisher.js';
import type { TransitionRecord } from '../../src/core/transition.js';
import { tempDir } from '../helpers/agent.js';
import { startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { maintenance } from '../helpers/hub-publish.js';
import { HUB_PASSWORD, natsOrSkip, startNats, type TestNats } from '../helpers/nats.js';
import { waitFor } from '../helpers/wait.js';

const ready = natsOrSkip();
const VMS = ['vm-1', 'vm-2', 'vm-3', 'vm-4'];
const env = { FOREWARN_AGENT_SECRET: 'test-agent-secret-0123', FOREWARN_ADMIN_TOKEN: 'admin-token' };

let nats: TestNats;
let dir: string;
const hubs: HubProcess[] = [];
const links: NatsLink[] = [];

function config(name: string, o: { maxAckPending: number; ackWait: string }): string {
  const pw = join(dir, 'hub.password');
  writeFileSync(pw, `${HUB_PASSWORD}\n`);
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    [
      'log: { level: info }',
      'transport:',
      '  kind: nats',
      `  servers: ["${nats.url}"]`,
      '  user: hub',
      `  passwordFile: ${pw}`,
      `  maxAckPending: ${o.maxAckPending}`,
      `  ackWait: ${o.ackWait}`,
      '',
    ].join('\n'),
  );
  return path;
}

async function hub(db: string, cfg: string): Promise<HubProcess> {
  const h = await startHubProcess({ db, config: cfg, env });
  hubs.push(h);
  await waitFor(() => h.output().includes('consuming the NATS stream'), 15_000);
  return h;
}

/** `count` scheduled transitions spread over the VMs, published by each VM's own NATS user. */
async function publishMany(count: number): Promise<string[]> {
  const ids: string[] = [];
  await Promise.all(
    VMS.map(async (vm, v) => {
      const link = new NatsLink(nats.agent(vm), vm);
      links.push(link);
      const p = new NatsPublisher(link);
      const mine: TransitionRecord[] = [];
      for (let i = v; i < count; i += VMS.length) {
        const data = maintenance(vm);
        ids.push(data.eventId);
        const { mine: _m, ...event } = data;
        mine.push({
          id: `azure/${data.eventId}/scheduled`,
          transition: 'scheduled',
          event: event as TransitionRecord['event'],
          mine: true,
          observedAt: new Date().toISOString(),
        });
      }
      for (let i = 0; i < mine.length; i += 25) await p.publish(mine.slice(i, i + 25));
    }),
  );
  return ids;
}

function stored(db: string): { transitions: number; eventIds: string[] } {
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const transitions = (d.prepare('SELECT COUNT(*) AS n FROM transitions').get() as { n: number }).n;
    const eventIds = (d.prepare('SELECT event_id FROM events').all() as { event_id: string }[]).map(
      (r) => r.event_id,
    );
    return { transitions, eventIds };
  } finally {
    d.close();
  }
}

describe.skipIf(!ready)('hub processes on one NATS durable consumer', () => {
  beforeEach(async () => {
    dir = tempDir('forewarn-nats-hubs-');
    nats = await startNats(VMS);
  });
  afterEach(async () => {
    await Promise.all(links.splice(0).map((l) => l.close()));
    await Promise.all(hubs.splice(0).map((h) => h.kill('SIGKILL')));
    await nats.stop();
  });

  it('two hubs share the work: every event stored, none by both', { timeout: 60_000 }, async () => {
    const cfg = config('shared', { maxAckPending: 16, ackWait: '30s' });
    const [dbA, dbB] = [join(dir, 'a.db'), join(dir, 'b.db')];
    await hub(dbA, cfg);
    await hub(dbB, cfg);
    const ids = await publishMany(400);
    await waitFor(() => stored(dbA).transitions + stored(dbB).transitions >= 400, 30_000, 100);
    const [a, b] = [stored(dbA), stored(dbB)];
    expect(a.transitions + b.transitions).toBe(400);
    expect(new Set([...a.eventIds, ...b.eventIds])).toEqual(new Set(ids));
    expect(a.eventIds.filter((id) => b.eventIds.includes(id))).toEqual([]);
    expect(a.transitions).toBeGreaterThan(0);
    expect(b.transitions).toBeGreaterThan(0);
  });

  it(
    'a hub killed mid-consume loses nothing: unacked messages go to the next hub',
    { timeout: 60_000 },
    async () => {
      const cfg = config('kill', { maxAckPending: 1, ackWait: '1s' });
      const db = join(dir, 'hub.db');
      const first = await hub(db, cfg);
      const ids = await publishMany(300);
      await waitFor(() => stored(db).transitions >= 20, 30_000, 20);
      await first.kill('SIGKILL');
      const atKill = stored(db).transitions;
      expect(atKill).toBeLessThan(300); // killed mid-consume
      await hub(db, cfg);
      await waitFor(() => stored(db).transitions >= 300, 30_000, 100);
      const after = stored(db);
      expect(after.transitions).toBe(300); // none lost, none twice
      expect(new Set(after.eventIds)).toEqual(new Set(ids));
    },
  );
});
