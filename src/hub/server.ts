// Assembles the hub: store, auth, ingest, agents' channel, read API, rules, planner, executor,
// metrics and the OpenAPI document, on one Fastify server.
import { randomUUID } from 'node:crypto';
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
import { LbReconciler } from './lb-reconciler.js';
import { HubMetrics } from './metrics.js';
import { Budgets, type PoolT } from './budgets.js';
import { Windows } from './windows.js';
import { PlanFeed } from './plan-feed.js';
import { poolRoutes } from './routes-pools.js';
import type { MailCapture } from './mail-capture.js';
import { Notices } from './notices.js';
import { Planner } from './planner.js';
import { agentRoutes } from './routes-agents.js';
import { dashboardRoutes } from './routes-dashboard.js';
import { createIngester, INGEST_BODY_LIMIT, ingestRoutes } from './routes-ingest.js';
import type { HubNatsConfig } from '../nats/config.js';
import { startHubNats, type HubNats } from './nats-transport.js';
import { mailRoutes } from './routes-mail.js';
import { pushRoutes } from './routes-push.js';
import { readRoutes } from './routes-read.js';
import { rulesRoutes } from './routes-rules.js';
import { streamRoutes } from './routes-stream.js';
import { uiRoutes } from './routes-ui.js';
import { RuleBook } from './rulebook.js';
import { Scheduler } from './scheduler.js';

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
  /** Pool budgets for disruptive steps (docs/budgets.md). */
  pools?: PoolT[];
  onAttempt?: ExecutorOptions['onAttempt'];
  /** Release every step lease at start: right for a single hub on SQLite, wrong for replicas. Default true. */
  releaseLeasesAtStart?: boolean;
  /** Load-balancer reconciler: how often it compares intended and actual state (default 30 s; 0 = off). */
  lbReconcileIntervalMs?: number;
  /** How long an event must have been over before the reconciler steps in (default 60 s). */
  lbReconcileGraceMs?: number;
  /** Where the built dashboard is (default dist/web). */
  webDir?: string;
  /** The demo's capture SMTP server: its mails are listed at GET /api/v1/demo/mail. */
  mailCapture?: MailCapture;
  /** Timer rules fire on their own (default true); false: only on `hub.scheduler.tick()` (tests with a fake clock). */
  scheduleTimer?: boolean;
  /** Also ingest from NATS JetStream and answer agents' commands over NATS (docs/deploy-distributed.md). */
  nats?: HubNatsConfig;
}

export interface Hub {
  app: FastifyInstance;
  store: Store;
  rules: RuleBook;
  planner: Planner;
  executor: Executor;
  lbReconciler: LbReconciler;
  scheduler: Scheduler;
  events: HubEvents;
  metrics: HubMetrics;
  /** The NATS transport, when configured. */
  nats?: HubNats;
  /** Every route the hub serves (method and URL pattern), as Fastify registered them: the auth matrix covers each. */
  routes: readonly { method: string; url: string }[];
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

  const budgets = new Budgets(o.pools ?? [], o.store, now, new Windows(() => rules.all(), now));
  const executor = new Executor({
    budgets,
    store: o.store,
    actions,
    log,
    now,
    registry: metrics.registry,
    concurrency: o.concurrency,
    baseBackoffMs: o.baseBackoffMs,
    eventUrl: (key) => `${publicUrl}/api/v1/events/${key}`,
    notifyCommand: (vm) => events.emit('command', vm),
    onHeld: (x) => events.emit('held', x),
    onAttempt: (a) => {
      if (!o.store.onChange) events.emit('change', { kind: 'step' });
      o.onAttempt?.(a);
      events.emit('attempt', a);
    },
    events,
  });
  const planner = new Planner({
    store: o.store,
    rules: () => rules.all(),
    log,
    now,
    onPlanned: () => executor.wake(),
    onMatch: (r, m) => rules.count(r, m),
    events,
  });
  const notices = new Notices({
    store: o.store,
    rules: () => rules.all(),
    events,
    log,
    now,
    onPlanned: () => executor.wake(),
  });
  notices.start();

  // Planning is durable: a transition is marked planned only after its runs are written, and
  // anything unplanned (the hub died in between) is planned again at start. Runs are idempotent.
  // On a shared store (replicas) only the holder of the planning lease plans, in transition order,
  // so planning always reads the store; a hub that owns its store plans from its own ingests.
  const feed = new PlanFeed(o.store, planner, log, { fromIngest: !o.store.onChange });
  const plan = () => feed.drain();
  events.on('transition', (t) => feed.push(t));

