// The agents' side channel: heartbeats, long-polled commands and their results; operators
// queue commands here too. A token bound to a VM reaches only that VM's routes.
import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Heartbeat, Store } from '../store/store.js';
import { roleAllows, type Authenticator, type Principal, type Role } from './auth.js';
import type { HubEvents } from './hub-events.js';
import { commandForAgent, finishCommand, takeCommandsWaiting } from './command-poll.js';
import { GroupCommit, inFlightFor } from './group-commit.js';

export interface AgentsContext {
  store: Store;
  auth: Authenticator;
  events: HubEvents;
  now: () => number;
  /** A delivered command with no result is offered again after this long. */
  redeliverAfterMs?: number;
  /** Longest long-poll the hub holds, in seconds. */
  maxWaitSeconds?: number;
}

const VmParam = Type.Object({ vm: Type.String({ minLength: 1, maxLength: 256 }) });

/** 401 without a valid token; 403 for an agent of another VM or an operator below `role`. */
export function guard(auth: Authenticator, role: Role, vmOf?: (req: FastifyRequest) => string) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const p = auth.fromHeaders(req.headers);
    if (!p)
      return reply.code(401).send({ error: 'Unauthorized', message: 'missing or unknown bearer token' });
    if (p.kind === 'agent') {
      if (!vmOf || vmOf(req) !== p.vm)
        return reply.code(403).send({ error: 'Forbidden', message: `this token is bound to VM ${p.vm}` });
    } else if (p.kind !== 'operator' || !roleAllows(p.role, role)) {
      return reply.code(403).send({ error: 'Forbidden', message: `needs the ${role} role` });
    }
    (req as FastifyRequest & { principal?: Principal }).principal = p;
  };
}

export function principalOf(req: FastifyRequest): Principal {
  return (req as FastifyRequest & { principal: Principal }).principal;
}

export function actorOf(p: Principal): string {
  return p.kind === 'agent'
    ? `agent:${p.vm}`
    : p.kind === 'operator'
      ? `operator:${p.name}`
      : `eventgrid:${p.key}`;
}

export function agentRoutes(ctx: AgentsContext) {
  return async function routes(base: FastifyInstance): Promise<void> {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    const tags = ['agents'];
    const vmOf = (req: FastifyRequest) => (req.params as { vm: string }).vm;
    const iso = () => new Date(ctx.now()).toISOString();
    // Heartbeats arriving together share one commit: 100k agents at one a minute is ~1,700/s,
    // more than one fsync each allows (docs/benchmarks.md, hub-fleet).
    const heartbeats = new GroupCommit<Heartbeat, void>(
      async (batch, at) => {
        await ctx.store.heartbeats(batch, at);
        return batch.map(() => undefined);
      },
      ctx.now,
      5000,
      inFlightFor(ctx.store),
    );

    app.post(
      '/api/v1/agents/:vm/heartbeat',
      {
        schema: {
          tags,
          params: VmParam,
          body: Type.Object(
            {
              agentVersion: Type.Optional(Type.String({ maxLength: 64 })),
              vm: Type.Object({ name: Type.String() }, { additionalProperties: true }),
            },
            { additionalProperties: true },
          ),
        },
        onRequest: guard(ctx.auth, 'admin', vmOf),
      },
      async (req) => {
        const { agentVersion, vm, ...health } = req.body as {
          agentVersion?: string;
          vm: Record<string, unknown>;
        };
        await heartbeats.add([{ vm: req.params.vm, payload: { identity: vm, agentVersion, health } }]);
        ctx.events.emit('heartbeat', req.params.vm);
        return { ok: true };
      },
    );

    app.get(
      '/api/v1/agents/:vm/commands',
      {
        schema: {
          tags,
          params: VmParam,
          querystring: Type.Object(
            { wait: Type.Optional(Type.String({ pattern: '^\\d{1,3}$' })) },
            { additionalProperties: false },
          ),
          description: 'Long-poll: waits up to `wait` seconds for commands; 204 when none came.',
        },
        onRequest: guard(ctx.auth, 'admin', vmOf),
      },
      async (req, reply) => {
        const vm = req.params.vm;
        const wait = Math.min(Number(req.query.wait ?? 0), ctx.maxWaitSeconds ?? 30);
        const commands = await takeCommandsWaiting(ctx, vm, wait, (done) => {
          req.raw.once('close', done);
          return () => req.raw.off('close', done);
        });
        if (commands.length === 0) return reply.code(204).send();
        return { commands: commands.map(commandForAgent) };
      },
    );

    app.post(
      '/api/v1/agents/:vm/commands/:id/result',
      {
        schema: {
          tags,
          params: Type.Object({ vm: Type.String(), id: Type.String({ minLength: 1, maxLength: 128 }) }),
          body: Type.Object(
            {
              ok: Type.Boolean(),
              detail: Type.String({ maxLength: 4096 }),
              output: Type.Optional(Type.Unknown()),
            },
            { additionalProperties: false },
          ),
        },
        onRequest: guard(ctx.auth, 'admin', vmOf),
      },
      async (req, reply) => {
        const done = await finishCommand(ctx, req.params.vm, req.params.id, req.body);
        if (!done)
          return reply
            .code(404)
            .send({ error: 'Not Found', message: `no command ${req.params.id} for VM ${req.params.vm}` });
        return { ok: true };
      },
    );

    app.post(
      '/api/v1/agents/:vm/commands',
      {
        schema: {
          tags,
          params: VmParam,
          body: Type.Union([
            Type.Object(
              { type: Type.Literal('approve'), eventId: Type.String({ minLength: 1, maxLength: 256 }) },
              { additionalProperties: false },
            ),
            Type.Object(
              {
                type: Type.Literal('run-hook'),
                hook: Type.String({ minLength: 1, maxLength: 64 }),
                eventId: Type.Optional(Type.String({ maxLength: 256 })),
              },
              { additionalProperties: false },
            ),
          ]),
          description: 'Queue a command for the VM’s agent (operate role).',
        },
        onRequest: guard(ctx.auth, 'operate'),
      },
      async (req, reply) => {
        const body = req.body as { type: 'approve' | 'run-hook'; eventId?: string; hook?: string };
        const actor = actorOf(principalOf(req));
        const command = await ctx.store.enqueueCommand(
          {
            id: randomUUID(),
            vm: req.params.vm,
            type: body.type,
            eventId: body.eventId,
            hook: body.hook,
            origin: actor,
          },
          iso(),
        );
        await ctx.store.audit({
          at: iso(),
          actor,
          action: `command.queued`,
          subject: `command:${command.id}`,
          detail: command,
        });
        ctx.events.emit('command', req.params.vm);
        return reply.code(201).send(command);
      },
    );
  };
}
