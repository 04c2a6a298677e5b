// Drill 10a: fuzz every route of the hub (its own route list) and of the simulator's control API
// (its OpenAPI document) with fast-check: random methods, paths, parameters, queries, tokens,
// content types and bodies, plus the ingest fuzz's sure-bad payloads. Verdict: no 5xx, no dropped
// connection, the server still healthy, and the store unchanged by every refused request (a digest
// of every table, compared around each chunk of requests that wrote nothing).
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { Agent, request } from 'undici';
import { ADMIN, EG_KEY, OPERATOR, READER, startHub } from '../test/helpers/hub.js';
import { cloudEvent, maintenance, publishBatch } from '../test/helpers/hub-publish.js';
import { badIngestRequests } from '../test/helpers/ingest-arbitraries.js';
import { startSim } from '../test/helpers/sim.js';
import { storeDigest } from '../test/helpers/store-read.js';
import { anyRequest, type AnyRequest, type RouteSpec } from './fuzz-requests.js';
import { Checks, sayer, verdict, type DrillResult, type Say } from './verdict.js';

export interface FuzzOptions {
  hubCases: number;
  simCases: number;
  seed?: number;
  concurrency?: number;
  quiet?: boolean;
}

/** Requests per digest comparison. */
const CHUNK = 500;

interface Campaign {
  cases: number;
  byClass: Record<string, number>;
  failures: { req: AnyRequest; status: number; text: string }[];
  /** Chunks whose store changed although every write in them was refused. */
  changedByRefused: number;
  /** Chunks with an accepted write (the digest is taken afresh after them). */
  acceptedWrites: number;
}

export async function fire(
  base: string,
  req: AnyRequest,
  dispatcher: Agent,
): Promise<{ status: number; text: string }> {
  try {
    const res = await request(`${base}${req.path}`, {
      method: req.method as 'GET',
      headers: req.headers,
      body:
        req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : Buffer.from(req.body),
      dispatcher,
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
    });
    if (String(res.headers['content-type']).startsWith('text/event-stream')) {
      res.body.destroy(); // an SSE stream opened: it never ends by itself
      return { status: res.statusCode, text: '' };
    }
    return { status: res.statusCode, text: (await res.body.text()).slice(0, 300) };
  } catch (err) {
    return { status: 0, text: `request failed: ${(err as Error).message}` };
  }
}

/**
 * Sends `requests` in chunks, `concurrency` at a time, comparing `digest()` around each chunk.
 * `wrote(req, status)` says whether an answer may have changed the state; after such a chunk
 * `settle()` runs and the digest is taken afresh.
 */
async function campaign(
  say: Say,
  label: string,
  base: string,
  requests: AnyRequest[],
  o: {
    concurrency: number;
    digest: () => Promise<string>;
    wrote: (req: AnyRequest, status: number) => boolean;
    settle: () => Promise<void>;
    /** A 5xx that is the documented answer (not a failure). */
    expected?: (req: AnyRequest, status: number, text: string) => boolean;
  },
): Promise<Campaign> {
  const c: Campaign = { cases: 0, byClass: {}, failures: [], changedByRefused: 0, acceptedWrites: 0 };
  const dispatcher = new Agent({ keepAliveTimeout: 10_000, connections: o.concurrency });
  let before = await o.digest();
  const started = Date.now();
  for (let from = 0; from < requests.length; from += CHUNK) {
    const chunk = requests.slice(from, from + CHUNK);
    let next = 0;
    let wrote = false;
    const worker = async () => {
      while (next < chunk.length) {
        const req = chunk[next++]!;
        const { status, text } = await fire(base, req, dispatcher);
        c.cases++;
        const cls = status === 0 ? 'no answer' : `${String(status)[0]}xx`;
        c.byClass[cls] = (c.byClass[cls] ?? 0) + 1;
        if ((status === 0 || status >= 500) && !o.expected?.(req, status, text))
          c.failures.push({ req, status, text });
        if (o.wrote(req, status)) wrote = true;
      }
    };
    await Promise.all(Array.from({ length: o.concurrency }, worker));
    if (wrote) {
      c.acceptedWrites++;
      await o.settle();
      before = await o.digest();
    } else {
      const after = await o.digest();
      if (after !== before) c.changedByRefused++;
      before = after;
    }
    if ((from / CHUNK) % 20 === 19)
      say(
        `${label}: ${c.cases}/${requests.length} (${Math.round((c.cases * 1000) / (Date.now() - started))}/s)`,
      );
  }
  await dispatcher.close();
  return c;
}

