// One JSON error shape for every Fastify server of ours: validation errors name the field (and,
// for unions, what is allowed), 5xx never leak internals, unknown routes say which route.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ajvMessage, type AjvError } from '../core/validate.js';
import { storeUnwritable } from '../store/unwritable.js';

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
};

export function reasonOf(status: number): string {
  return REASONS[status] ?? (status >= 500 ? 'Internal Server Error' : 'Error');
}

export interface JsonErrorOptions {
  log?: Pick<Logger, 'error'>;
  label: string;
  /** Handles errors of its own (a typed domain error, a route with its own error format); returns true when it replied. */
  special?: (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => boolean;
}

export function installJsonErrors(app: FastifyInstance, o: JsonErrorOptions): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (o.special?.(err, request, reply)) return reply;
    if (err.validation) {
      return reply.code(400).send({
        error: 'Bad Request',
        message: ajvMessage(err.validation as AjvError[], err.validationContext, err.message),
      });
    }
    const unwritable = storeUnwritable(err);
    if (unwritable) {
      (o.log ?? request.log).error({ err: err.message, url: request.url }, `${o.label}: ${unwritable}`);
      // 503 + Retry-After: agents keep the batch in their outbox and send it again later.
      return reply
        .code(503)
        .header('retry-after', '30')
        .send({ error: 'Service Unavailable', message: `${unwritable}; retry later` });
    }
    const status = err.statusCode ?? 500;
    if (status >= 500)
      (o.log ?? request.log).error({ err: err.message, url: request.url }, `${o.label} error`);
    return reply
      .code(status)
      .send({ error: reasonOf(status), message: status >= 500 ? 'internal error' : err.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: 'Not Found', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );
}
