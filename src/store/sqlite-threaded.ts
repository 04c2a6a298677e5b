// SQLite with its writes on a thread of their own. better-sqlite3 is synchronous: on the event
// loop, every commit (and its fsync) stops HTTP parsing, so under load the hub spent half its main
// thread inside SQLite. Here the writes run in a worker thread with its own connection, in the
// order they were called, and the main thread keeps a read-only connection: WAL lets it read while
// the writer writes, and a write's promise resolves only once it is committed, so a read that
// follows a write sees it.
import { Worker } from 'node:worker_threads';
import { SqliteStore } from './sqlite.js';
import type { Store } from './store.js';

/** Store methods that write (or read-then-write in one transaction): they go to the writer. */
const WRITES = [
  'ingest',
  'heartbeat',
  'heartbeats',
  'enqueueCommand',
  'takeCommands',
  'completeCommand',
  'markPlanned',
  'commitPlan',
  'putRule',
  'deleteRule',
  'advanceSchedule',
  'holdLease',
  'releaseLease',
  'audit',
  'prune',
  'createRun',
  'retimePending',
  'skipPending',
  'claimDue',
  'finishAttempt',
  'finishAttempts',
  'reapExpired',
  'redrive',
  'acquireSlot',
  'releaseSlots',
  'holdStep',
] as const satisfies readonly (keyof Store)[];

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** Starts `./<name>.js` (or `.ts` when running from source) as a worker thread. */
function spawn(name: string, workerData: object): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, here), { workerData });
  // Running from source (tests, benchmarks under tsx): the thread loads TypeScript through tsx too.
  const entry = new URL(`./${name}.ts`, here).href;
  const boot = `import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

/** Checkpoint passes: every second, or again soon while more than this many pages are left. */
const CHECKPOINT = { everyMs: 1000, minPages: 2000 };

export interface ThreadedOptions {
  synchronous?: 'full' | 'normal';
  /** How often the checkpointer thread copies the WAL back (ms); tests shorten it. */
  checkpointEveryMs?: number;
}

/** Asks the checkpointer to close its connection (a clean close), then ends the thread. */
async function stopCheckpointer(w: Worker): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2000);
    w.once('message', () => (clearTimeout(timer), resolve()));
    w.once('exit', () => (clearTimeout(timer), resolve()));
    w.postMessage('close');
  });
  await w.terminate();
}

export class SqliteThreadedStore extends SqliteStore {
  /** The writer thread runs calls in the order they were sent (see Store.ordersWrites). */
  readonly ordersWrites = true;
  private readonly writer: Worker;
  private readonly checkpointer: Worker;
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private failed?: Error;

  constructor(path: string, { checkpointEveryMs, ...options }: ThreadedOptions = {}) {
    super(path, options); // the main thread's connection; it applies migrations before the writer opens
    this.db.pragma('query_only = ON');
    this.writer = spawn('sqlite-writer', { path, options });
    this.writer.unref(); // referenced only while a call is in flight
    this.checkpointer = spawn('sqlite-checkpointer', {
      path,
      ...CHECKPOINT,
      everyMs: checkpointEveryMs ?? CHECKPOINT.everyMs,
    });
    this.checkpointer.unref();
    this.checkpointer.on('error', () => undefined); // the writer's backstop checkpoints take over
    this.writer.on(
      'message',
      (m: { id: number; result?: unknown; error?: { name: string; message: string; code?: string } }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (this.pending.size === 0) this.writer.unref();
        if (m.error)
          p.reject(Object.assign(new Error(m.error.message), { name: m.error.name, code: m.error.code }));
        else p.resolve(m.result);
      },
    );
    this.writer.on('error', (err) => this.fail(err));
    this.writer.on('exit', (code) => this.fail(new Error(`the SQLite writer thread exited (code ${code})`)));
    const self = this as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    for (const method of WRITES) self[method] = (...args: unknown[]) => this.call(method, args);
  }

  private call(method: string, args: unknown[]): Promise<unknown> {
    if (this.failed) return Promise.reject(this.failed);
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.writer.ref();
      this.pending.set(id, { resolve, reject });
      this.writer.postMessage({ id, method, args });
    });
  }

  private fail(err: Error): void {
    this.failed ??= err;
    for (const p of this.pending.values()) p.reject(this.failed);
    this.pending.clear();
  }

  override async close(): Promise<void> {
    if (!this.failed) await this.call('close', []);
    this.failed ??= new Error('the store is closed');
    await this.writer.terminate();
    await stopCheckpointer(this.checkpointer);
    await super.close();
  }
}
