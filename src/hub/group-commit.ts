// Group commit: writes that arrive together share one transaction (one fsync), the way databases
// batch their log writes. Each caller still gets exactly its own result, and nobody is answered
// before the shared commit returned, so an acknowledged write is on disk.
//
// Used for ingest (requests arriving together) and for the executor's finished attempts (steps
// finishing together), the two write paths that run once per event or per step.

interface Waiting<I, O> {
  items: I[];
  resolve: (r: { results: O[]; at: string }) => void;
  reject: (e: unknown) => void;
}

/** Group commits in flight on a store that orders writes itself (Store.ordersWrites). */
export const inFlightFor = (store: { ordersWrites?: boolean }): number => (store.ordersWrites ? 4 : 1);

export class GroupCommit<I, O> {
  private queue: Waiting<I, O>[] = [];
  private scheduled = false;
  private inFlight = 0;

  constructor(
    /** Writes all items in one transaction; results in input order. All or nothing. */
    private readonly write: (items: I[], at: string) => Promise<O[]>,
    private readonly now: () => number,
    /** Most items per shared transaction. */
    private readonly maxItems = 5000,
    /**
     * Groups handed to `write` before the first of them returned. 1 for a store that runs writes
     * concurrently (PostgreSQL: two groups would race each other's dedup); more for one that
     * applies them in call order itself (SQLite's writer thread), so the next group is already
     * waiting there when a commit ends instead of after a round trip through this event loop.
     */
    private readonly maxInFlight = 1,
  ) {}

  /** Commits `items` (all or nothing) together with whatever else is waiting. */
  add(items: I[]): Promise<{ results: O[]; at: string }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || !this.queue.length) return;
    this.scheduled = true;
    // Wait for the rest of this turn of the event loop: requests parsed together commit together.
    setImmediate(() => {
      this.scheduled = false;
      while (this.inFlight < this.maxInFlight && this.queue.length) {
        this.inFlight++;
        void this.commit(this.take()).finally(() => {
          this.inFlight--;
          this.schedule();
        });
      }
    });
  }

  private take(): Waiting<I, O>[] {
    const group: Waiting<I, O>[] = [];
    let count = 0;
    while (
      this.queue.length &&
      (group.length === 0 || count + this.queue[0]!.items.length <= this.maxItems)
    ) {
      const w = this.queue.shift()!;
      group.push(w);
      count += w.items.length;
    }
    return group;
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  private async commit(group: Waiting<I, O>[]): Promise<void> {
    const at = this.iso();
    try {
      const results = await this.write(
        group.flatMap((w) => w.items),
        at,
      );
      let offset = 0;
      for (const w of group) {
        w.resolve({ results: results.slice(offset, offset + w.items.length), at });
        offset += w.items.length;
      }
    } catch (err) {
      if (group.length === 1) {
        group[0]!.reject(err);
        return;
      }
      // One caller's items broke the shared transaction (nothing of it was written): commit each
      // alone, so only that caller fails and the others keep their all-or-nothing answer.
      for (const w of group) {
        const alone = this.iso();
        try {
          w.resolve({ results: await this.write(w.items, alone), at: alone });
        } catch (e) {
          w.reject(e);
        }
      }
    }
  }
}
