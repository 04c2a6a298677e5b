// Ingest: CloudEvents (structured, binary, batch) from agents, and an Event Grid compatible topic
// endpoint. A batch is all or nothing: one bad or unauthorised event and nothing is stored.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingTransition, Store } from '../store/store.js';
import { vmSource } from '../core/transition.js';
import type { Authenticator, Principal } from './auth.js';
import { roleAllows } from './auth.js';
import { IngestError, parseCloudEvents, parseEventGrid } from './ingest-parse.js';
import type { HubMetrics } from './metrics.js';
import type { HubEvents } from './hub-events.js';
import { GroupCommit, inFlightFor } from './group-commit.js';

export const INGEST_BODY_LIMIT = 1024 * 1024;

export interface IngestContext {
  store: Store;
  auth: Authenticator;
  metrics: HubMetrics;
  events: HubEvents;
  now: () => number;
}

/** An agent may publish only for its own VM: the CloudEvent source and the data's VM must both be it. */
function authorise(principal: Principal, batch: IncomingTransition[]): void {
  if (principal.kind === 'operator') {
    if (!roleAllows(principal.role, 'operate'))
      throw new IngestError(403, `role ${principal.role} may not publish events`, 'Forbidden');
    return;
  }
  if (principal.kind !== 'agent') return;
  for (const t of batch) {
    if (t.ceSource !== vmSource(principal.vm) || t.reporter !== principal.vm) {
      throw new IngestError(
        403,
        `this token publishes only for VM ${principal.vm}, not ${t.reporter} (source ${t.ceSource})`,
        'Forbidden',
      );
    }
  }
}

/** Stores a batch through the one ingest path (group commit, metrics, planning) and counts the outcomes. */
export type Ingester = (
  batch: IncomingTransition[],
) => Promise<{ new: number; duplicate: number; merged: number }>;

/** The ingest pipeline shared by agents' CloudEvents, Event Grid publishes and cloud pushes. */
export function createIngester(ctx: IngestContext): Ingester {
  const commits = new GroupCommit(
    (batch: IncomingTransition[], at: string) => ctx.store.ingest(batch, at),
    ctx.now,
    5000,
    inFlightFor(ctx.store),
  );
  return async function store(batch: IncomingTransition[]) {
    const { results, at } = await commits.add(batch);
    const counts = { new: 0, duplicate: 0, merged: 0 };
    results.forEach((r, i) => {
      const t = batch[i]!;
      counts[r.outcome]++;
      ctx.metrics.ingested.inc({ outcome: r.outcome, via: t.via });
      if (r.outcome === 'new') {
        ctx.metrics.deliveryLag.observe(Math.max(0, (ctx.now() - Date.parse(t.observedAt)) / 1000));
        if (t.event.notBefore && (t.transition === 'scheduled' || t.transition === 'rescheduled')) {
          ctx.metrics.noticeLeft.observe(Math.max(0, (Date.parse(t.event.notBefore) - ctx.now()) / 1000));
        }
        ctx.events.emit('transition', {
          ...t,
          transitionId: r.transitionId,
          eventKey: r.eventKey,
          receivedAt: at,
        });
      }
    });
    return counts;
  };
}

export function ingestRoutes(ctx: IngestContext) {
  const store = createIngester(ctx);

  return async function routes(app: FastifyInstance): Promise<void> {
    // Bodies are parsed by the CloudEvents SDK or by us, never half-parsed by Fastify.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: INGEST_BODY_LIMIT }, (_req, body, done) =>
      done(null, body),
    );

    app.post(
      '/api/v1/events',
      {
        schema: {
          tags: ['ingest'],
          description: 'CloudEvents 1.0: structured, binary or batch (application/cloudevents-batch+json)',
        },
      },
      async (req, reply) => {
        const principal = ctx.auth.fromHeaders(req.headers);
        if (!principal) return fail(ctx, reply, 401, 'missing or unknown bearer token');
        try {
          const batch = parseCloudEvents(req.headers, typeof req.body === 'string' ? req.body : '');
          authorise(principal, batch);
          return reply.code(200).send(await store(batch));
        } catch (err) {
          if (err instanceof IngestError) return fail(ctx, reply, err.statusCode, err.message);
          throw err;
        }
      },
    );

    // Event Grid compatible topic endpoint: same auth, body, limits and status codes as a topic.
    const eventGrid = async (req: FastifyRequest, reply: FastifyReply) => {
      const url = req.raw.url ?? '';
      const principal = ctx.auth.eventGrid(
        req.headers,
        new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : ''),
      );
      if (!principal)
        return egFail(ctx, reply, 401, 'Unauthorized', 'the request authorization key is not authorized');
      let body: unknown;
      try {
        body = JSON.parse(typeof req.body === 'string' ? req.body : '');
      } catch {
        return egFail(ctx, reply, 400, 'BadRequest', 'the body is not valid JSON');
      }
      try {
        await store(parseEventGrid(body));
      } catch (err) {
        if (err instanceof IngestError) return egFail(ctx, reply, err.statusCode, err.code, err.message);
        throw err;
      }
      return reply.code(200).send();
    };
    const egSchema = {
      schema: {
        tags: ['ingest'],
        description: 'Event Grid topic compatible: aeg-sas-key / SAS token, Event Grid schema array, 1 MB',
      },
    };
    app.post('/api/v1/eventgrid/events', egSchema, eventGrid);
    app.post('/api/events', { schema: { ...egSchema.schema, hide: true } }, eventGrid);
  };
}

function fail(ctx: IngestContext, reply: FastifyReply, status: number, message: string) {
  ctx.metrics.rejected.inc({ status: String(status) });
  return reply.code(status).send({
    error:
      status === 401
        ? 'Unauthorized'
        : status === 403
          ? 'Forbidden'
          : status === 413
            ? 'Payload Too Large'
            : 'Bad Request',
    message,
  });
}

/** Event Grid's error body: {"error":{"code","message","details":[…]}}. */
function egFail(ctx: IngestContext, reply: FastifyReply, status: number, code: string, message: string) {
  ctx.metrics.rejected.inc({ status: String(status) });
  return reply.code(status).send({ error: { code, message, details: [{ code, message }] } });
}
