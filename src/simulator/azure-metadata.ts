// Azure's per-VM metadata service: Scheduled Events (GET and the StartRequests POST), the
// instance document, and the 2015 legacy endpoints. Mounted at `/vm/<name>` and unprefixed
// (the default VM), so one port can serve a whole fleet.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  INSTANCE_NEWEST,
  INSTANCE_VERSIONS,
  SCHEDULED_EVENTS_NEWEST,
  scheduledEventsVersion,
} from './azure-versions.js';
import {
  renderInstance,
  renderLegacyInstanceInfo,
  renderLegacyMaintenance,
  renderScheduledEvents,
} from './azure-documents.js';
import { pause } from './pause.js';
import type { Controller } from './controller.js';
import { malform, type Endpoint, type FaultDecision, type FaultInjector } from './faults.js';
import type { SimVm } from './fleet.js';
import type { RateLimiter } from './rate-limit.js';
import { metadataFront, type RequestLog } from './request-log.js';

export interface MetadataContext {
  controller: Controller;
  faults: FaultInjector;
  limiter: RateLimiter;
  log: RequestLog;
  /** Send `ETag` and honour `If-None-Match` with 304 (seen only in Microsoft's Node sample). */
  etag: boolean;
  /** The first Scheduled Events call of each VM waits this long (cloud time, scaled): the service enabling itself. */
  enableDelayMs: number;
  /**
   * VMs whose Scheduled Events service is enabled (first call made), shared by the `/vm/<name>` and the
   * unprefixed mounts. `POST /sim/reset` and deleting the VM clear it.
   */
  enabled: Set<string>;
  defaultVm?: string;
  /** 400 for a StartRequests naming an unknown or foreign EventId (real IMDS: undocumented; default: ignore). */
  strictApprovals: boolean;
  /** Aborted when the server closes, so hung responses let go. */
  closing: AbortSignal;
}

const ERR = {
  header: 'Bad request. Required metadata header not specified',
  forwarded: 'Bad request. X-Forwarded-For header is not allowed',
  duplicate: 'Bad request. Query parameters must not be duplicated',
  version:
    'Bad request. api-version is invalid or was not specified in the request. For more information refer to aka.ms/azureimds',
  body: 'Bad request. The request body must be JSON: {"StartRequests":[{"EventId":"<id>"}]}',
  throttled: 'Too many requests',
  notFound: 'Not found',
  method: 'Method not allowed',
} as const;

const STATUS_TEXT: Record<number, string> = {
  404: 'Not found',
  410: 'Gone. Retry after some time for a max of 70 seconds',
  429: 'Too many requests',
  500: 'Internal server error',
  502: 'Bad gateway',
  503: 'Service unavailable',
};

