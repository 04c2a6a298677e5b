// Group commit: ingest requests that arrive together share one transaction (one fsync), the way
// databases batch their log writes. Each request still gets exactly its own outcomes, and an
// acknowledged request is on disk: nobody is answered before the shared commit returned.
import type { IncomingTransition, IngestResult, Store } from '../store/store.js';

interface Waiting {
  batch: IncomingTransition[];
  resolve: (r: { results: IngestResult[]; receivedAt: string }) => void;
  reject: (e: unknown) => void;
}

export class GroupCommit {
  private queue: Waiting[] = [];
  private flushing = false;

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
    /** Most transitions per shared transaction. */
    private readonly maxEvents = 5000,
  ) {}

  ingest(batch: IncomingTransition[]): Promise<{ results: IngestResult[]; receivedAt: string }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ batch, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length) {
      const group: Waiting[] = [];
      let events = 0;
      while (
        this.queue.length &&
        (group.length === 0 || events + this.queue[0]!.batch.length <= this.maxEvents)
      ) {
        const w = this.queue.shift()!;
        group.push(w);
        events += w.batch.length;
      }
      const at = new Date(this.now()).toISOString();
      try {
        const results = await this.store.ingest(
          group.flatMap((w) => w.batch),
          at,
        );
        let offset = 0;
        for (const w of group) {
          w.resolve({ results: results.slice(offset, offset + w.batch.length), receivedAt: at });
          offset += w.batch.length;
        }
      } catch (err) {
        if (group.length === 1) {
          group[0]!.reject(err);
          continue;
        }
        // One request's batch broke the shared transaction (nothing of it was written): commit each
        // alone, so only that request fails and the others keep their all-or-nothing answer.
        for (const w of group) {
          const alone = new Date(this.now()).toISOString();
          try {
            w.resolve({ results: await this.store.ingest(w.batch, alone), receivedAt: alone });
          } catch (e) {
            w.reject(e);
          }
        }
      }
    }
    this.flushing = false;
  }
}