  // Replicas on a shared store hear each other through it (the store's own changes included);
  // a hub that owns its store hears only itself, and says so on the same `change` event.
  let unsubscribe = () => {};
  let tick: NodeJS.Timeout | undefined;
  if (o.store.onChange) {
    unsubscribe = o.store.onChange((change) => {
      if (change.kind === 'transition') void plan();
      else if (change.kind === 'steps') executor.wake();
      else if (change.kind === 'command' && change.vm) events.emit('command', change.vm);
      else if (change.kind === 'rules')
        rules.load().catch((err: Error) => log.error({ err: err.message }, 'reloading rules failed'));
      events.emit('change', change);
    });
    // Whoever holds the planning lease plans; if it died, the next one to ask takes over.
    tick = setInterval(() => void plan(), 2000);
    tick.unref();
  } else {
    events.on('transition', () => events.emit('change', { kind: 'transition' }));
    events.on('command', (vm) => events.emit('change', { kind: 'command', vm }));
  }

  const app = Fastify({
    logger: false,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: INGEST_BODY_LIMIT,
    forceCloseConnections: true,
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, verbose: true },
    },
  });
  const routes: { method: string; url: string }[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) if (method !== 'HEAD') routes.push({ method, url: r.url });
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
  await app.register(poolRoutes({ store: o.store, auth, budgets, now }));
  const staleAfterMs = o.staleAfterMs ?? 120_000;
  await app.register(dashboardRoutes({ store: o.store, auth, events, rules, now, staleAfterMs }));
  await app.register(streamRoutes({ auth, events, now, shared: !!o.store.onChange }));
  await app.register(uiRoutes({ webDir: o.webDir }));
  if (o.mailCapture) await app.register(mailRoutes({ auth, capture: o.mailCapture }));
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // One hub owns a SQLite file: whatever was running when it last stopped is not running now.
  // Replicas sharing PostgreSQL must not (another replica's attempt is running): lease expiry does it.
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
  const lbReconciler = new LbReconciler({
    store: o.store,
    log,
    now,
    intervalMs: o.lbReconcileIntervalMs,
    graceMs: o.lbReconcileGraceMs,
    registry: metrics.registry,
  });
  if (o.lbReconcileIntervalMs !== 0) lbReconciler.start();
  // Timer rules' firings enter through the ingest path like any event (src/hub/scheduler.ts).
  const scheduler = new Scheduler({
    store: o.store,
    rules: () => rules.all(),
    ingest: createIngester({ store: o.store, auth, metrics, events, now }),
    events,
    log,
    now,
    registry: metrics.registry,
  });
  scheduler.start({ timer: o.scheduleTimer });
  rules.onChange(() => scheduler.wake());
  const nats =
    o.nats &&
    startHubNats({
      config: o.nats,
      ingest: createIngester({ store: o.store, auth, metrics, events, now }),
      commands: { store: o.store, events, now, redeliverAfterMs: o.redeliverAfterMs },
      metrics,
      log,
      lease: ((holder) => ({
        hold: (ttlMs: number) => o.store.holdLease('nats-ingest', holder, ttlMs),
        release: () => o.store.releaseLease('nats-ingest', holder),
      }))(randomUUID()),
    });

  return {
    app,
    store: o.store,
    rules,
    planner,
    executor,
    lbReconciler,
    scheduler,
    events,
    metrics,
    nats,
    routes,
    async listen(port = 0, host = '127.0.0.1') {
      await app.listen({ port, host });
      const address = app.server.address();
      if (!address || typeof address === 'string') throw new Error('hub has no TCP address');
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
      if (!o.publicUrl) publicUrl = url;
      return url;
    },
    async close() {
      await scheduler.stop();
      await nats?.close(); // first: what it holds is stored and acked before the store goes
      clearInterval(pruner);
      await lbReconciler.stop();
      clearInterval(tick);
      unsubscribe();
      await app.close();
      await feed.close();
      await executor.stop();
      await notices.stop();
      await Promise.allSettled([...actions.values()].map((a) => a.close?.()));
    },
    idle: () => plan(),
  };
}
