// Reads what a test hub stored, straight from its tables (SQLite file or PostgreSQL schema), for
// tests and drills that check the store itself rather than the API.
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { PostgresStore } from '../../src/store/postgres.js';
import type { TestHub } from './hub.js';
import { pgQuery } from './postgres.js';

export interface StoredTransition {
  id: number;
  reporter: string;
  eventId: string;
  transition: string;
}

/** Every transition the hub stored, in its own (id) order. */
export async function storeTransitions(h: {
  hub?: Pick<TestHub['hub'], 'store'>;
  dbPath: string;
}): Promise<StoredTransition[]> {
  const sql = 'SELECT id, reporter, transition, data FROM transitions ORDER BY id';
  const rows =
    h.hub?.store instanceof PostgresStore
      ? await pgQuery<{ id: string; reporter: string; transition: string; data: string }>(
          h.hub.store.schema,
          sql,
        )
      : sqliteAll<{ id: number; reporter: string; transition: string; data: string }>(h.dbPath, sql);
  return rows.map((r) => ({
    id: Number(r.id),
    reporter: r.reporter,
    transition: r.transition,
    eventId: (JSON.parse(r.data) as { eventId: string }).eventId,
  }));
}

/** A read-only query on a SQLite file another connection (a hub) is writing. */
export function sqliteAll<T>(path: string, sql: string): T[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

/**
 * A digest of every row of every table of the hub's store: equal digests, equal stores. For
 * checking that a refused request changed nothing (not only no row added, no row touched).
 */
export async function storeDigest(h: Pick<TestHub, 'hub' | 'dbPath'>): Promise<string> {
  const hash = createHash('sha256');
  if (h.hub.store instanceof PostgresStore) {
    const schema = h.hub.store.schema;
    const tables = await pgQuery<{ table_name: string }>(
      schema,
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
      [schema],
    );
    for (const { table_name: t } of tables) {
      const rows = await pgQuery(schema, `SELECT * FROM "${t}" ORDER BY 1`);
      hash.update(`${t}\n${JSON.stringify(rows)}\n`);
    }
    return hash.digest('hex');
  }
  const tables = sqliteAll<{ name: string }>(
    h.dbPath,
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
  );
  const db = new Database(h.dbPath, { readonly: true, fileMustExist: true });
  try {
    for (const { name } of tables)
      hash.update(`${name}\n${JSON.stringify(db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).all())}\n`);
  } finally {
    db.close();
  }
  return hash.digest('hex');
}
