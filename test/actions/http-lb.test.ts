// The http-lb action against a small load-balancer API served by the test: a templated request
// with a token from the environment, then a verify request that only matches once the balancer
// has applied the change (it applies lazily), retried; refusals and missing secrets.
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ActionContext, ActionResult } from '../../src/actions/action.js';
import { httpLbAction } from '../../src/actions/http-lb.js';
import type { EventRow } from '../../src/store/store.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { tempDir } from '../helpers/agent.js';

const TOKEN = 'lb-token-s3cr3t';
let app: FastifyInstance;
let base: string;
let store: SqliteStore;
let logged: string[];
const members: Record<string, { state: string; pending?: string; reads: number }> = {};
const seen: { method: string; url: string; auth?: string; body: unknown }[] = [];
/** Verify reads before a requested state shows. */
let lag = 0;

const event = {
  key: 'azure/e1',
  provider: 'azure',
  eventId: 'E1',
  type: 'reboot',
  status: 'scheduled',
  origin: 'platform',
  resources: ['web-1'],
  reporters: ['web-1'],
  firstSeenAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  lastTransition: 'scheduled',
  raw: {},
} as EventRow;

function ctx(vm: string): ActionContext {
  logged = [];
  const log = pino({ level: 'trace' }, { write: (s: string) => logged.push(s) });
  return {
    event,
    transition: 'scheduled',
    vm,
    rule: 'lb',
    step: 'out',
    phase: 'do',
    idempotencyKey: 'k1',
    attempt: 1,
    signal: AbortSignal.timeout(15_000),
    store,
    log,
    now: Date.now,
    eventUrl: 'http://hub/e1',
    notifyCommand: () => {},
  };
}

async function run(vm: string, params: Record<string, unknown>): Promise<ActionResult> {
  httpLbAction.validate(params);
  return httpLbAction.run(ctx(vm), params);
}

const params = (extra: Record<string, unknown> = {}) => ({
  request: {
    method: 'PUT',
    url: `${base}/pools/{{tags.pool}}/members/{{vm}}`,
    headers: { authorization: { env: 'FW_TEST_LB_TOKEN' }, 'x-event': '{{event.eventId}}' },
    body: { state: 'disabled', reason: '{{event.type}} {{event.eventId}}' },
  },
  verify: {
    url: `${base}/pools/{{tags.pool}}/members/{{vm}}`,
    headers: { authorization: { env: 'FW_TEST_LB_TOKEN' } },
    expect: { status: 200, json: { path: 'member.state', equals: 'disabled' } },
    attempts: 5,
    interval: '50ms',
  },
  ...extra,
});

beforeAll(async () => {
  store = new SqliteStore(join(tempDir('forewarn-httplb-'), 'hub.db'));
  await store.heartbeat('web-1', { identity: { tags: { pool: 'blue' } } }, new Date().toISOString());
  app = Fastify();
  app.addHook('onRequest', async (req, reply) => {
    seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body: undefined });
    if (req.headers.authorization !== TOKEN) return reply.code(401).send({ error: 'bad token' });
  });
  app.put<{ Params: { pool: string; m: string }; Body: { state: string } }>(
    '/pools/:pool/members/:m',
    async (req, reply) => {
      seen.at(-1)!.body = req.body;
      if (req.params.pool !== 'blue') return reply.code(404).send({ error: 'no such pool' });
      const m = (members[req.params.m] ??= { state: 'enabled', reads: 0 });
      m.pending = req.body.state;
      m.reads = 0;
      return { accepted: true };
    },
  );
  app.get<{ Params: { pool: string; m: string } }>('/pools/:pool/members/:m', async (req) => {
    const m = (members[req.params.m] ??= { state: 'enabled', reads: 0 });
    if (m.pending && ++m.reads > lag) [m.state, m.pending] = [m.pending, undefined];
    return { member: { name: req.params.m, state: m.state } };
  });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await app?.close();
  await store?.close();
});
beforeEach(() => {
  process.env.FW_TEST_LB_TOKEN = TOKEN;
  seen.length = 0;
  for (const k of Object.keys(members)) delete members[k];
  lag = 0;
});

