// The simulator's control API (/sim/...): drive the fake cloud the way its controller would.
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { toIso } from '../core/time.js';
import { scheduledEventsVersion } from './azure-versions.js';
import { renderScheduledEvents } from './azure-documents.js';
import type { Activity, ActivityStatus } from './controller.js';
import type { CloudInventory } from './cloud-inventory.js';
import type { CloudMetadataContext } from './cloud-metadata.js';
import { PUSH_FORMATS, type CloudPusher } from './cloud-pushes.js';
import { SimError } from './fleet.js';
import type { ScenarioPlayer } from './scenario.js';
import {
  ConfigBody,
  FaultSpec,
  PushTargets,
  RescheduleBody,
  ResetBody,
  ScenarioDocument,
  ScheduleBody,
  UserActionBody,
  VmInput,
} from './schemas.js';

export interface ControlContext extends CloudMetadataContext {
  player: ScenarioPlayer;
  pusher: CloudPusher;
  cloud: CloudInventory;
}

/** An activity as the control API shows it: ISO times, the expected end. */
export function activityView(a: Activity) {
  return {
    eventId: a.eventId,
    provider: a.provider,
    type: a.type,
    status: a.status,
    source: a.source,
    description: a.description,
    resources: a.resources,
    audience: a.audience,
    createdAt: toIso(a.createdAt),
    notBefore: toIso(a.notBefore),
    startedAt: a.startedAt === undefined ? undefined : toIso(a.startedAt),
    expectedEndAt: toIso((a.startedAt ?? Math.max(a.notBefore, a.createdAt)) + a.startedForMs),
    endedAt: a.endedAt === undefined ? undefined : toIso(a.endedAt),
    durationSeconds: a.durationSeconds,
    approvalMode: a.approvalMode,
    approvedBy: a.approvedBy,
    history: a.history,
  };
}

/** A bodyless POST (plain `curl -X POST`) means "no options", not a validation error. */
async function emptyBodyIsObject(request: FastifyRequest): Promise<void> {
  request.body ??= {};
}

const NameParam = Type.Object({ name: Type.String() });
const IdParam = Type.Object({ id: Type.String() });
const STATUSES: ActivityStatus[] = ['Scheduled', 'Started', 'Completed', 'Canceled'];

