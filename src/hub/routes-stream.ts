// The dashboard's live feed: Server-Sent Events on GET /api/v1/stream. The hub's in-process bus
// (transitions, step attempts, commands, heartbeats) is coalesced into one flush every
// `flushMs`, so a burst of 10,000 ingests is a few messages, not 10,000; heartbeats, the chattiest,
// are summarised at most once per `heartbeatEveryMs`.
//
// EventSource cannot send an Authorization header, and an operator token must never sit in a URL
// (proxies and browsers log URLs). So a browser first trades its token for a ticket
// (POST /api/v1/stream/tickets, Bearer auth): random, single-use, valid for `ticketTtlMs`, good
// for opening one stream with the caller's role. Clients that can send headers (curl, fetch)
// may open the stream with `Authorization: Bearer` directly.
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Authenticator, Principal } from './auth.js';
import type { CommandRow } from '../store/store.js';
import type { AttemptInfo, HubEvents, StoredTransition } from './hub-events.js';
import { guard, principalOf } from './routes-agents.js';

export interface StreamContext {
  auth: Authenticator;
  events: HubEvents;
  now: () => number;
  flushMs?: number;
  heartbeatEveryMs?: number;
  ticketTtlMs?: number;
  keepAliveMs?: number;
  /** Open streams beyond this are refused with 503 (each holds a socket). */
  maxClients?: number;
  /** Replicas share the store: what the others did arrives only as `change` events. */
  shared?: boolean;
}

/** What one flush may carry; each list is capped so a burst stays one small message each. */
const MAX_ITEMS = 200;

