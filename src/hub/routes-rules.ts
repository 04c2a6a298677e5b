// Rules (list, put, delete, test-explain) and the executor's side: runs, steps, dead-letter, redrive.
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { PROVIDERS, SCHEDULE_PROVIDER, TRANSITIONS, type Transition } from '../core/event.js';
import { redactRule } from '../actions/secrets.js';
import type { Store } from '../store/store.js';
import type { Authenticator } from './auth.js';
import { TransitionData } from './ingest-parse.js';
import { actorOf, guard, principalOf } from './routes-agents.js';
import type { RuleBook } from './rulebook.js';
import { explain, RuleError, type RuleT } from './rules.js';
import { timerTargets } from './scheduler.js';
import { nextSlot } from './schedules.js';

export interface RulesContext {
  store: Store;
  auth: Authenticator;
  rules: RuleBook;
  now: () => number;
  onRedrive: () => void;
}

const Enum = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));
const Page = {
  limit: Type.Optional(
    Type.String({ pattern: '^(?:[1-9]\\d{0,2}|1000)$', description: 'at most 1000 (default 200)' }),
  ),
  offset: Type.Optional(Type.String({ pattern: '^\\d{1,9}$' })),
};
const page = (q: { limit?: string; offset?: string }) => ({
  limit: q.limit ? Number(q.limit) : 200,
  offset: q.offset ? Number(q.offset) : 0,
});

/** What POST /rules/test explains: an event as agents send it, or one of the hub's timer firings. */
const TestEvent = Type.Object(
  { ...TransitionData.properties, provider: Enum([...PROVIDERS, SCHEDULE_PROVIDER]) },
  { additionalProperties: false },
);

/** How many upcoming slots /rules/test lists for a timer rule. */
const NEXT_SLOTS = 5;

/** A timer rule's plan from now: its next slots and the VMs it would fire for today. */
async function timerPlan(store: Store, rule: RuleT, now: number) {
  const s = rule.schedule!;
  const next: string[] = [];
  for (let at = now; next.length < NEXT_SLOTS;) {
    const slot = nextSlot(s, at);
    if (slot === undefined) break;
    next.push(new Date(slot).toISOString());
    at = slot;
  }
  return { cron: s.cron, timezone: s.timezone ?? 'UTC', next, vms: await timerTargets(store, s) };
}

