// Drill 10b: the auth matrix. Every route the hub registered (its own list, from Fastify's
// onRoute) × every kind of caller: no token, a bad token, an agent token of another VM, the
// route's own VM's agent token, and the read, operate and admin roles. Each request is otherwise
// valid, so the status says what auth decided (auth runs in onRequest, before the body is parsed
// or validated: test/hub/auth-order.test.ts). A route
// missing from ACCESS fails the drill: a new route cannot ship without deciding who may call it.
import { Agent } from 'undici';
import { ADMIN, OPERATOR, READER, startHub } from '../test/helpers/hub.js';
import { cloudEvent, egEvent, maintenance, publishBatch } from '../test/helpers/hub-publish.js';
import { fire } from './fuzz.js';
import type { AnyRequest } from './fuzz-requests.js';
import { Checks, sayer, verdict, type DrillResult } from './verdict.js';

/**
 * Who may call a route. `public`: anyone; a role: operators of that role or above; `agent-or-admin`:
 * the route's own VM's agent, or admin; `publish`: agents for their own VM, operate and admin;
 * `eventgrid` / `push`: only an Event Grid key or a push secret (never a bearer token).
 */
type Access = 'public' | 'read' | 'operate' | 'admin' | 'agent-or-admin' | 'publish' | 'eventgrid' | 'push';

export const CALLERS = [
  'none',
  'bad token',
  'agent of another VM',
  'agent of this VM',
  'read',
  'operate',
  'admin',
] as const;
type Caller = (typeof CALLERS)[number];

const VM = 'web-01';
const event = maintenance(VM, { eventId: 'MATRIX-1' });
const json = 'application/json';

/** Every route, who may call it, and an otherwise valid request to it. */
export const ACCESS: Record<string, { access: Access; path: string; body?: unknown; type?: string }> = {
  'POST /api/v1/events': {
    access: 'publish',
    path: '/api/v1/events',
    body: [cloudEvent(event)],
    type: 'application/cloudevents-batch+json',
  },
  'POST /api/v1/eventgrid/events': {
    access: 'eventgrid',
    path: '/api/v1/eventgrid/events',
    body: [egEvent(event)],
  },
  'POST /api/events': { access: 'eventgrid', path: '/api/events', body: [egEvent(event)] },
  'POST /api/v1/push/aws': { access: 'push', path: '/api/v1/push/aws', body: {} },
  'POST /api/v1/push/alibaba': { access: 'push', path: '/api/v1/push/alibaba', body: {} },
  'POST /api/v1/agents/:vm/heartbeat': {
    access: 'agent-or-admin',
    path: `/api/v1/agents/${VM}/heartbeat`,
    body: { vm: { name: VM } },
  },
  'GET /api/v1/agents/:vm/commands': { access: 'agent-or-admin', path: `/api/v1/agents/${VM}/commands` },
  'POST /api/v1/agents/:vm/commands/:id/result': {
    access: 'agent-or-admin',
    path: `/api/v1/agents/${VM}/commands/1/result`,
    body: { ok: true, detail: 'done' },
  },
  'POST /api/v1/agents/:vm/commands': {
    access: 'operate',
    path: `/api/v1/agents/${VM}/commands`,
    body: { type: 'approve', eventId: 'MATRIX-1' },
  },
  'GET /api/v1/events': { access: 'read', path: '/api/v1/events' },
  'GET /api/v1/events/:provider/:eventId': { access: 'read', path: '/api/v1/events/azure/MATRIX-1' },
  'GET /api/v1/fleet': { access: 'read', path: '/api/v1/fleet' },
  'GET /api/v1/audit': { access: 'admin', path: '/api/v1/audit' },
  'GET /healthz': { access: 'public', path: '/healthz' },
  'GET /readyz': { access: 'public', path: '/readyz' },
  'GET /metrics': { access: 'public', path: '/metrics' },
  'GET /api/v1/rules': { access: 'read', path: '/api/v1/rules' },
  'PUT /api/v1/rules/:name': {
    access: 'admin',
    path: '/api/v1/rules/matrix',
    body: { match: {}, steps: [] },
  },
  'DELETE /api/v1/rules/:name': { access: 'admin', path: '/api/v1/rules/matrix' },
  'POST /api/v1/rules/test': { access: 'read', path: '/api/v1/rules/test', body: { event } },
  'GET /api/v1/steps': { access: 'read', path: '/api/v1/steps' },
  'GET /api/v1/steps/:id': { access: 'read', path: '/api/v1/steps/1' },
  'GET /api/v1/dead-letter': { access: 'read', path: '/api/v1/dead-letter' },
  'POST /api/v1/dead-letter/redrive': { access: 'operate', path: '/api/v1/dead-letter/redrive', body: {} },
  'GET /api/v1/pools': { access: 'read', path: '/api/v1/pools' },
  'GET /api/v1/dashboard/me': { access: 'read', path: '/api/v1/dashboard/me' },
  'GET /api/v1/dashboard/overview': { access: 'read', path: '/api/v1/dashboard/overview' },
  'GET /api/v1/dashboard/events': { access: 'read', path: '/api/v1/dashboard/events' },
  'GET /api/v1/dashboard/events/:provider/:eventId': {
    access: 'read',
    path: '/api/v1/dashboard/events/azure/MATRIX-1',
  },
  'GET /api/v1/dashboard/dead-letter': { access: 'read', path: '/api/v1/dashboard/dead-letter' },
  'GET /api/v1/dashboard/rules': { access: 'read', path: '/api/v1/dashboard/rules' },
  'GET /api/v1/demo/mail': { access: 'read', path: '/api/v1/demo/mail' },
  'POST /api/v1/stream/tickets': { access: 'read', path: '/api/v1/stream/tickets' },
  'GET /api/v1/stream': { access: 'read', path: '/api/v1/stream' },
  'GET /': { access: 'public', path: '/' },
  'GET /ui': { access: 'public', path: '/ui' },
  'GET /ui/': { access: 'public', path: '/ui/' },
  'GET /assets/:file': { access: 'public', path: '/assets/index.js' },
  'GET /favicon.svg': { access: 'public', path: '/favicon.svg' },
  'GET /api/v1/openapi.json': { access: 'public', path: '/api/v1/openapi.json' },
};