describe('http-lb action', () => {
  it('sends the templated request with the token, then verifies until the balancer shows the change', async () => {
    lag = 2;
    const r = await run('web-1', params());
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, output: { verify: { tries: 3, status: 200 } } });
    expect(seen[0]).toEqual({
      method: 'PUT',
      url: '/pools/blue/members/web-1',
      auth: TOKEN,
      body: { state: 'disabled', reason: 'reboot E1' },
    });
    expect(seen.filter((s) => s.method === 'GET')).toHaveLength(3);
    expect(members['web-1']!.state).toBe('disabled');
    // The token is in no result and no log line.
    expect(JSON.stringify(r)).not.toContain(TOKEN);
    expect(logged.join('\n')).not.toContain(TOKEN);
  });

  it('a change that never shows is a retryable failure saying what did not match', async () => {
    lag = 100;
    const r = await run('web-1', params());
    expect(r).toMatchObject({ ok: false, retryable: true });
    expect(r.detail).toMatch(/verify failed: member.state is "enabled", wanted "disabled"/);
    expect(seen.filter((s) => s.method === 'GET')).toHaveLength(5);
    expect(JSON.stringify(r)).not.toContain(TOKEN);
  });

  it('a substring expectation works on non-JSON answers too', async () => {
    const r = await run(
      'web-1',
      params({
        verify: {
          url: `${base}/pools/blue/members/web-1`,
          headers: { authorization: TOKEN },
          expect: { contains: '"state":"disabled"' },
          interval: '10ms',
        },
      }),
    );
    expect(r).toMatchObject({ ok: true });
  });

  it('a refused request (404, 401) is not retried; nothing was verified', async () => {
    await store.heartbeat('web-2', { identity: { tags: { pool: 'green' } } }, new Date().toISOString());
    const notFound = await run('web-2', params());
    expect(notFound).toMatchObject({ ok: false, retryable: false, status: 404 });
    expect(notFound.detail).toBe(`PUT ${base}/pools/green/members/web-2 answered 404`);
    process.env.FW_TEST_LB_TOKEN = 'wrong';
    expect(await run('web-1', params())).toMatchObject({ ok: false, retryable: false, status: 401 });
    expect(seen.filter((s) => s.method === 'GET')).toHaveLength(0);
  });

  it('a missing secret is not retryable and sends nothing', async () => {
    delete process.env.FW_TEST_LB_TOKEN;
    const r = await run('web-1', params());
    expect(r).toMatchObject({
      ok: false,
      retryable: false,
      detail: 'http-lb: environment variable FW_TEST_LB_TOKEN is not set',
    });
    expect(seen).toHaveLength(0);
  });

  it('an unreachable balancer is retryable', async () => {
    const r = await run('web-1', { request: { url: 'http://127.0.0.1:1/x' } });
    expect(r).toMatchObject({ ok: false, retryable: true });
    expect(r.detail).toMatch(/^POST http:\/\/127.0.0.1:1\/x: /);
  });
});

describe('http-lb action: params checked when rules load', () => {
  const req = { url: 'http://lb/x' };
  it.each([
    [{}, /request must be an object/],
    [{ request: { url: 'lb/x' } }, /request.url must be an http/],
    [{ request: { ...req, method: 'BREW' } }, /request.method must be one of/],
    [{ request: { ...req, headers: { a: 1 } } }, /request.headers.a must be a string or \{env: NAME\}/],
    [{ request: { ...req, headers: { a: { env: 'X', value: 'y' } } } }, /request.headers.a must be a string/],
    [{ request: { ...req, timeout: '1s' } }, /unknown field request.timeout/],
    [{ request: req, verify: { url: 'http://lb/y' } }, /verify.expect must be an object/],
    [{ request: req, verify: { url: 'http://lb/y', expect: { status: 700 } } }, /verify.expect.status/],
    [
      { request: req, verify: { url: 'http://lb/y', expect: { json: { path: 'a' } } } },
      /verify.expect.json must be \{path, equals\}/,
    ],
    [{ request: req, verify: { url: 'http://lb/y', expect: {}, attempts: 0 } }, /verify.attempts/],
    [{ request: req, verify: { url: 'http://lb/y', expect: {}, interval: 'often' } }, /verify.interval/],
    [{ request: req, secret: 'x' }, /unknown field secret/],
  ])('%j is refused', (p, message) => {
    expect(() => httpLbAction.validate(p)).toThrow(message);
  });
});