export function azureMetadataRoutes(ctx: MetadataContext) {
  return async function routes(app: FastifyInstance): Promise<void> {
    // Clients differ in what Content-Type they send with StartRequests (curl -d sends a form type).
    const served = metadataFront(app, ctx.log);

    /** Common front of every metadata route: the VM, the rate limit, the faults. */
    const front = async (
      request: FastifyRequest,
      reply: FastifyReply,
      endpoint: Endpoint,
    ): Promise<{ vm: SimVm; fault: FaultDecision } | undefined> => {
      const prefixed = (request.params as { vm?: string }).vm;
      const name = prefixed ?? ctx.defaultVm ?? ctx.controller.fleet.first()?.name;
      const vm = name ? ctx.controller.fleet.get(name) : undefined;
      if (!vm) {
        const error =
          prefixed !== undefined
            ? `Not found. The simulator has no VM named ${JSON.stringify(prefixed)}`
            : ctx.defaultVm !== undefined
              ? `Not found. The default VM ${JSON.stringify(ctx.defaultVm)} (--default-vm) does not exist`
              : 'Not found. The simulator has no VMs: the fleet is empty';
        void reply.code(404).send({ error });
        return undefined;
      }
      if (vm.provider !== 'azure') {
        void reply
          .code(404)
          .send({ error: `Not found. ${vm.name} is a VM of ${vm.provider}: it has no Azure metadata` });
        return undefined;
      }
      const record: { vm: string; faults?: string[] } = { vm: vm.name };
      served.set(request, record);
      if (!ctx.limiter.allow(vm.name)) {
        void reply.code(429).send({ error: ERR.throttled });
        return undefined;
      }
      const fault = ctx.faults.decide(vm.name, endpoint);
      if (fault.labels.length) record.faults = fault.labels;
      const wait = fault.latencyMs + (fault.hangMs ?? 0);
      if (wait > 0) await pause(wait, ctx.closing, reply);
      if (fault.errorStatus) {
        if (fault.retryAfter !== undefined) void reply.header('retry-after', String(fault.retryAfter));
        void reply
          .code(fault.errorStatus)
          .send({ error: STATUS_TEXT[fault.errorStatus] ?? 'Injected failure' });
        return undefined;
      }
      return { vm, fault };
    };

    const sendJson = (reply: FastifyReply, fault: FaultDecision, body: unknown) => {
      const text = JSON.stringify(body);
      return reply
        .type('application/json; charset=utf-8')
        .send(fault.malformed ? malform(text, fault.malformed) : text);
    };

    const scheduledEvents = async (request: FastifyRequest, reply: FastifyReply) => {
      const front_ = await front(request, reply, 'scheduledevents');
      if (!front_) return reply;
      const { vm, fault } = front_;
      const query = checkQuery(request, reply);
      if (!query) return reply;
      const version = scheduledEventsVersion(query.get('api-version') ?? undefined);
      // The 2017-03-01 preview did not yet enforce the Metadata header; every GA version does.
      if (!checkHeaders(request, reply, version?.version !== '2017-03-01')) return reply;
      if (!version) {
        return reply.code(400).send({ error: ERR.version, 'newest-versions': SCHEDULED_EVENTS_NEWEST });
      }
      if (!ctx.enabled.has(vm.name)) {
        ctx.enabled.add(vm.name);
        if (ctx.enableDelayMs > 0)
          await pause(ctx.enableDelayMs / ctx.controller.timeScale, ctx.closing, reply);
      }
      if (request.method === 'POST') {
        const ids = parseStartRequests(request.body);
        if (!ids) return reply.code(400).send({ error: ERR.body });
        try {
          ctx.controller.approve(vm.name, ids, { strict: ctx.strictApprovals });
        } catch (err) {
          return reply.code(400).send({ error: `Bad request. ${(err as Error).message}` });
        }
        return reply.code(200).send();
      }
      const activities = fault.vanish ? [] : ctx.controller.visibleTo(vm.name);
      let incarnation = ctx.controller.incarnation(vm.name);
      if (fault.incarnationBackwards)
        incarnation = Math.max(0, incarnation - 1 - Math.floor(incarnation / 2));
      const doc = renderScheduledEvents(activities, incarnation, version);
      if (ctx.etag) {
        const tag = `"${doc.DocumentIncarnation}-${version.version}"`;
        void reply.header('ETag', tag);
        if (request.headers['if-none-match'] === tag && !fault.malformed) return reply.code(304).send();
      }
      return sendJson(reply, fault, doc);
    };

    const instance = async (request: FastifyRequest, reply: FastifyReply) => {
      const front_ = await front(request, reply, 'instance');
      if (!front_) return reply;
      const query = checkQuery(request, reply);
      if (!query || !checkHeaders(request, reply, true)) return reply;
      const version = query.get('api-version');
      if (!version || !INSTANCE_VERSIONS.includes(version)) {
        return reply.code(400).send({ error: ERR.version, 'newest-versions': INSTANCE_NEWEST });
      }
      // Walk /metadata/instance/compute/name style sub-paths into the document.
      const sub = ((request.params as { '*'?: string })['*'] ?? '').split('/').filter(Boolean);
      let node: unknown = renderInstance(front_.vm, version);
      for (const key of sub) {
        if (node === null || typeof node !== 'object' || !(key in node)) {
          return reply.code(404).send({ error: ERR.notFound });
        }
        node = (node as Record<string, unknown>)[Array.isArray(node) ? Number(key) : key];
      }
      const format = query.get('format') ?? 'json';
      if (format === 'text') {
        if (typeof node === 'object') {
          return reply.code(400).send({ error: 'Bad request. format=text is only for leaf values' });
        }
        return reply.type('text/plain; charset=utf-8').send(String(node));
      }
      if (format !== 'json') return reply.code(400).send({ error: `Bad request. Unknown format ${format}` });
      return sendJson(reply, front_.fault, node);
    };

    const legacyMaintenance = async (request: FastifyRequest, reply: FastifyReply) => {
      const front_ = await front(request, reply, 'legacy');
      if (!front_) return reply;
      const c = ctx.controller;
      const body = renderLegacyMaintenance(c.visibleTo(front_.vm.name), front_.vm.name, c.now(), c.timeScale);
      return sendJson(reply, front_.fault, front_.fault.vanish ? {} : body);
    };

    const legacyInstanceInfo = async (request: FastifyRequest, reply: FastifyReply) => {
      const front_ = await front(request, reply, 'legacy');
      if (!front_) return reply;
      return sendJson(reply, front_.fault, renderLegacyInstanceInfo(front_.vm));
    };

    const notAllowed = async (_request: FastifyRequest, reply: FastifyReply) =>
      reply.code(405).send({ error: ERR.method });

    app.route({ method: ['GET', 'POST'], url: '/metadata/scheduledevents', handler: scheduledEvents });
    app.route({ method: ['PUT', 'DELETE', 'PATCH'], url: '/metadata/scheduledevents', handler: notAllowed });
    app.get('/metadata/instance', instance);
    app.get('/metadata/instance/*', instance);
    app.route({ method: ['POST', 'PUT', 'DELETE', 'PATCH'], url: '/metadata/instance', handler: notAllowed });
    app.get('/metadata/v1/maintenance', legacyMaintenance);
    app.get('/metadata/v1/InstanceInfo', legacyInstanceInfo);
    app.get('/metadata/v1/instanceInfo', legacyInstanceInfo);
  };
}

