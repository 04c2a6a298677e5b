// Opening a SQLite file the way forewarn always does (WAL, an fsync policy, a busy timeout) and
// bringing its schema up to date: shared by the hub's store and the agent's journal.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export interface OpenOptions {
  /** One script per schema version, applied in order, each in a transaction; tracked by user_version. */
  migrations: readonly string[];
  /** FULL (default) fsyncs every commit; NORMAL in WAL survives a killed process, not power loss. */
  synchronous?: 'full' | 'normal';
  foreignKeys?: boolean;
}

export function openSqlite(path: string, o: OpenOptions): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${o.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  if (o.foreignKeys) db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const version = db.pragma('user_version', { simple: true }) as number;
  for (let v = version; v < o.migrations.length; v++) {
    db.transaction(() => {
      db.exec(o.migrations[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  if (path !== ':memory:') assertWritable(db, path);
  return db;
}

/**
 * SQLite opens a file on a read-only disk without complaint (read-only) and fails only at the
 * first write: say so at start instead, naming the file, so a bad mount is found at once.
 */
function assertWritable(db: Database.Database, path: string): void {
  try {
    db.exec('BEGIN IMMEDIATE; ROLLBACK');
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('SQLITE_BUSY')) return; // another connection is writing: the file is writable
    db.close();
    throw Object.assign(
      new Error(
        `${path} is not writable (${code}: ${(err as Error).message}); forewarn needs a writable data directory`,
      ),
      { code },
    );
  }
}
