import { describe, expect, it } from 'vitest';
import { GroupCommit } from './group-commit.js';

const t = (id: string) => id;

/** A writer that records each transaction's size and fails any transaction containing 'bad'. */
function fakeStore() {
  const txns: number[] = [];
  const store = async (batch: string[]) => {
    txns.push(batch.length);
    if (batch.includes('bad')) throw new Error('constraint');
    return batch.map((x) => ({ eventKey: x }));
  };
  return { store, txns };
}

describe('GroupCommit', () => {
  it('commits concurrent requests in one transaction and hands each its own results', async () => {
    const { store, txns } = fakeStore();
    const g = new GroupCommit(store, Date.now);
    const [a, b, c] = await Promise.all([
      g.add([t('a1'), t('a2')]),
      g.add([t('b1')]),
      g.add([t('c1'), t('c2'), t('c3')]),
    ]);
    expect(txns).toEqual([6]);
    expect(a.results.map((r) => r.eventKey)).toEqual(['a1', 'a2']);
    expect(b.results.map((r) => r.eventKey)).toEqual(['b1']);
    expect(c.results.map((r) => r.eventKey)).toEqual(['c1', 'c2', 'c3']);
    expect(a.at).toBe(c.at);
  });

  it('when one batch breaks the shared transaction, only that request fails', async () => {
    const { store, txns } = fakeStore();
    const g = new GroupCommit(store, Date.now);
    const results = await Promise.allSettled([g.add([t('a1')]), g.add([t('bad')]), g.add([t('c1')])]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(txns).toEqual([3, 1, 1, 1]);
  });

  it('caps a shared transaction at maxItems', async () => {
    const { store, txns } = fakeStore();
    const g = new GroupCommit(store, Date.now, 3);
    await Promise.all([g.add([t('a'), t('b')]), g.add([t('c'), t('d')]), g.add([t('e')])]);
    expect(txns).toEqual([2, 3]);
  });
});

describe('GroupCommit in flight', () => {
  /** A writer whose transactions finish only when told to; records how many ran at once. */
  function heldStore() {
    const open: (() => void)[] = [];
    let running = 0;
    let most = 0;
    const store = async (batch: string[]) => {
      running++;
      most = Math.max(most, running);
      await new Promise<void>((r) => open.push(r));
      running--;
      return batch.map((x) => ({ eventKey: x }));
    };
    /** Lets every transaction finish, as they come, until `all` settled. */
    const release = async <T>(all: Promise<T>): Promise<T> => {
      let done = false;
      void all.finally(() => (done = true));
      while (!done) {
        open.splice(0).forEach((r) => r());
        await new Promise((r) => setImmediate(r));
      }
      return all;
    };
    return { store, release, most: () => most };
  }

  it('keeps one group at a time by default: the next waits for the commit before it', async () => {
    const h = heldStore();
    const g = new GroupCommit(h.store, Date.now);
    const first = g.add(['a']);
    await new Promise((r) => setImmediate(r));
    const second = g.add(['b']);
    await new Promise((r) => setImmediate(r));
    await h.release(Promise.all([first, second]));
    expect(h.most()).toBe(1);
  });

  it('hands the next group over while earlier ones commit, up to maxInFlight, answers in order', async () => {
    const h = heldStore();
    const g = new GroupCommit(h.store, Date.now, 5000, 2);
    const adds: Promise<{ results: { eventKey: string }[] }>[] = [];
    for (const x of ['a', 'b', 'c']) {
      adds.push(g.add([x]));
      await new Promise((r) => setImmediate(r));
    }
    const results = await h.release(Promise.all(adds));
    expect(h.most()).toBe(2);
    expect(results.map((r) => r.results[0]!.eventKey)).toEqual(['a', 'b', 'c']);
  });
});
