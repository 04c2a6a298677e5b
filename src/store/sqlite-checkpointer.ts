// The SQLite checkpointer thread: copies the WAL back into the database file off the writer's
// thread. With SQLite's automatic checkpoints every ~1,000 pages, the writer paid for a 4 MB copy
// and an fsync of the database file inside ~1 in 8 commits under load (half its commit time).
// PASSIVE checkpoints never block the writer or readers; the writer keeps a large automatic
// threshold as a backstop should this thread fall behind.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { path, everyMs, minPages } = workerData as { path: string; everyMs: number; minPages: number };
const db = new Database(path);
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = FULL'); // the checkpoint's fsync of the database file, as the writer would do

let running = true;
function pass(): void {
  if (!running) return;
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    // More left than a threshold: go again at once (the writer is outpacing one pass per interval).
    const behind = r ? r.log - r.checkpointed : 0;
    setTimeout(pass, behind > minPages ? 10 : everyMs);
  } catch {
    setTimeout(pass, everyMs); // busy or closing: the next pass tries again
  }
}
setTimeout(pass, everyMs);

parentPort!.on('message', (m: string) => {
  if (m !== 'close') return;
  running = false;
  db.close();
  parentPort!.postMessage('closed');
});
