// The real PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres, database test), a fresh schema
// per test. Missing server: tests skip with a message locally, and fail in CI (CI=true).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresStore, type PostgresOptions } from '../../src/store/postgres.js';

export const PG_URL = process.env.FOREWARN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let reachable: Promise<string | undefined> | undefined;

/** undefined when PostgreSQL answers; otherwise why not (and what to start). */
export function postgresMissing(): Promise<string | undefined> {
  reachable ??= (async () => {
    const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      return undefined;
    } catch (err) {
      return `PostgreSQL at ${PG_URL} is not reachable (${(err as Error).message}); start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`;
    } finally {
      await c.end().catch(() => undefined);
    }
  })();
  return reachable;
}

/** True when tests may run; in CI a missing server throws instead of skipping. */
export async function postgresOrSkip(): Promise<boolean> {
  const why = await postgresMissing();
  if (!why) return true;
  if (process.env.CI === 'true') throw new Error(why);
  console.warn(`skipped: ${why}`);
  return false;
}

export function uniqueSchema(prefix = 't'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

export async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await c.end();
  }
}

/** One query against a schema, for tests that check the tables themselves. */
export async function pgQuery<T = Record<string, unknown>>(
  schema: string,
  sql: string,
  values: unknown[] = [],
): Promise<T[]> {
  const c = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
  await c.connect();
  try {
    return (await c.query(sql, values)).rows as T[];
  } finally {
    await c.end();
  }
}

/** A store on a new schema; closing it drops the schema. */
export async function openTestPostgres(
  o: Partial<PostgresOptions> = {},
): Promise<PostgresStore & { dropOnClose: true }> {
  const schema = o.schema ?? uniqueSchema();
  const store = await PostgresStore.open({ url: PG_URL, schema, poolSize: 4, ...o });
  const close = store.close.bind(store);
  return Object.assign(store, {
    dropOnClose: true as const,
    close: async () => {
      await close();
      await dropSchema(schema);
    },
  });
}