export function streamRoutes(ctx: StreamContext) {
  return async function routes(base: FastifyInstance): Promise<void> {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    const flushMs = ctx.flushMs ?? 150;
    const heartbeatEveryMs = ctx.heartbeatEveryMs ?? 5000;
    const ttl = ctx.ticketTtlMs ?? 30_000;
    const tickets = new Map<string, { principal: Principal; expires: number }>();
    const clients = new Set<ServerResponse>();
    let seq = 0;

    // Pending items, flushed together.
    let transitions: unknown[] = [];
    let attempts: unknown[] = [];
    let commandVms = new Set<string>();
    let heartbeatVms = new Set<string>();
    let heartbeats = 0;
    let lastHeartbeatFlush = 0;
    // Two timers: heartbeats wait for their own, slower one and never hold back a transition.
    let timer: NodeJS.Timeout | undefined;
    let beatTimer: NodeJS.Timeout | undefined;

    const send = (event: string, data: unknown) => {
      const frame = `id: ${++seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
      for (const c of clients) c.write(frame);
    };
    let changed = false;
    const flush = () => {
      timer = undefined;
      if (changed) send('changed', {});
      changed = false;
      if (transitions.length) send('transitions', { items: transitions });
      if (attempts.length) send('attempts', { items: attempts });
      if (commandVms.size) send('commands', { vms: [...commandVms] });
      transitions = [];
      attempts = [];
      commandVms = new Set();
    };
    const flushBeats = () => {
      beatTimer = undefined;
      if (heartbeats) send('heartbeats', { count: heartbeats, vms: [...heartbeatVms] });
      heartbeats = 0;
      heartbeatVms = new Set();
      lastHeartbeatFlush = ctx.now();
    };
    const schedule = () => {
      timer ??= setTimeout(flush, flushMs);
    };

    // With nobody listening nothing is kept: a client that connects re-reads what it shows.
    const onTransition = (t: StoredTransition) => {
      if (!clients.size) return;
      if (transitions.length < MAX_ITEMS)
        transitions.push({
          eventKey: t.eventKey,
          transition: t.transition,
          type: t.event.type,
          resources: t.event.resources,
          notBefore: t.event.notBefore,
        });
      schedule();
    };
    const onAttempt = (a: AttemptInfo) => {
      if (!clients.size) return;
      if (attempts.length < MAX_ITEMS)
        attempts.push({
          stepId: a.step.id,
          eventKey: a.eventKey,
          rule: a.rule,
          step: a.step.name,
          vm: a.vm,
          status: a.outcome.status,
          deadReason: a.outcome.deadReason,
        });
      schedule();
    };
    const onCommand = (vm: string) => {
      if (!clients.size) return;
      if (commandVms.size < MAX_ITEMS) commandVms.add(vm);
      schedule();
    };
    const onCommandDone = (c: CommandRow) => onCommand(c.vm);
    const onHeartbeat = (vm: string) => {
      if (!clients.size) return;
      heartbeats++;
      if (heartbeatVms.size < MAX_ITEMS) heartbeatVms.add(vm);
      beatTimer ??= setTimeout(
        flushBeats,
        Math.max(flushMs, lastHeartbeatFlush + heartbeatEveryMs - ctx.now()),
      );
    };
    ctx.events.on('transition', onTransition);
    ctx.events.on('attempt', onAttempt);
    ctx.events.on('command', onCommand);
    ctx.events.on('commandDone', onCommandDone);
    ctx.events.on('heartbeat', onHeartbeat);
    // Another replica's work (shared store): clients refetch what they show, at most per flush.
    const onChange = () => {
      if (!clients.size || !ctx.shared) return;
      changed = true;
      schedule();
    };
    ctx.events.on('change', onChange);

    const keepAlive = setInterval(() => {
      for (const c of clients) c.write(': keep-alive\n\n');
      const now = ctx.now();
      for (const [k, t] of tickets) if (t.expires <= now) tickets.delete(k);
    }, ctx.keepAliveMs ?? 15_000);
    keepAlive.unref();

    app.addHook('onClose', async () => {
      clearInterval(keepAlive);
      clearTimeout(timer);
      clearTimeout(beatTimer);
      ctx.events.off('transition', onTransition);
      ctx.events.off('attempt', onAttempt);
      ctx.events.off('command', onCommand);
      ctx.events.off('commandDone', onCommandDone);
      ctx.events.off('heartbeat', onHeartbeat);
      ctx.events.off('change', onChange);
      for (const c of clients) c.end();
      clients.clear();
    });

    app.post(
      '/api/v1/stream/tickets',
      {
        schema: {
          tags: ['stream'],
          description: 'A single-use ticket (valid 30 s) to open GET /api/v1/stream from a browser.',
        },
        onRequest: guard(ctx.auth, 'read'),
      },
      async (req) => {
        const ticket = randomBytes(24).toString('base64url');
        tickets.set(ticket, { principal: principalOf(req), expires: ctx.now() + ttl });
        return { ticket, expiresAt: new Date(ctx.now() + ttl).toISOString() };
      },
    );

    app.get(
      '/api/v1/stream',
      {
        schema: {
          tags: ['stream'],
          description:
            'Server-Sent Events: transitions, attempts, commands, heartbeats. Auth: Bearer header or ?ticket=.',
          querystring: Type.Object(
            { ticket: Type.Optional(Type.String({ maxLength: 64 })) },
            { additionalProperties: false },
          ),
        },
      },
      async (req, reply) => {
        let principal = ctx.auth.fromHeaders(req.headers);
        const ticket = req.query.ticket;
        if (!principal && ticket) {
          const t = tickets.get(ticket);
          tickets.delete(ticket); // single use, even when expired
          if (t && t.expires > ctx.now()) principal = t.principal;
        }
        if (!principal)
          return reply
            .code(401)
            .send({ error: 'Unauthorized', message: 'missing or unknown bearer token or stream ticket' });
        if (principal.kind !== 'operator')
          return reply.code(403).send({ error: 'Forbidden', message: 'the stream is for operator tokens' });
        if (clients.size >= (ctx.maxClients ?? 200))
          return reply.code(503).send({ error: 'Service Unavailable', message: 'too many open streams' });
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          connection: 'keep-alive',
          'x-accel-buffering': 'no', // nginx: do not buffer the stream
        });
        res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ role: principal.role })}\n\n`);
        clients.add(res);
        req.raw.once('close', () => clients.delete(res));
      },
    );
  };
}
