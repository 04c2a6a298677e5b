// The servers the ingest benchmark loads, in the bench process: a bare Fastify route (parses the
// JSON body, answers 200: the floor any HTTP service pays) and the real hub on SQLite (a temp
// file, WAL, synchronous=FULL as shipped) or on PostgreSQL (a fresh schema on 127.0.0.1:5432).
import { join } from 'node:path';
import Fastify from 'fastify';
import { createHub } from '../../src/hub/server.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { SqliteThreadedStore } from '../../src/store/sqlite-threaded.js';
import type { Store } from '../../src/store/store.js';
import { dropSchema, PG_URL, pgQuery, uniqueSchema } from '../../test/helpers/postgres.js';
import { applyWhatIfs, type WhatIf } from './what-if.js';

export const INGEST_PATH = '/api/v1/events';
export const INGEST_AGENT_SECRET = 'bench-agent-secret';

export type TargetKind = 'bare' | 'sqlite' | 'postgres';

export interface IngestTarget {
  kind: TargetKind;
  url: string;
  /** Every stored receipt as `source<TAB>id` (not for the bare route). */
  receipts(): Promise<Set<string>>;
  /** Transitions stored but not yet planned (SQLite only; NaN otherwise). */
  planBehind(): number;
  /** Waits for the planner to catch up. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export async function startBare(): Promise<IngestTarget> {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  app.addContentTypeParser(
    ['application/cloudevents-batch+json', 'application/cloudevents+json'],
    { parseAs: 'string' },
    (_req, body, done) => {
      try {
        done(null, JSON.parse(body as string));
      } catch (err) {
        done(err as Error, undefined);
      }
    },
  );
  app.post(INGEST_PATH, async (req) => ({ received: Array.isArray(req.body) ? req.body.length : 1 }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const a = app.server.address();
  return {
    kind: 'bare',
    url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`,
    receipts: async () => new Set(),
    planBehind: () => NaN,
    idle: async () => undefined,
    close: () => app.close(),
  };
}

const asSet = (rows: { ce_source: string; ce_id: string }[]) =>
  new Set(rows.map((r) => `${r.ce_source}\t${r.ce_id}`));

/** The real hub, no rules, agent tokens derived from a secret, on a fresh store. */
export async function startHubTarget(
  kind: 'sqlite' | 'postgres',
  dir: string,
  whatIf: WhatIf[],
): Promise<IngestTarget> {
  let store: Store;
  let sqlite: SqliteStore | undefined;
  const schema = uniqueSchema('bench');
  if (kind === 'sqlite') {
    const dbPath = join(dir, 'hub.db');
    sqlite = process.env.BENCH_STORE === 'sqlite' ? new SqliteStore(dbPath) : new SqliteThreadedStore(dbPath);
    applyWhatIfs(sqlite, whatIf);
    store = sqlite;
  } else {
    store = await PostgresStore.open({ url: PG_URL, schema, poolSize: 8 });
  }
  const hub = await createHub({
    store,
    auth: {
      agentSecret: INGEST_AGENT_SECRET,
      operators: [{ name: 'root', role: 'admin', token: 'bench-admin' }],
    },
    rules: [],
  });
  const url = await hub.listen(0, '127.0.0.1');
  return {
    kind,
    url,
    receipts: async () =>
      asSet(
        sqlite
          ? (sqlite.db.prepare('SELECT ce_source, ce_id FROM receipts').all() as {
              ce_source: string;
              ce_id: string;
            }[])
          : await pgQuery<{ ce_source: string; ce_id: string }>(
              schema,
              'SELECT ce_source, ce_id FROM receipts',
            ),
      ),
    planBehind: () =>
      sqlite
        ? (
            sqlite.db
              .prepare('SELECT COUNT(*) AS n FROM transitions WHERE id > (SELECT id FROM plan_cursor)')
              .get() as { n: number }
          ).n
        : NaN,
    idle: () => hub.idle(),
    async close() {
      await hub.close();
      // A planning pass queued while the hub closed must not find the store closed under it.
      await hub.idle();
      await store.close();
      if (kind === 'postgres') await dropSchema(schema).catch(() => undefined);
    },
  };
}
