// Read endpoints shaped for the dashboard's pages (read role): who am I, the overview's counts and
// timeline, a searchable event list, one event's whole history as a timeline, and the rules
// without their step parameters (those may carry credentials; the dashboard never shows them).
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { EVENT_STATUSES, EVENT_TYPES, EVENT_PROVIDERS } from '../core/event.js';
import { eventKey, type EventRow, type Store } from '../store/store.js';
import type { Authenticator } from './auth.js';
import { DashboardData, scanEvents, summary } from './dashboard-data.js';
import type { RuleView } from './dashboard-types.js';
import { redact } from './redact.js';
import type { HubEvents } from './hub-events.js';
import { guard, principalOf } from './routes-agents.js';
import type { RuleBook } from './rulebook.js';

export interface DashboardContext {
  store: Store;
  auth: Authenticator;
  events: HubEvents;
  rules: RuleBook;
  now: () => number;
  staleAfterMs: number;
}

const Enum = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));
const Count = (max: number) => Type.String({ pattern: '^\\d{1,9}$', description: `at most ${max}` });

export function dashboardRoutes(ctx: DashboardContext) {
  return async function routes(base: FastifyInstance): Promise<void> {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    const read = guard(ctx.auth, 'read');
    const tags = ['dashboard'];
    const data = new DashboardData(ctx.store, ctx.staleAfterMs);
    const invalidate = () => data.invalidate();
    // The executor reports an attempt just before it is committed (attempts are committed in
    // groups), so a read right then may miss it: read again once the group has surely landed.
    let later: NodeJS.Timeout | undefined;
    const onAttempt = () => {
      data.invalidate();
      later ??= setTimeout(() => {
        later = undefined;
        data.invalidate();
      }, 250);
    };
    ctx.events.on('transition', invalidate);
    ctx.events.on('attempt', onAttempt);
    ctx.events.on('held', invalidate);
    ctx.events.on('change', invalidate); // replicas: another hub's work (a local change is invalidated above too)
    app.addHook('onClose', async () => {
      clearTimeout(later);
      ctx.events.off('transition', invalidate);
      ctx.events.off('attempt', onAttempt);
      ctx.events.off('held', invalidate);
      ctx.events.off('change', invalidate);
    });

    app.get('/api/v1/dashboard/me', { schema: { tags }, onRequest: read }, async (req) => {
      const p = principalOf(req);
      return p.kind === 'operator' ? { name: p.name, role: p.role } : { name: 'unknown', role: 'read' };
    });

    app.get(
      '/api/v1/dashboard/overview',
      {
        schema: {
          tags,
          querystring: Type.Object(
            {
              rows: Type.Optional(Count(500)),
              offset: Type.Optional(Count(1e9)),
              vm: Type.Optional(Type.String({ maxLength: 256 })),
              group: Type.Optional(Enum(['vm', 'pool'])),
            },
            { additionalProperties: false },
          ),
        },
        onRequest: read,
      },
      async (req, reply) => {
        const rows = Number(req.query.rows ?? 50);
        if (rows < 1 || rows > 500)
          return reply.code(400).send({ error: 'Bad Request', message: '/rows: must be 1 to 500' });
        return data.overview(ctx.now(), {
          rows,
          offset: Number(req.query.offset ?? 0),
          vm: req.query.vm,
          group: req.query.group as 'vm' | 'pool' | undefined,
        });
      },
    );

    app.get(
      '/api/v1/dashboard/events',
      {
        schema: {
          tags,
          description:
            'Events with filters and a free-text search (q: event id, VM, type, description), newest first.',
          querystring: Type.Object(
            {
              q: Type.Optional(Type.String({ maxLength: 200 })),
              status: Type.Optional(Enum(EVENT_STATUSES)),
              type: Type.Optional(Enum(EVENT_TYPES)),
              provider: Type.Optional(Enum(EVENT_PROVIDERS)),
              origin: Type.Optional(Enum(['platform', 'user'])),
              vm: Type.Optional(Type.String({ maxLength: 256 })),
              since: Type.Optional(Type.String({ format: 'date-time' })),
              until: Type.Optional(Type.String({ format: 'date-time' })),
              limit: Type.Optional(Count(200)),
              offset: Type.Optional(Count(1e9)),
            },
            { additionalProperties: false },
          ),
        },
        onRequest: read,
      },
      async (req, reply) => {
        const { q, origin, limit: l, offset: o, ...filter } = req.query;
        const limit = Number(l ?? 50);
        const offset = Number(o ?? 0);
        if (limit < 1 || limit > 200)
          return reply.code(400).send({ error: 'Bad Request', message: '/limit: must be 1 to 200' });
        if (!q && !origin) {
          const page = await ctx.store.listEvents({ ...filter, limit, offset });
          return { events: page.events.map(summary), total: page.total, offset, capped: false };
        }
        // The store filters what it can; text and origin are matched here on the narrowed scan.
        const needle = q?.toLowerCase();
        const keep = (e: EventRow) =>
          (!origin || e.origin === origin) &&
          (!needle ||
            [e.eventId, e.type, e.description ?? '', ...e.resources, ...e.reporters].some((s) =>
              s.toLowerCase().includes(needle),
            ));
        const found = await scanEvents(ctx.store, filter, keep);
        return {
          events: found.events.slice(offset, offset + limit).map(summary),
          total: found.events.length,
          offset,
          capped: found.capped,
        };
      },
    );

    app.get(
      '/api/v1/dashboard/events/:provider/:eventId',
      {
        schema: { tags, params: Type.Object({ provider: Type.String(), eventId: Type.String() }) },
        onRequest: read,
      },
      async (req, reply) => {
        const key = eventKey(req.params.provider, req.params.eventId);
        const detail = await data.eventDetail(key);
        if (!detail) return reply.code(404).send({ error: 'Not Found', message: `no event ${key}` });
        return detail;
      },
    );

    app.get(
      '/api/v1/dashboard/dead-letter',
      {
        schema: {
          tags,
          description: 'Dead steps (at most 1000), errors with credentials in URLs taken out.',
        },
        onRequest: read,
      },
      async () => {
        const steps = await ctx.store.listSteps({ status: 'dead', limit: 1000 });
        return {
          steps: steps.map((s) => ({
            id: s.id,
            name: s.name,
            action: s.action,
            rule: s.rule,
            eventKey: s.eventKey,
            vm: s.vm,
            phase: s.phase,
            attempts: s.attempts,
            deadReason: s.deadReason,
            lastError: redact(s.lastError?.slice(0, 500)),
            updatedAt: s.updatedAt,
          })),
        };
      },
    );

    app.get('/api/v1/dashboard/rules', { schema: { tags }, onRequest: read }, async () => ({
      rules: ctx.rules.all().map((r): RuleView => ({
        name: r.name,
        description: r.description,
        source: ctx.rules.source(r.name),
        // A timer rule shows its schedule where event rules show what they match.
        match: r.match ?? { schedule: r.schedule },
        steps: r.steps.map((s) => ({ name: s.name, action: s.action, timing: s.timing })),
        undo: (r.undo ?? []).map((s) => ({ name: s.name, action: s.action })),
        counts: ctx.rules.counts.get(r.name) ?? { matched: 0, evaluated: 0 },
      })),
    }));
  };
}
