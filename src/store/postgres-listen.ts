// One dedicated connection per hub that LISTENs on the schema's channel and hands every
// notification to the hub. A lost connection is re-opened with backoff; on reconnect listeners are
// told that anything may have changed (notifications sent while we were away are gone).
import pg from 'pg';
import type { StoreChange } from './store.js';

const KINDS = new Set(['transition', 'steps', 'step', 'command', 'rules']);

export class ChangeListener {
  private client?: pg.Client;
  private closed = false;
  private retry?: NodeJS.Timeout;
  private readonly listeners = new Set<(c: StoreChange) => void>();

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly channel: string,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {}

  /** Resolves once LISTEN is in place (notifications from then on arrive); throws if it cannot be. */
  async start(): Promise<void> {
    await this.connect(0, true);
  }

  add(listener: (c: StoreChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(c: StoreChange): void {
    for (const l of this.listeners) l(c);
  }

  private async connect(attempt: number, first = false): Promise<void> {
    this.retry = undefined;
    if (this.closed) return;
    const client = new pg.Client(this.config);
    client.on('notification', (n) => {
      if (n.channel !== this.channel || !n.payload) return;
      try {
        const c = JSON.parse(n.payload) as StoreChange;
        if (KINDS.has(c.kind)) this.emit(c);
      } catch {
        // not ours
      }
    });
    const lost = (err: Error) => {
      if (this.client !== client) return; // not yet listening, or already replaced
      this.client = undefined;
      this.onError(err);
      void client.end().catch(() => undefined);
      this.schedule(0);
    };
    client.on('error', lost);
    client.on('end', () => lost(new Error('the LISTEN connection closed')));
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
      if (this.closed) return void (await client.end());
      this.client = client;
      if (attempt > 0) for (const kind of KINDS) this.emit({ kind } as StoreChange);
    } catch (err) {
      void client.end().catch(() => undefined);
      if (first) throw err;
      this.onError(err as Error);
      this.schedule(attempt);
    }
  }

  private schedule(attempt: number): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => void this.connect(attempt + 1), Math.min(5000, 200 * 2 ** attempt));
    this.retry.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }
}
