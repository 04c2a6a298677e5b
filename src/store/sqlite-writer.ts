// The SQLite writer thread: owns the one connection that writes, and runs the store's write
// methods in the order they were sent (see sqlite-threaded.ts for why it is a thread).
//
// Calls that queued up while the previous commit was being written share one transaction, the
// way the ingest route's group commit shares one among requests: ingest, the planner's commit, the
// executor's claims and finished attempts each used to pay their own fsync, and with events
// arriving one by one the writer spent its time in fsync. Each call still runs in its own
// savepoint (better-sqlite3 nests transactions that way), so a call that fails undoes only its own
// writes and only its caller sees the error; nobody is answered before the shared commit returned.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { SqliteStore } from './sqlite.js';

interface Call {
  id: number;
  method: string;
  args: unknown[];
}

type Answer = { id: number; result?: unknown; error?: { name: string; message: string; code?: string } };

const { path, options } = workerData as { path: string; options: { synchronous?: 'full' | 'normal' } };
const sqlite = new SqliteStore(path, options);
// The checkpointer thread copies the WAL back (sqlite-checkpointer.ts); an automatic checkpoint
// here only if it falls far behind (40 MB), and the WAL file shrinks back to 64 MB after one.
sqlite.db.pragma('wal_autocheckpoint = 10000');
sqlite.db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
const store = sqlite as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
const port = parentPort!;

// The code (SQLITE_FULL, SQLITE_READONLY, …) tells the hub a write failed for want of disk.
const failure = (id: number, err: Error & { code?: string }): Answer => ({
  id,
  error: { name: err.name, message: err.message, code: err.code },
});

/** Most calls per shared transaction: bounds how long one commit keeps the first caller waiting. */
const MAX_CALLS = 256;

port.on('message', (first: Call) => {
  const calls = [first];
  for (
    let m;
    calls.length < MAX_CALLS && calls.at(-1)!.method !== 'close' && (m = receiveMessageOnPort(port));
  )
    calls.push(m.message as Call);
  // `close` goes last and alone: everything before it is committed first.
  const closing = calls.at(-1)!.method === 'close' ? calls.pop() : undefined;
  const shared = calls.length
    ? runShared(calls).then((answers) => answers.forEach((a) => port.postMessage(a)))
    : Promise.resolve();
  // After the shared commit: closing first would leave it nothing to commit on.
  if (closing) void shared.then(() => runOne(closing)).then((a) => port.postMessage(a));
});

async function runOne(call: Call): Promise<Answer> {
  try {
    return { id: call.id, result: await store[call.method]!(...call.args) };
  } catch (err) {
    return failure(call.id, err as Error);
  }
}

async function runShared(calls: Call[]): Promise<Answer[]> {
  if (calls.length === 1) return [await runOne(calls[0]!)];
  const db = sqlite.db;
  try {
    db.exec('BEGIN IMMEDIATE');
  } catch (err) {
    return calls.map((c) => failure(c.id, err as Error));
  }
  // better-sqlite3 is synchronous: each method has done all its work (in its savepoint) by the
  // time it returns its promise, so the COMMIT below comes after every call's writes.
  const pending: Promise<unknown>[] = [];
  for (const c of calls) {
    // A disk error (SQLITE_FULL, IOERR…) can end the transaction early: what follows must not run
    // outside it (each call would commit alone), so it fails untried.
    if (!db.inTransaction) {
      pending.push(Promise.reject(new Error('the shared transaction was rolled back')));
      continue;
    }
    try {
      pending.push(store[c.method]!(...c.args));
    } catch (err) {
      pending.push(Promise.reject(err as Error));
    }
  }
  const settled = await Promise.allSettled(pending);
  try {
    if (!db.inTransaction) throw new Error('the shared transaction was rolled back');
    db.exec('COMMIT');
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    const why = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
    return calls.map((c) => failure(c.id, (why?.reason as Error) ?? (err as Error)));
  }
  return settled.map((s, i) =>
    s.status === 'fulfilled'
      ? { id: calls[i]!.id, result: s.value }
      : failure(calls[i]!.id, s.reason as Error),
  );
}