/** Rejects duplicated query parameters, as IMDS does; Fastify would silently merge them. */
function checkQuery(request: FastifyRequest, reply: FastifyReply): URLSearchParams | undefined {
  const raw = request.raw.url ?? '';
  const query = new URLSearchParams(raw.includes('?') ? raw.slice(raw.indexOf('?') + 1) : '');
  const keys = [...query.keys()];
  if (new Set(keys).size !== keys.length) {
    void reply.code(400).send({ error: ERR.duplicate });
    return undefined;
  }
  return query;
}

function checkHeaders(request: FastifyRequest, reply: FastifyReply, requireMetadata: boolean): boolean {
  if (request.headers['x-forwarded-for'] !== undefined) {
    void reply.code(400).send({ error: ERR.forwarded });
    return false;
  }
  if (requireMetadata && String(request.headers.metadata ?? '').toLowerCase() !== 'true') {
    void reply.code(400).send({ error: ERR.header });
    return false;
  }
  return true;
}

/** `{"StartRequests":[{"EventId":"…"}], "DocumentIncarnation"?: n}` → the ids, or undefined if malformed. */
export function parseStartRequests(body: unknown): string[] | undefined {
  if (typeof body !== 'string' || body.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const { StartRequests: requests, DocumentIncarnation: incarnation } = parsed as Record<string, unknown>;
  if (incarnation !== undefined && typeof incarnation !== 'number' && typeof incarnation !== 'string')
    return undefined;
  if (!Array.isArray(requests) || requests.length === 0) return undefined;
  const ids: string[] = [];
  for (const r of requests) {
    if (r === null || typeof r !== 'object' || typeof (r as { EventId?: unknown }).EventId !== 'string')
      return undefined;
    const id = (r as { EventId: string }).EventId.trim();
    if (!id) return undefined;
    ids.push(id);
  }
  return ids;
}
