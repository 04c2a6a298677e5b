// Assembles the hub: store, auth, ingest, agents' channel, read API, rules, planner, executor,
// metrics and the OpenAPI document, on one Fastify server.
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { installJsonErrors } from '../http/errors.js';
import swagger from '@fastify/swagger';
import pino, { type Logger } from 'pino';
import type { Action } from '../actions/action.js';
import { defaultActions } from '../actions/registry.js';
import type { Store } from '../store/store.js';
import { Authenticator, type AuthConfig } from './auth.js';
import { Executor, type ExecutorOptions } from './executor.js';
import { HubEvents } from './hub-events.js';
import { HubMetrics } from './metrics.js';
import { Planner } from './planner.js';
import { agentRoutes } from './routes-agents.js';
import { INGEST_BODY_LIMIT, ingestRoutes } from './routes-ingest.js';
import { pushRoutes } from './routes-push.js';
import { readRoutes } from './routes-read.js';
import { rulesRoutes } from './routes-rules.js';
import { RuleBook } from './rulebook.js';

export interface HubOptions {
  store: Store;
  auth: AuthConfig;
  rules?: unknown[];
  log?: Logger;
  now?: () => number;
  actions?: Map<string, Action>;
  concurrency?: number;
  baseBackoffMs?: number;
  staleAfterMs?: number;
  /** Base URL for links in notifications (default: the listen address). */
  publicUrl?: string;
  redeliverAfterMs?: number;
  /** Finished events older than this are pruned (default 30 days). */
  retentionMs?: number;
  onAttempt?: ExecutorOptions['onAttempt'];
  /** Release every step lease at start (right for a single hub on SQLite). Default true. */
  releaseLeasesAtStart?: boolean;
}

export interface Hub {
  app: FastifyInstance;
  store: Store;
  rules: RuleBook;
  planner: Planner;
  executor: Executor;
  events: HubEvents;
  metrics: HubMetrics;
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
  /** Resolves when every stored transition so far has been planned (tests, benchmarks). */
  idle(): Promise<void>;
}

export async function createHub(o: HubOptions): Promise<Hub> {
  const now = o.now ?? Date.now;
  const log = o.log ?? pino({ level: 'silent' });
  const actions = o.actions ?? defaultActions();
  const events = new HubEvents();
  const metrics = new HubMetrics();
  const auth = new Authenticator(o.auth);
  const rules = new RuleBook(o.store, actions);
  rules.setFileRules(o.rules ?? []);
  await rules.load();
  let publicUrl = o.publicUrl ?? '';

  const executor = new Executor({
    store: o.store,
    actions,
    log,
    now,
    registry: metrics.registry,
    concurrency: o.concurrency,
    baseBackoffMs: o.baseBackoffMs,
    eventUrl: (key) => `${publicUrl}/api/v1/events/${key}`,
    notifyCommand: (vm) => events.emit('command', vm),
    onAttempt: o.onAttempt,
  });
  const planner = new Planner({
    store: o.store,
    rules: () => rules.all(),
    log,
    now,
    onPlanned: () => executor.wake(),
    onMatch: (r, m) => rules.count(r, m),
  });

  // Planning is durable: a transition is marked planned only after its runs are written, and
  // anything unplanned (the hub died in between) is planned again at start. Runs are idempotent.
  let planning = Promise.resolve();
  // One pass drains everything unplanned, so a batch of 100 new transitions needs one queued
  // pass, not 100 (each of which would query for unplanned rows and find none).
  let queued = false;
  const plan = () => {
    if (queued) return planning;
    queued = true;
    planning = planning.then(async () => {
      queued = false;
      for (;;) {
        const batch = await o.store.unplanned(200);
        if (batch.length === 0) return;
        for (const t of batch) {
          try {
            await planner.onTransition(t);
          } catch (err) {
            log.error({ err: (err as Error).message, transition: t.transitionId }, 'planning failed');
          }
        }
        // Let I/O in between batches: the store's calls are synchronous, and a loop that never
        // yields lets step timeouts fire on answers that already arrived (a second delivery).
        await new Promise((r) => setImmediate(r));
        // One commit for the batch: a crash before it only replans (runs are idempotent).
        await o.store.markPlanned(
          batch.map((t) => t.transitionId),
          new Date(now()).toISOString(),
        );
      }
    });
    return planning;
  };
  events.on('transition', () => void plan());

  const app = Fastify({
    logger: false,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: INGEST_BODY_LIMIT,
    forceCloseConnections: true,
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, verbose: true },
    },
  });
  installJsonErrors(app, {
    log,
    label: 'hub',
    // The Event Grid endpoint answers in Event Grid's error shape, also when Fastify refuses the body.
    special: (err, request, reply) => {
      if (
        err.statusCode !== 413 ||
        !(request.url.startsWith('/api/events') || request.url.startsWith('/api/v1/eventgrid'))
      )
        return false;
      void reply
        .code(413)
        .send({ error: { code: 'PayloadTooLarge', message: 'the request exceeds 1 MB', details: [] } });
      return true;
    },
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'forewarn hub API',
        version: '1',
        description: 'Ingest, agents, events, rules, runs. See docs/hub.md.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(ingestRoutes({ store: o.store, auth, metrics, events, now }));
  await app.register(pushRoutes({ store: o.store, auth, metrics, events, now }));
  await app.register(
    agentRoutes({ store: o.store, auth, events, now, redeliverAfterMs: o.redeliverAfterMs }),
  );
  await app.register(
    readRoutes({ store: o.store, auth, metrics, now, staleAfterMs: o.staleAfterMs ?? 120_000 }),
  );
  await app.register(rulesRoutes({ store: o.store, auth, rules, now, onRedrive: () => executor.wake() }));
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // One hub owns a SQLite file: whatever was running when it last stopped is not running now.
  // (Replicas sharing PostgreSQL will rely on lease expiry instead.)
  if (o.releaseLeasesAtStart ?? true) {
    const released = await o.store.reapExpired(new Date(8.64e15).toISOString());
    if (released) log.warn({ released }, 'steps interrupted by the last stop are pending again');
  }
  executor.start();
  void plan(); // whatever a previous run stored but did not plan
  const retention = o.retentionMs ?? 30 * 86_400_000;
  const prune = async () => {
    const pruned = await o.store.prune(new Date(now() - retention).toISOString()).catch((err: Error) => {
      log.error({ err: err.message }, 'retention pruning failed');
      return 0;
    });
    if (pruned) log.info({ pruned }, 'pruned finished events past retention');
  };
  const pruner = setInterval(() => void prune(), 3_600_000);
  pruner.unref();

  return {
    app,
    store: o.store,
    rules,
    planner,
    executor,
    events,
    metrics,
    async listen(port = 0, host = '127.0.0.1') {
      await app.listen({ port, host });
      const address = app.server.address();
      if (!address || typeof address === 'string') throw new Error('hub has no TCP address');
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
      if (!o.publicUrl) publicUrl = url;
      return url;
    },
    async close() {
      clearInterval(pruner);
      await app.close();
      await planning;
      await executor.stop();
    },
    idle: () => plan(),
  };
}
