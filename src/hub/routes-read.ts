// The read API: events, one event's full history, the fleet, health and metrics.
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { EVENT_STATUSES, EVENT_TYPES, EVENT_PROVIDERS } from '../core/event.js';
import { eventKey, type Store } from '../store/store.js';
import type { Authenticator } from './auth.js';
import type { HubMetrics } from './metrics.js';
import { guard } from './routes-agents.js';

export interface ReadContext {
  store: Store;
  auth: Authenticator;
  metrics: HubMetrics;
  now: () => number;
  /** An agent whose last heartbeat is older than this is `stale`. */
  staleAfterMs: number;
}

const Enum = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));
const IsoQuery = Type.String({ format: 'date-time' });

export function readRoutes(ctx: ReadContext) {
  return async function routes(base: FastifyInstance): Promise<void> {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    const read = guard(ctx.auth, 'read');
    const tags = ['read'];

    app.get(
      '/api/v1/events',
      {
        schema: {
          tags,
          querystring: Type.Object(
            {
              status: Type.Optional(Enum(EVENT_STATUSES)),
              type: Type.Optional(Enum(EVENT_TYPES)),
              provider: Type.Optional(Enum(EVENT_PROVIDERS)),
              vm: Type.Optional(Type.String({ maxLength: 256 })),
              since: Type.Optional(IsoQuery),
              until: Type.Optional(IsoQuery),
              limit: Type.Optional(Type.String({ pattern: '^(?:[1-9]\\d{0,2}|1000)$' })),
              offset: Type.Optional(Type.String({ pattern: '^\\d{1,9}$' })),
            },
            { additionalProperties: false },
          ),
        },
        onRequest: read,
      },
      async (req) => {
        const q = req.query;
        return ctx.store.listEvents({
          ...q,
          limit: q.limit ? Number(q.limit) : 100,
          offset: q.offset ? Number(q.offset) : 0,
        });
      },
    );

    app.get(
      '/api/v1/events/:provider/:eventId',
      {
        schema: { tags, params: Type.Object({ provider: Type.String(), eventId: Type.String() }) },
        onRequest: read,
      },
      async (req, reply) => {
        const key = eventKey(req.params.provider, req.params.eventId);
        const found = await ctx.store.getEvent(key);
        if (!found) return reply.code(404).send({ error: 'Not Found', message: `no event ${key}` });
        // The whole history in one read: transitions, commands, every step of every VM, audit.
        const steps = (await ctx.store.listSteps({ eventKey: key, limit: 1000 })).sort((a, b) => a.id - b.id);
        return { ...found, steps, audit: await ctx.store.auditLog(`event:${key}`) };
      },
    );

    app.get('/api/v1/fleet', { schema: { tags }, onRequest: read }, async () => {
      const now = ctx.now();
      const vms = (await ctx.store.listVms()).map((vm) => ({
        ...vm,
        stale: !vm.lastHeartbeatAt || now - Date.parse(vm.lastHeartbeatAt) > ctx.staleAfterMs,
      }));
      ctx.metrics.agentsSeen.set({ state: 'fresh' }, vms.filter((v) => !v.stale).length);
      ctx.metrics.agentsSeen.set({ state: 'stale' }, vms.filter((v) => v.stale).length);
      return { vms };
    });

    app.get(
      '/api/v1/audit',
      {
        schema: {
          tags,
          querystring: Type.Object(
            { subject: Type.Optional(Type.String()) },
            { additionalProperties: false },
          ),
        },
        onRequest: guard(ctx.auth, 'admin'),
      },
      async (req) => ({
        entries: await ctx.store.auditLog(req.query.subject),
      }),
    );

    app.get('/healthz', { schema: { tags: ['health'] } }, async () => ({ ok: true }));
    app.get('/readyz', { schema: { tags: ['health'] } }, async (_req, reply) => {
      try {
        await ctx.store.listEvents({ limit: 1 });
        return { ok: true };
      } catch (err) {
        return reply.code(503).send({ ok: false, error: (err as Error).message });
      }
    });
    app.get('/metrics', { schema: { hide: true } }, async (_req, reply) =>
      reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics()),
    );
  };
}
