// The SQLite writer thread: owns the one connection that writes, and runs the store's write
// methods in the order they were sent (see sqlite-threaded.ts for why it is a thread).
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore } from './sqlite.js';

interface Call {
  id: number;
  method: string;
  args: unknown[];
}

const { path, options } = workerData as { path: string; options: { synchronous?: 'full' | 'normal' } };
const sqlite = new SqliteStore(path, options);
// The checkpointer thread copies the WAL back (sqlite-checkpointer.ts); an automatic checkpoint
// here only if it falls far behind (40 MB), and the WAL file shrinks back to 64 MB after one.
sqlite.db.pragma('wal_autocheckpoint = 10000');
sqlite.db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
const store = sqlite as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;

parentPort!.on('message', (call: Call) => {
  // better-sqlite3 is synchronous: each call completes (committed) before the next message is read.
  store[call.method]!(...call.args).then(
    (result) => parentPort!.postMessage({ id: call.id, result }),
    (err: Error & { code?: string }) =>
      // The code (SQLITE_FULL, SQLITE_READONLY, …) tells the hub a write failed for want of disk.
      parentPort!.postMessage({
        id: call.id,
        error: { name: err.name, message: err.message, code: err.code },
      }),
  );
});