const RANK: Record<string, number> = { read: 0, operate: 1, admin: 2 };

/** 401, 403, or 'ok' (anything else below 500: the request got past auth). */
export function expected(access: Access, caller: Caller): 401 | 403 | 'ok' {
  if (access === 'public') return 'ok';
  if (access === 'eventgrid' || access === 'push') return 401; // a bearer token never opens them
  if (caller === 'none' || caller === 'bad token') return 401;
  if (access === 'agent-or-admin') return caller === 'agent of this VM' || caller === 'admin' ? 'ok' : 403;
  if (access === 'publish')
    return caller === 'agent of this VM' || caller === 'operate' || caller === 'admin' ? 'ok' : 403;
  if (caller.startsWith('agent')) return 403;
  return RANK[caller]! >= RANK[access]! ? 'ok' : 403;
}

export async function authMatrixDrill(
  o: { quiet?: boolean } = {},
): Promise<DrillResult & { table: string[] }> {
  const startedAt = Date.now();
  const name = 'auth-matrix';
  const say = sayer(name, o.quiet);
  const checks = new Checks();
  const h = await startHub();
  const dispatcher = new Agent({ connections: 2 });
  const table = [`| route | ${CALLERS.join(' | ')} |`, `| --- | ${CALLERS.map(() => '---').join(' | ')} |`];
  let cells = 0;
  let wrong = 0;
  try {
    say(`${h.hub.routes.length} routes × ${CALLERS.length} callers`);
    const tokens: Record<Caller, string | undefined> = {
      none: undefined,
      'bad token': 'not-a-token',
      'agent of another VM': h.agentToken('other-vm'),
      'agent of this VM': h.agentToken(VM),
      read: READER,
      operate: OPERATOR,
      admin: ADMIN,
    };
    checks.equal('seed event', (await publishBatch(h, h.agentToken(VM), [cloudEvent(event)])).status, 200);
    const keys = h.hub.routes.map((r) => `${r.method} ${r.url}`);
    const uncovered = keys.filter((k) => !ACCESS[k]);
    checks.equal(
      'routes the matrix does not cover (add them to ACCESS in drills/auth-matrix.ts)',
      uncovered,
      [],
    );
    for (const key of keys) {
      const spec = ACCESS[key];
      if (!spec) continue;
      const row: string[] = [];
      for (const caller of CALLERS) {
        const token = tokens[caller];
        const req: AnyRequest = {
          route: key,
          method: key.split(' ')[0]!,
          path: spec.path,
          headers: {
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(spec.body !== undefined ? { 'content-type': spec.type ?? json } : {}),
          },
          body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        };
        const { status, text } = await fire(h.url, req, dispatcher);
        const want = expected(spec.access, caller);
        // The dashboard's pages answer 503 until it is built (npm run build): past auth all the same.
        const unbuilt = status === 503 && text.includes('dashboard not built');
        const ok =
          want === 'ok'
            ? status > 0 && status !== 401 && status !== 403 && (status < 500 || unbuilt)
            : status === want;
        cells++;
        if (!ok) {
          wrong++;
          checks.that(
            `${key} as ${caller}: ${status}, expected ${want === 'ok' ? 'past auth' : want} (${text.slice(0, 100)})`,
            false,
          );
        }
        row.push(ok ? String(status) : `**${status}**`);
      }
      table.push(`| \`${key}\` (${spec.access}) | ${row.join(' | ')} |`);
    }
  } finally {
    await dispatcher.close();
    await h.close();
  }
  const result = verdict(
    name,
    `auth matrix: ${h.hub.routes.length} routes × ${CALLERS.length} callers, ${cells} requests, ${wrong} wrong statuses`,
    { routes: h.hub.routes.length, callers: CALLERS.length, requests: cells, wrong },
    checks.failures,
    startedAt,
  );
  return { ...result, table };
}
