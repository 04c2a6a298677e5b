// Cloud event pushes: AWS EventBridge (API destination) and Alibaba CloudMonitor / EventBridge post
// their events here. A shared secret authenticates the caller; each format's file validates and
// normalises; the transitions go through the same ingest path as agents' (dedup, history, rules).
// A body is one event or an array of them, all or nothing.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { MaintenanceEvent, Transition } from '../core/event.js';
import type { IncomingTransition } from '../store/store.js';
import { IngestError } from './ingest-parse.js';
import { normaliseAlibabaEvent } from './push-alibaba.js';
import { normaliseAwsEvent } from './push-aws.js';
import { createIngester, INGEST_BODY_LIMIT, type IngestContext } from './routes-ingest.js';

/** One normalised transition of a push, before the route adds who sent it. */
export interface PushItem {
  transition: Transition;
  event: MaintenanceEvent;
  /** The cloud's id of the notification: with the format, the idempotency key. */
  ceId: string;
  observedAt: string;
}

type Normaliser = (input: unknown, where: string) => { items: PushItem[]; ignored?: string };

export const PUSH_FORMATS: Record<string, Normaliser> = {
  aws: normaliseAwsEvent,
  alibaba: normaliseAlibabaEvent,
};

export const PUSH_BATCH_LIMIT = 500;

export function pushRoutes(ctx: IngestContext) {
  const store = createIngester(ctx);

  return async function routes(app: FastifyInstance): Promise<void> {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: INGEST_BODY_LIMIT }, (_req, body, done) =>
      done(null, body),
    );

    for (const [format, normalise] of Object.entries(PUSH_FORMATS)) {
      app.post(
        `/api/v1/push/${format}`,
        {
          schema: {
            tags: ['ingest'],
            description:
              format === 'aws'
                ? 'AWS EventBridge events (EC2 spot interruption, rebalance, state change; AWS Health EC2 scheduled changes); shared secret'
                : 'Alibaba CloudMonitor / event notification ECS events (current and older formats) or EventBridge CloudEvents; shared secret',
          },
        },
        async (req: FastifyRequest, reply: FastifyReply) => {
          const url = req.raw.url ?? '';
          const name = ctx.auth.push(
            req.headers,
            new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : ''),
          );
          if (!name) return fail(ctx, reply, 401, 'missing or unknown push secret');
          try {
            let body: unknown;
            try {
              body = JSON.parse(typeof req.body === 'string' ? req.body : '');
            } catch {
              throw new IngestError(400, 'body is not valid JSON');
            }
            const events = Array.isArray(body) ? body : [body];
            if (events.length === 0 || events.length > PUSH_BATCH_LIMIT)
              throw new IngestError(
                400,
                `a push carries 1 to ${PUSH_BATCH_LIMIT} events, not ${events.length}`,
              );
            const batch: IncomingTransition[] = [];
            const ignored: string[] = [];
            events.forEach((e, i) => {
              const { items, ignored: why } = normalise(e, Array.isArray(body) ? `/${i}` : '');
              if (why) ignored.push(why);
              for (const item of items) {
                batch.push({
                  ceSource: `/forewarn/push/${format}`,
                  ceId: item.ceId,
                  transition: item.transition,
                  reporter: `push:${name}`,
                  mine: true,
                  observedAt: item.observedAt,
                  event: item.event,
                  via: `push-${format}`,
                });
              }
            });
            const counts = batch.length ? await store(batch) : { new: 0, duplicate: 0, merged: 0 };
            return reply
              .code(200)
              .send({ ...counts, ignored: ignored.length, ...(ignored.length ? { why: ignored } : {}) });
          } catch (err) {
            if (err instanceof IngestError) return fail(ctx, reply, err.statusCode, err.message);
            throw err;
          }
        },
      );
    }
  };
}

function fail(ctx: IngestContext, reply: FastifyReply, status: number, message: string) {
  ctx.metrics.rejected.inc({ status: String(status) });
  return reply.code(status).send({ error: status === 401 ? 'Unauthorized' : 'Bad Request', message });
}