/** One line per distinct failure (route, status, message), most frequent first. */
function describeFailures(failures: Campaign['failures']): string[] {
  const groups = new Map<string, { n: number; example: AnyRequest }>();
  for (const f of failures) {
    const key = `${f.req.route} → ${f.status} ${f.text
      .replace(/[0-9a-f-]{36}/gi, '<uuid>')
      .replace(/\s+/g, ' ')
      .slice(0, 120)}`;
    const g = groups.get(key) ?? { n: 0, example: f.req };
    g.n++;
    groups.set(key, g);
  }
  return [...groups]
    .sort((a, b) => b[1].n - a[1].n)
    .map(
      ([key, g]) =>
        `${g.n}× ${key} (e.g. ${g.example.method} ${g.example.path.slice(0, 120)} ${JSON.stringify(g.example.headers['content-type'] ?? '')} ${typeof g.example.body === 'string' ? g.example.body.slice(0, 160) : g.example.body ? '<bytes>' : ''})`,
    );
}

/** POSTs the hub answers without writing anything to its store. */
const HUB_READ_ONLY_POSTS = new Set(['POST /api/v1/rules/test', 'POST /api/v1/stream/tickets']);

export async function fuzzDrill(o: FuzzOptions): Promise<DrillResult> {
  const startedAt = Date.now();
  const name = 'fuzz';
  const say = sayer(name, o.quiet);
  const seed = o.seed ?? Date.now() % 2 ** 31;
  const concurrency = o.concurrency ?? 4;
  const checks = new Checks();
  say(
    `${o.hubCases} random requests at every hub route, ${o.simCases} at the simulator's control API (seed ${seed})`,
  );

  // --- The hub, with something in its store for the reads to find.
  const h = await startHub();
  const seeded = Array.from({ length: 3 }, (_, i) => maintenance('web-01', { eventId: `FUZZ-${i}` }));
  checks.equal(
    'seed publish',
    (
      await publishBatch(
        h,
        h.agentToken('web-01'),
        seeded.map((d) => cloudEvent(d)),
      )
    ).status,
    200,
  );
  await h.hub.idle();
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const hubRequests = fc.sample(
    anyRequest({
      routes: h.hub.routes,
      auth: [
        {},
        bearer('not-a-token'),
        bearer(h.agentToken('web-01')),
        bearer(h.agentToken('other-vm')),
        bearer(READER),
        bearer(OPERATOR),
        bearer(ADMIN),
        { authorization: 'Basic YWxhZGRpbjpvcGVuc2VzYW1l' },
        { 'aeg-sas-key': EG_KEY },
      ],
      queryKeys: [
        'limit',
        'offset',
        'status',
        'vm',
        'provider',
        'type',
        'since',
        'until',
        'q',
        'subject',
        'rule',
        'state',
        'pool',
        'ticket',
        'cursor',
        'transition',
        'aeg-sas-key',
        'secret',
      ],
      bodyFields: [
        'name',
        'match',
        'steps',
        'event',
        'ids',
        'type',
        'eventId',
        'hook',
        'ok',
        'detail',
        'output',
        'agentVersion',
        'vm',
        'transition',
        'tags',
        'rule',
        'specversion',
        'id',
        'source',
        'data',
        'provider',
        'status',
        'notBefore',
        'resources',
        'action',
        'with',
        'when',
      ],
      known: ['web-01', 'other-vm', 'azure', 'notify', '1', 'FUZZ-0', 'index.js'],
      prefix: '/api/v1/',
      extra: badIngestRequests({
        bearer: [h.agentToken('web-01'), OPERATOR, ADMIN],
        eventGridKey: EG_KEY,
      }).map((r): AnyRequest => ({
        route: `POST ${r.path} (bad ingest: ${r.kind})`,
        method: 'POST',
        path: r.path,
        headers: r.headers,
        body: r.body,
      })),
    }),
    { numRuns: o.hubCases, seed },
  );
  let hubRun: Campaign | undefined;
  try {
    hubRun = await campaign(say, 'hub', h.url, hubRequests, {
      concurrency,
      digest: () => storeDigest(h),
      wrote: (req, status) =>
        status >= 200 &&
        status < 300 &&
        ((req.method !== 'GET' && !HUB_READ_ONLY_POSTS.has(`${req.method} ${req.route.split(' ')[1]}`)) ||
          req.route === 'GET /api/v1/agents/:vm/commands'),
      // Without a built dashboard (npm run build) its pages answer 503 "dashboard not built", on purpose.
      expected: (req, status, text) =>
        // (also /assets/.. and the like, which the URL parser resolves to /)
        status === 503 && req.method === 'GET' && text.includes('dashboard not built'),
      settle: async () => {
        await h.hub.idle();
        await sleep(50);
      },
    });
    checks.equal('hub GET /healthz after the fuzz', (await h.api('GET', '/healthz')).status, 200);
    checks.equal('hub GET /readyz after the fuzz', (await h.api('GET', '/readyz')).status, 200);
  } finally {
    await h.close();
  }

  // --- The simulator's control API (its routes from its OpenAPI document).
  const t = await startSim();
  let simRun: Campaign | undefined;
  try {
    const openapi = (await (await fetch(`${t.url}/sim/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const simRoutes: RouteSpec[] = Object.entries(openapi.paths)
      .filter(([path]) => path.startsWith('/sim/'))
      .flatMap(([path, methods]) =>
        Object.keys(methods).map((m) => ({
          method: m.toUpperCase(),
          url: path.replace(/\{(\w+)\}/g, ':$1'),
        })),
      );
    checks.that('the simulator lists its control routes', simRoutes.length > 10);
    const ids = t.sim.controller
      .schedule({ type: 'Reboot', targets: { vms: ['web-01'] }, notice: '1h' })
      .map((e) => e.eventId);
    const simDigest = async () => {
      const hash = createHash('sha256');
      for (const p of ['/vms', '/events', '/faults', '/config', '/pushes', '/approvals', '/scenario'])
        hash.update(await (await t.control('GET', p)).text());
      return hash.digest('hex');
    };
    const simRequests = fc.sample(
      anyRequest({
        routes: simRoutes,
        auth: [{}],
        queryKeys: ['vm', 'limit', 'status', 'provider', 'since'],
        bodyFields: [
          'name',
          'type',
          'targets',
          'vms',
          'pools',
          'notice',
          'notBefore',
          'errorRate',
          'errorStatus',
          'retryAfter',
          'hangRate',
          'hangMs',
          'latencyMs',
          'malformedRate',
          'malformedKind',
          'count',
          'endpoints',
          'timeScale',
          'rateLimit',
          'etag',
          'pool',
          'zone',
          'tags',
          'availabilitySet',
          'faultDomain',
          'provider',
          'steps',
          'url',
          'fleet',
          'durationSeconds',
          'description',
        ],
        known: ['web-01', 'web-02', 'solo', ...ids],
        prefix: '/sim/',
      }),
      { numRuns: o.simCases, seed },
    );
    simRun = await campaign(say, 'simulator', t.url, simRequests, {
      concurrency,
      digest: simDigest,
      wrote: (req, status) => status >= 200 && status < 300 && req.method !== 'GET',
      // A write may have sped time up or scheduled events that move by themselves: start afresh.
      settle: async () => {
        await t.control('POST', '/reset', {});
        await t.control('PATCH', '/config', { timeScale: 1 });
      },
    });
    checks.equal('simulator GET /sim/health after the fuzz', (await t.control('GET', '/health')).status, 200);
  } finally {
    await t.close();
  }

  const runs = { hub: hubRun, simulator: simRun };
  let cases = 0;
  let fivexx = 0;
  let changed = 0;
  for (const [label, run] of Object.entries(runs)) {
    if (!run) continue;
    cases += run.cases;
    fivexx += run.failures.length;
    changed += run.changedByRefused;
    say(
      `${label}: ${run.cases} requests ${JSON.stringify(run.byClass)}; ${run.acceptedWrites} chunks with an accepted write`,
    );
    const report = describeFailures(run.failures);
    for (const line of report.slice(0, 10)) say(`  FAILURE ${label}: ${line}`);
    checks.equal(`${label}: 5xx or dropped connections`, run.failures.length, 0);
    if (report.length) checks.that(`${label}: ${report.slice(0, 3).join(' | ')}`, false);
    checks.equal(`${label}: chunks whose state changed with every write refused`, run.changedByRefused, 0);
  }
  return verdict(
    name,
    `fuzz: ${cases} requests (hub ${hubRun?.cases ?? 0}, simulator ${simRun?.cases ?? 0}), ${fivexx} 5xx or dropped, ${changed} state changes by refused requests`,
    {
      cases,
      hubCases: hubRun?.cases ?? 0,
      simCases: simRun?.cases ?? 0,
      fivexx,
      changedByRefused: changed,
      seed,
    },
    checks.failures,
    startedAt,
  );
}
