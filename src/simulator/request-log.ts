// A bounded log of metadata requests, so tests and operators can see what an agent asked.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { toIso } from '../core/time.js';

export interface RequestRecord {
  at: string;
  vm: string;
  method: string;
  url: string;
  status: number;
  ms: number;
  faults?: string[];
}

export class RequestLog {
  private entries: RequestRecord[] = [];

  constructor(private readonly capacity = 5000) {}

  add(entry: RequestRecord): void {
    this.entries.push(entry);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  }

  list(filter: { vm?: string; limit?: number } = {}): RequestRecord[] {
    const matching = filter.vm ? this.entries.filter((e) => e.vm === filter.vm) : this.entries;
    return matching.slice(-(filter.limit ?? 1000));
  }

  clear(): void {
    this.entries = [];
  }
}

/** Which VM a request was for, and the faults it got: filled in by the route, logged when answered. */
export type ServedRequests = WeakMap<FastifyRequest, { vm: string; faults?: string[] }>;

/**
 * The front every metadata server shares: bodies taken as text (clients differ in the Content-Type
 * they send; each server judges the body itself), and each answered request that a route marked as
 * served added to `log` with its status and time.
 */
export function metadataFront(app: FastifyInstance, log: RequestLog): ServedRequests {
  const served: ServedRequests = new WeakMap();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) =>
    done(null, body),
  );
  app.addHook('onResponse', async (request, reply) => {
    const s = served.get(request);
    if (!s) return;
    log.add({
      at: toIso(Date.now()),
      vm: s.vm,
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
      faults: s.faults,
    });
  });
  return served;
}
