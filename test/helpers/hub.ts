// A real hub on a temp SQLite file (or, with FOREWARN_TEST_STORE=postgres, on a fresh schema of the
// real PostgreSQL, dropped on close), plus a webhook receiver that can fail on purpose.
import { join } from 'node:path';
import Fastify from 'fastify';
import { deriveAgentToken } from '../../src/hub/auth.js';
import { createHub, type Hub, type HubOptions } from '../../src/hub/server.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { SqliteThreadedStore } from '../../src/store/sqlite-threaded.js';
import type { Store } from '../../src/store/store.js';
import { tempDir } from './agent.js';
import { openTestPostgres, postgresMissing } from './postgres.js';

export const AGENT_SECRET = 'test-agent-secret';
export const ADMIN = 'admin-token';
export const READER = 'reader-token';
export const OPERATOR = 'operator-token';
export const EG_KEY = Buffer.from('event-grid-topic-key').toString('base64');

export interface TestHub {
  hub: Hub;
  url: string;
  /** The SQLite file ('' on PostgreSQL). */
  dbPath: string;
  agentToken(vm: string): string;
  api(
    method: string,
    path: string,
    body?: unknown,
    token?: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** Which store hub tests run on: `postgres` when FOREWARN_TEST_STORE says so (the CI runs both). */
export const TEST_STORE = process.env.FOREWARN_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';

async function testStore(dbPath: string | undefined): Promise<{ store: Store; dbPath: string }> {
  if (TEST_STORE === 'postgres' && !dbPath) {
    const why = await postgresMissing();
    if (why) throw new Error(`FOREWARN_TEST_STORE=postgres: ${why}`);
    return { store: await openTestPostgres(), dbPath: '' };
  }
  const path = dbPath ?? join(tempDir('forewarn-hub-'), 'hub.db');
  // The SQLite store the CLI uses: writes on their own thread (FOREWARN_TEST_STORE=sqlite-loop: on the loop).
  const store =
    process.env.FOREWARN_TEST_STORE === 'sqlite-loop' ? new SqliteStore(path) : new SqliteThreadedStore(path);
  return { store, dbPath: path };
}

export async function startHub(
  options: Partial<HubOptions> & { dbPath?: string; port?: number } = {},
): Promise<TestHub> {
  const { store, dbPath } = options.store
    ? { store: options.store, dbPath: options.dbPath ?? '' }
    : await testStore(options.dbPath);
  const hub = await createHub({
    store,
    auth: {
      agentSecret: AGENT_SECRET,
      operators: [
        { name: 'root', role: 'admin', token: ADMIN },
        { name: 'viewer', role: 'read', token: READER },
        { name: 'oncall', role: 'operate', token: OPERATOR },
      ],
      eventGridKeys: [{ name: 'key1', key: EG_KEY }],
    },
    baseBackoffMs: 50,
    ...options,
  });
  const url = await hub.listen(options.port ?? 0);
  return {
    hub,
    url,
    dbPath,
    agentToken: (vm) => deriveAgentToken(AGENT_SECRET, vm),
    async api(method, path, body, token = ADMIN, headers = {}) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // keep text
      }
      return { status: res.status, body: parsed };
    },
    async close() {
      await hub.close();
      await hub.store.close();
    },
  };
}

export interface Receiver {
  url: string;
  calls: { headers: Record<string, string | string[] | undefined>; body: any; at: number }[];
  /** Statuses to answer, in order; then 200. */
  script: number[];
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const app = Fastify({ forceCloseConnections: true });
  const r: Receiver = { url: '', calls: [], script: [], close: () => app.close() };
  app.addContentTypeParser('application/cloudevents+json', { parseAs: 'string' }, (_req, body, done) =>
    done(null, JSON.parse(body as string)),
  );
  app.post('/hook', async (req, reply) => {
    r.calls.push({ headers: req.headers, body: req.body, at: Date.now() });
    const status = r.script.shift() ?? 200;
    return reply.code(status).send(status === 200 ? { ok: true } : { error: 'on purpose' });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const a = app.server.address();
  r.url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/hook`;
  return r;
}
