// Feeds the planner. Normally straight from ingest (the stored transitions it just committed, in
// commit order), so planning reads nothing back. From the store instead (`unplanned`) at start,
// after a failed pass, or when the feed sees a gap in transition ids (something stored that did
// not come through ingest): durability never depends on the in-memory path.
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import type { StoredTransition } from './hub-events.js';
import type { Planner } from './planner.js';

const BATCH = 200;

export class PlanFeed {
  private inbox: StoredTransition[] = [];
  /** Highest transition id planned; undefined until the store was read once. */
  private planned?: number;
  private resync = true;
  private queued = false;
  private running: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly planner: Planner,
    private readonly log: Logger,
    /** false: every pass reads the store (replicas: another hub may have stored transitions first). */
    private readonly o: { fromIngest: boolean } = { fromIngest: true },
  ) {}

  push(t: StoredTransition): void {
    if (this.o.fromIngest) this.inbox.push(t);
    void this.drain();
  }

  /** Plans everything known; resolves when done (one pass at a time, one queued at most). */
  drain(): Promise<void> {
    if (this.closed || this.queued) return this.running;
    this.queued = true;
    this.running = this.running.then(async () => {
      this.queued = false;
      for (;;) {
        if (this.closed) return;
        const batch = this.next();
        let list: StoredTransition[];
        try {
          list = batch ?? (await this.store.unplanned(BATCH));
        } catch (err) {
          // The store is unreachable (or closing): the next pass reads it again.
          this.log.error({ err: (err as Error).message }, 'reading unplanned transitions failed');
          this.resync = true;
          return;
        }
        if (!batch && list.length === 0) {
          this.resync = false;
          // What arrived meanwhile and was read from the store already is not planned twice.
          this.inbox = this.inbox.filter((t) => t.transitionId > (this.planned ?? 0));
          if (this.inbox.length === 0) return;
          continue;
        }
        if (list.length === 0) return;
        try {
          await this.planner.planBatch(list);
          this.planned = Math.max(this.planned ?? 0, list.at(-1)!.transitionId);
        } catch (err) {
          // The store refused the commit: nothing of the batch was written; read it back next time.
          this.log.error({ err: (err as Error).message }, 'planning pass failed');
          this.resync = true;
          return;
        }
        // Let I/O in between batches: a loop that never yields delays everything else.
        await new Promise((r) => setImmediate(r));
      }
    });
    return this.running;
  }

  /** Plans what is known, then nothing more: the hub is closing and the store goes next. */
  async close(): Promise<void> {
    await this.drain();
    this.closed = true;
    await this.running;
  }

  /** The next batch from the inbox, or undefined when the store must be read instead. */
  private next(): StoredTransition[] | undefined {
    if (!this.o.fromIngest || this.resync || this.planned === undefined) return undefined;
    let expected = this.planned + 1;
    let n = 0;
    while (n < this.inbox.length && n < BATCH && this.inbox[n]!.transitionId === expected) {
      n++;
      expected++;
    }
    if (n === 0 && this.inbox.length) {
      this.resync = true; // a gap: something else stored a transition; the store has it
      return undefined;
    }
    return this.inbox.splice(0, n);
  }
}
