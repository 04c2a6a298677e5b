import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/agent.js';
import type { MaintenanceEvent } from '../core/event.js';
import { SqliteThreadedStore } from './sqlite-threaded.js';
import type { IncomingTransition } from './store.js';

const incoming = (id: string, vm = 'web-01'): IncomingTransition => ({
  ceSource: `forewarn://vm/${vm}`,
  ceId: id,
  transition: 'scheduled',
  reporter: vm,
  mine: true,
  observedAt: '2026-11-23T00:00:00.000Z',
  via: 'cloudevents-batch',
  event: {
    provider: 'azure',
    eventId: id,
    vm,
    type: 'reboot',
    status: 'scheduled',
    notBefore: '2026-11-23T00:15:00.000Z',
    origin: 'platform',
    resources: [vm],
    raw: { EventId: id },
  } as MaintenanceEvent,
});

let store: SqliteThreadedStore | undefined;
afterEach(async () => {
  await store?.close().catch(() => undefined);
  store = undefined;
});

describe('SqliteThreadedStore', () => {
  it('a write committed on the writer thread is read back on the main thread at once', async () => {
    store = new SqliteThreadedStore(join(tempDir('forewarn-threaded-'), 'hub.db'));
    const results = await store.ingest(
      [incoming('e1'), incoming('e2'), incoming('e1')],
      '2026-11-23T00:00:01Z',
    );
    expect(results.map((r) => r.outcome)).toEqual(['new', 'new', 'duplicate']);
    const { events, total } = await store.listEvents({});
    expect(total).toBe(2);
    expect(events.map((e) => e.eventId).sort()).toEqual(['e1', 'e2']);
    expect((await store.unplanned(10)).map((t) => t.ceId)).toEqual(['e1', 'e2']);
  });

  it('the main thread cannot write, and a failed write rejects with the writer’s message', async () => {
    store = new SqliteThreadedStore(join(tempDir('forewarn-threaded-'), 'hub.db'));
    expect(() => store!.db.prepare("INSERT INTO rules VALUES ('x', '{}', 'api', 'now')").run()).toThrow(
      /readonly|query_only|attempt to write/i,
    );
    // An audit entry without its time breaks a NOT NULL constraint: the writer says so.
    await expect(
      store.audit({ at: null as unknown as string, actor: 't', action: 'x', subject: 's', detail: {} }),
    ).rejects.toThrow(/NOT NULL/i);
    expect(await store.auditLog('s')).toEqual([]);
  });

  it('writes after close are refused with a clear error', async () => {
    const s = new SqliteThreadedStore(join(tempDir('forewarn-threaded-'), 'hub.db'));
    await s.close();
    await expect(s.ingest([incoming('late')], '2026-11-23T00:00:01Z')).rejects.toThrow(/closed/);
  });
});

describe('the writer’s shared commits', () => {
  it('calls queued together share a commit, yet one failing call undoes only its own writes', async () => {
    const path = join(tempDir('forewarn-threaded-'), 'hub.db');
    store = new SqliteThreadedStore(path);
    const at = '2026-11-23T00:00:01Z';
    // Sent in one turn, so they reach the writer together: one shared transaction.
    const [a, bad, b, beat] = await Promise.allSettled([
      store.ingest([incoming('s1')], at),
      store.audit({ at: null as unknown as string, actor: 't', action: 'x', subject: 's', detail: {} }),
      store.ingest([incoming('s2', 'web-02')], at),
      store.heartbeats([{ vm: 'web-03', payload: { identity: { vm: 'web-03' } } }], at),
    ]);
    expect([a.status, bad.status, b.status, beat.status]).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect((bad as PromiseRejectedResult).reason.message).toMatch(/NOT NULL/i);
    await store.close();
    // Committed (a fresh process sees them), and the failed call left nothing behind.
    store = new SqliteThreadedStore(path);
    expect((await store.listEvents({})).events.map((e) => e.eventId).sort()).toEqual(['s1', 's2']);
    expect((await store.getVm('web-03'))?.name).toBe('web-03');
    expect(await store.auditLog('s')).toEqual([]);
  });
});

describe('closing', () => {
  it('commits what was sent before close, in the same turn, then closes', async () => {
    const path = join(tempDir('forewarn-threaded-'), 'hub.db');
    const s = new SqliteThreadedStore(path);
    // Two writes: they share a commit, which must come before the close.
    const writes = [
      s.ingest([incoming('last-1')], '2026-11-23T00:00:01Z'),
      s.ingest([incoming('last-2')], '2026-11-23T00:00:01Z'),
    ];
    await s.close();
    expect((await Promise.all(writes)).map((r) => r[0]!.outcome)).toEqual(['new', 'new']);
    store = new SqliteThreadedStore(path);
    expect((await store.listEvents({})).events.map((e) => e.eventId).sort()).toEqual(['last-1', 'last-2']);
  });
});

describe('the checkpointer thread', () => {
  it('copies committed writes into the database file while the writer keeps its WAL', async () => {
    const path = join(tempDir('forewarn-threaded-'), 'hub.db');
    store = new SqliteThreadedStore(path, { checkpointEveryMs: 20 });
    const before = statSync(path).size;
    // ~100 pages: far below the writer's own automatic checkpoint (10,000 pages), so only the
    // checkpointer thread can have moved them into the file.
    for (let b = 0; b < 10; b++)
      await store.ingest(
        Array.from({ length: 50 }, (_, i) => incoming(`b${b}-e${i}`, `vm-${i % 7}`)),
        '2026-11-23T00:00:01Z',
      );
    await expect.poll(() => statSync(path).size, { timeout: 5000, interval: 20 }).toBeGreaterThan(before);
    expect((await store.listEvents({})).total).toBe(500);
    await store.close();
    store = undefined;
    // Closed cleanly: the file opens again with every event.
    store = new SqliteThreadedStore(path);
    expect((await store.listEvents({ limit: 1 })).total).toBe(500);
  });
});