export function controlRoutes(ctx: ControlContext) {
  return async function routes(base: FastifyInstance): Promise<void> {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    const c = ctx.controller;
    const tags = ['control'];

    app.get('/health', { schema: { tags } }, async () => ({
      ok: true,
      vms: c.fleet.list().length,
      activeEvents: c.list().filter((a) => a.status === 'Scheduled' || a.status === 'Started').length,
      timeScale: c.timeScale,
    }));

    const config = () => ({
      timeScale: c.timeScale,
      rateLimit: ctx.limiter.limit,
      etag: ctx.etag,
      enableDelayMs: ctx.enableDelayMs,
      strictApprovals: ctx.strictApprovals,
    });
    app.get('/config', { schema: { tags } }, async () => config());
    app.patch('/config', { schema: { tags, body: ConfigBody } }, async (req) => {
      // Validate every field before applying any.
      const enableDelay =
        req.body.enableDelay === undefined
          ? undefined
          : c.scaled(req.body.enableDelay, 'enableDelay') * c.timeScale;
      if (req.body.timeScale !== undefined) c.timeScale = req.body.timeScale;
      if (req.body.rateLimit !== undefined) ctx.limiter.limit = req.body.rateLimit;
      if (req.body.etag !== undefined) ctx.etag = req.body.etag;
      if (req.body.strictApprovals !== undefined) ctx.strictApprovals = req.body.strictApprovals;
      if (enableDelay !== undefined) ctx.enableDelayMs = enableDelay;
      return config();
    });

    app.get('/vms', { schema: { tags } }, async () => ({ vms: c.fleet.list() }));
    app.post('/vms', { schema: { tags, body: VmInput } }, async (req, reply) =>
      reply.code(201).send(c.fleet.add(req.body)),
    );
    app.get('/vms/:name', { schema: { tags, params: NameParam } }, async (req) =>
      c.fleet.require(req.params.name),
    );
    app.delete('/vms/:name', { schema: { tags, params: NameParam } }, async (req) => {
      const vm = c.fleet.require(req.params.name);
      c.removeVm(vm.name);
      ctx.faults.clear(vm.name);
      ctx.enabled.delete(vm.name);
      ctx.tokens.revoke(vm.name);
      return vm;
    });
    app.delete(
      '/vms/:name/tokens',
      {
        schema: {
          tags,
          params: NameParam,
          description:
            'Revokes every AWS IMDSv2 / Alibaba metadata session token of the VM: its next read with one gets 401, as after expiry.',
        },
      },
      async (req) => ({ revoked: ctx.tokens.revoke(c.fleet.require(req.params.name).name) }),
    );
    app.get(
      '/vms/:name/document',
      {
        schema: {
          tags,
          params: NameParam,
          querystring: Type.Object(
            { 'api-version': Type.Optional(Type.String()) },
            { additionalProperties: false },
          ),
          description: 'What the VM would read from Scheduled Events now, without faults or rate limits.',
        },
      },
      async (req) => {
        const vm = c.fleet.require(req.params.name);
        const version = scheduledEventsVersion(req.query['api-version'] ?? '2020-07-01');
        if (!version) throw new SimError(400, `api-version: unknown ${req.query['api-version']}`);
        return renderScheduledEvents(c.visibleTo(vm.name), c.incarnation(vm.name), version);
      },
    );
    for (const [path, type] of [
      ['reboot', 'Reboot'],
      ['redeploy', 'Redeploy'],
    ] as const) {
      app.post(
        `/vms/:name/${path}`,
        {
          schema: {
            tags,
            params: NameParam,
            body: UserActionBody,
            description: `A user-initiated ${type} (portal/CLI): EventSource User, waits for approval or NotBefore.`,
          },
          preValidation: emptyBodyIsObject,
        },
        async (req, reply) =>
          reply.code(201).send(activityView(c.userAction(req.params.name, type, req.body?.notice))),
      );
    }

    app.get(
      '/events',
      {
        schema: {
          tags,
          querystring: Type.Object(
            {
              status: Type.Optional(Type.Union(STATUSES.map((s) => Type.Literal(s)))),
              vm: Type.Optional(Type.String()),
            },
            { additionalProperties: false },
          ),
        },
      },
      async (req) => ({ events: c.list(req.query).map(activityView) }),
    );
    app.post('/events', { schema: { tags, body: ScheduleBody } }, async (req, reply) =>
      reply.code(201).send({ events: c.schedule(req.body).map(activityView) }),
    );
    app.get('/events/:id', { schema: { tags, params: IdParam } }, async (req) => {
      c.advance();
      return activityView(c.get(req.params.id));
    });
    app.post('/events/:id/start', { schema: { tags, params: IdParam } }, async (req) =>
      activityView(c.start(req.params.id)),
    );
    app.post('/events/:id/complete', { schema: { tags, params: IdParam } }, async (req) =>
      activityView(c.complete(req.params.id)),
    );
    app.post('/events/:id/cancel', { schema: { tags, params: IdParam } }, async (req) =>
      activityView(c.cancel(req.params.id)),
    );
    app.post(
      '/events/:id/reschedule',
      { schema: { tags, params: IdParam, body: RescheduleBody } },
      async (req) => activityView(c.reschedule(req.params.id, req.body)),
    );

    app.get(
      '/approvals',
      {
        schema: {
          tags,
          querystring: Type.Object({ event: Type.Optional(Type.String()) }, { additionalProperties: false }),
        },
      },
      async (req) => ({ approvals: c.approvals(req.query.event) }),
    );
    app.get(
      '/requests',
      {
        schema: {
          tags,
          querystring: Type.Object(
            {
              vm: Type.Optional(Type.String()),
              limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,4}$' })),
            },
            { additionalProperties: false },
          ),
        },
      },
      async (req) => ({
        requests: ctx.log.list({
          vm: req.query.vm,
          limit: req.query.limit ? Number(req.query.limit) : undefined,
        }),
      }),
    );

    app.get(
      '/pushes',
      { schema: { tags, description: 'Where cloud event pushes go (secrets hidden), and every push sent.' } },
      async () => ctx.pusher.view(),
    );
    app.put(
      '/pushes',
      {
        schema: {
          tags,
          body: PushTargets,
          description:
            'Replaces the push targets: Alibaba CloudMonitor ECS system events and AWS EventBridge events are posted there as activities move.',
        },
      },
      async (req) => {
        for (const format of PUSH_FORMATS) ctx.pusher.set(format, req.body[format]);
        return ctx.pusher.view();
      },
    );
    app.delete('/pushes', { schema: { tags } }, async () => {
      for (const format of PUSH_FORMATS) ctx.pusher.set(format, undefined);
      return ctx.pusher.view();
    });

    app.get('/faults', { schema: { tags } }, async () => ctx.faults.all());
    app.put('/faults', { schema: { tags, body: FaultSpec } }, async (req) => {
      ctx.faults.set(req.body);
      return ctx.faults.all();
    });
    app.delete(
      '/faults',
      {
        schema: {
          tags,
          description:
            "Clears the global fault spec (as a scenario's clearFaults: {}); ?all=true also every VM's.",
          querystring: Type.Object(
            { all: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) },
            { additionalProperties: false },
          ),
        },
      },
      async (req) => {
        if (req.query.all === 'true') ctx.faults.clearAll();
        else ctx.faults.clear();
        return ctx.faults.all();
      },
    );
    app.put('/vms/:name/faults', { schema: { tags, params: NameParam, body: FaultSpec } }, async (req) => {
      ctx.faults.set(req.body, c.fleet.require(req.params.name).name);
      return ctx.faults.all();
    });
    app.delete('/vms/:name/faults', { schema: { tags, params: NameParam } }, async (req) => {
      ctx.faults.clear(c.fleet.require(req.params.name).name);
      return ctx.faults.all();
    });

    app.post(
      '/reset',
      { schema: { tags, body: ResetBody }, preValidation: emptyBodyIsObject },
      async (req) => {
        ctx.player.reset();
        c.reset({ fleet: req.body?.fleet });
        ctx.faults.clearAll();
        ctx.limiter.reset();
        ctx.enabled.clear();
        ctx.tokens.revoke();
        ctx.pusher.reset();
        ctx.cloud.reset();
        ctx.log.clear();
        return { ok: true, vms: c.fleet.list().length };
      },
    );

    // The scenario body is checked by checkScenario (it names the bad field); the schema here documents it.
    app.post(
      '/scenario',
      { schema: { tags, description: 'Load and play a scenario (the JSON form of a scenario YAML file).' } },
      async (req, reply) => reply.code(201).send(ctx.player.load(req.body)),
    );
    app.get('/scenario', { schema: { tags } }, async () => ctx.player.status() ?? { name: null, steps: [] });
    app.get('/scenario/schema', { schema: { tags } }, async () => ScenarioDocument);
  };
}