export function rulesRoutes(ctx: RulesContext) {
  return async function routes(base: FastifyInstance): Promise<void> {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    const iso = () => new Date(ctx.now()).toISOString();
    const tags = ['rules'];

    app.get('/api/v1/rules', { schema: { tags }, onRequest: guard(ctx.auth, 'read') }, async () => ({
      // Inline secret-looking values never leave the hub; {env}/{file} references are shown as written.
      rules: ctx.rules.all().map((r) => ({
        ...redactRule(r),
        source: ctx.rules.source(r.name),
        counts: ctx.rules.counts.get(r.name) ?? { matched: 0, evaluated: 0 },
      })),
    }));

    app.put(
      '/api/v1/rules/:name',
      {
        schema: {
          tags,
          params: Type.Object({ name: Type.String() }),
          description: 'Create or replace an API rule (admin).',
        },
        onRequest: guard(ctx.auth, 'admin'),
      },
      async (req, reply) => {
        const body = req.body as { name?: unknown } | undefined;
        if (!body || typeof body !== 'object' || body.name !== req.params.name) {
          return reply.code(400).send({
            error: 'Bad Request',
            message: `/name: must equal the URL's rule name ${req.params.name}`,
          });
        }
        try {
          const rule = await ctx.rules.put(body, iso());
          await ctx.store.audit({
            at: iso(),
            actor: actorOf(principalOf(req)),
            action: 'rule.put',
            subject: `rule:${rule.name}`,
            detail: redactRule(rule),
          });
          return redactRule(rule);
        } catch (err) {
          if (err instanceof RuleError)
            return reply.code(400).send({ error: 'Bad Request', message: err.message });
          throw err;
        }
      },
    );

    app.delete(
      '/api/v1/rules/:name',
      {
        schema: { tags, params: Type.Object({ name: Type.String() }) },
        onRequest: guard(ctx.auth, 'admin'),
      },
      async (req, reply) => {
        try {
          if (!(await ctx.rules.remove(req.params.name)))
            return reply.code(404).send({ error: 'Not Found', message: `no API rule ${req.params.name}` });
        } catch (err) {
          if (err instanceof RuleError)
            return reply.code(409).send({ error: 'Conflict', message: err.message });
          throw err;
        }
        await ctx.store.audit({
          at: iso(),
          actor: actorOf(principalOf(req)),
          action: 'rule.delete',
          subject: `rule:${req.params.name}`,
          detail: null,
        });
        return { ok: true };
      },
    );

    app.post(
      '/api/v1/rules/test',
      {
        schema: {
          tags,
          description:
            'Explains, clause by clause, why an event matches each rule (or the given one) or not.',
          body: Type.Object(
            {
              event: TestEvent,
              transition: Type.Optional(Enum(TRANSITIONS)),
              vm: Type.Optional(Type.String()),
              tags: Type.Optional(Type.Record(Type.String(), Type.String())),
              rule: Type.Optional(Type.Unknown({ description: 'a rule to test instead of the loaded ones' })),
            },
            { additionalProperties: false },
          ),
        },
        onRequest: guard(ctx.auth, 'read'),
      },
      async (req, reply) => {
        const { event, rule } = req.body;
        let candidates = ctx.rules.all();
        if (rule !== undefined) {
          try {
            candidates = [ctx.rules.check(rule, '/rule')];
          } catch (err) {
            if (err instanceof RuleError)
              return reply.code(400).send({ error: 'Bad Request', message: err.message });
            throw err;
          }
        }
        const transition = (req.body.transition ?? 'scheduled') as Transition;
        const vm = req.body.vm ?? event.resources[0] ?? event.vm;
        return {
          results: await Promise.all(
            candidates.map(async (r) => ({
              rule: r.name,
              ...explain(r, {
                transition,
                vm,
                vmTags: req.body.tags ?? {},
                event: { ...event, vm, transition },
              }),
              // A timer rule matches only its own firings: say when those come, and for whom.
              ...(r.schedule ? { timer: await timerPlan(ctx.store, r, ctx.now()) } : {}),
            })),
          ),
        };
      },
    );

    const Status = Enum(['pending', 'running', 'succeeded', 'dead', 'skipped']);
    app.get(
      '/api/v1/steps',
      {
        schema: {
          tags: ['runs'],
          querystring: Type.Object(
            { status: Type.Optional(Status), event: Type.Optional(Type.String()), ...Page },
            { additionalProperties: false },
          ),
        },
        onRequest: guard(ctx.auth, 'read'),
      },
      async (req) => ({
        steps: (
          await ctx.store.listSteps({
            status: req.query.status as never,
            eventKey: req.query.event,
            ...page(req.query),
          })
        ).map(({ params: _p, ...s }) => s),
      }),
    );
    app.get(
      '/api/v1/steps/:id',
      {
        schema: { tags: ['runs'], params: Type.Object({ id: Type.String({ pattern: '^\\d{1,12}$' }) }) },
        onRequest: guard(ctx.auth, 'read'),
      },
      async (req, reply) => {
        const id = Number(req.params.id);
        const step = await ctx.store.getStep(id);
        if (!step) return reply.code(404).send({ error: 'Not Found', message: `no step ${id}` });
        const { params: _p, ...rest } = step;
        return { step: rest, attempts: await ctx.store.attemptsOf(id) };
      },
    );
    app.get(
      '/api/v1/dead-letter',
      {
        schema: { tags: ['runs'], querystring: Type.Object(Page, { additionalProperties: false }) },
        onRequest: guard(ctx.auth, 'read'),
      },
      async (req) => ({
        steps: (await ctx.store.listSteps({ status: 'dead', ...page(req.query) })).map(
          ({ params: _p, ...s }) => s,
        ),
      }),
    );
    app.post(
      '/api/v1/dead-letter/redrive',
      {
        schema: {
          tags: ['runs'],
          body: Type.Object(
            {
              ids: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1, maxItems: 10_000 })),
            },
            { additionalProperties: false },
          ),
          description: 'Redrive the given dead steps, or all (operate role).',
        },
        onRequest: guard(ctx.auth, 'operate'),
      },
      async (req) => {
        const redriven = await ctx.store.redrive(req.body.ids, iso());
        await ctx.store.audit({
          at: iso(),
          actor: actorOf(principalOf(req)),
          action: 'dead-letter.redrive',
          subject: 'dead-letter',
          detail: { ids: req.body.ids ?? 'all', redriven },
        });
        ctx.onRedrive();
        return { redriven };
      },
    );
  };
}
