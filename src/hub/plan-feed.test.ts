import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Store } from '../store/store.js';
import type { StoredTransition } from './hub-events.js';
import { PlanFeed } from './plan-feed.js';
import type { Planner } from './planner.js';

const t = (id: number) => ({ transitionId: id }) as StoredTransition;

/** A store holding transitions 1..n, of which those not yet planned come back from `unplanned`. */
function setup(failOn?: number, readFails = () => false) {
  const stored: number[] = [];
  const planned = new Set<number>();
  const batches: { ids: number[]; from: 'store' | 'inbox' }[] = [];
  let reads = 0;
  let lastRead: number[] = [];
  const store = {
    async unplanned(limit: number) {
      reads++;
      if (readFails()) throw new Error('Cannot use a pool after calling end on the pool');
      lastRead = stored.filter((id) => !planned.has(id)).slice(0, limit);
      return lastRead.map(t);
    },
  } as unknown as Store;
  let failed = false;
  const planner = {
    async planBatch(list: StoredTransition[]) {
      const ids = list.map((x) => x.transitionId);
      if (failOn !== undefined && ids.includes(failOn) && !failed) {
        failed = true;
        throw new Error('disk I/O error');
      }
      batches.push({ ids, from: ids.join() === lastRead.join() ? 'store' : 'inbox' });
      ids.forEach((id) => planned.add(id));
      return 0;
    },
  } as unknown as Planner;
  const feed = new PlanFeed(store, planner, pino({ level: 'silent' }));
  const ingest = (id: number, push = true) => {
    stored.push(id);
    if (push) feed.push(t(id));
  };
  return { feed, ingest, batches, planned, reads: () => reads };
}

describe('PlanFeed', () => {
  it('plans what the store holds at start, then what ingest hands over, without reading it back', async () => {
    const s = setup();
    s.ingest(1, false);
    s.ingest(2, false);
    await s.feed.drain();
    expect(s.batches).toEqual([{ ids: [1, 2], from: 'store' }]);
    const readsAfterStart = s.reads();
    s.ingest(3);
    s.ingest(4);
    await s.feed.drain();
    expect(s.batches.at(-1)).toEqual({ ids: [3, 4], from: 'inbox' });
    expect(s.reads()).toBe(readsAfterStart);
  });

  it('a gap in ids (stored without passing ingest) sends it to the store, and nothing is missed', async () => {
    const s = setup();
    await s.feed.drain();
    s.ingest(1);
    await s.feed.drain();
    s.ingest(2, false); // e.g. written by another path
    s.ingest(3);
    await s.feed.drain();
    expect([...s.planned].sort()).toEqual([1, 2, 3]);
    expect(s.batches.flatMap((b) => b.ids)).toEqual([1, 2, 3]); // each planned once
  });

  it('after a failed pass it reads the store again and plans the batch then', async () => {
    const s = setup(2);
    await s.feed.drain();
    s.ingest(1);
    await s.feed.drain();
    s.ingest(2);
    await s.feed.drain(); // fails
    expect(s.planned.has(2)).toBe(false);
    s.ingest(3);
    await s.feed.drain();
    expect([...s.planned].sort()).toEqual([1, 2, 3]);
  });

  it('a store that cannot be read fails the pass, not the caller; the next pass reads it again', async () => {
    let down = true;
    const s = setup(undefined, () => down);
    s.ingest(1, false);
    await expect(s.feed.drain()).resolves.toBeUndefined();
    expect(s.batches).toEqual([]);
    down = false;
    await s.feed.drain();
    expect(s.batches).toEqual([{ ids: [1], from: 'store' }]);
  });

  it('after close it plans what it knew and then never reads the store again', async () => {
    const s = setup();
    s.ingest(1, false);
    await s.feed.close();
    expect(s.batches).toEqual([{ ids: [1], from: 'store' }]);
    const reads = s.reads();
    s.ingest(2); // a late notice after the hub closed
    await s.feed.drain();
    expect(s.reads()).toBe(reads);
    expect(s.planned.has(2)).toBe(false);
  });
});
