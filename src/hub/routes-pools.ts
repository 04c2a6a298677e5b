// GET /api/v1/pools: each pool's budget, who holds its slots, and which steps wait (for a slot, a
// window or a blocker); steps held on VMs of no pool are listed apart.
import type { FastifyInstance } from 'fastify';
import type { Store } from '../store/store.js';
import type { Authenticator } from './auth.js';
import type { Budgets } from './budgets.js';
import { guard } from './routes-agents.js';

export function poolRoutes(ctx: { store: Store; auth: Authenticator; budgets: Budgets; now: () => number }) {
  return async function routes(app: FastifyInstance): Promise<void> {
    app.get(
      '/api/v1/pools',
      {
        onRequest: guard(ctx.auth, 'read'),
        schema: { tags: ['read'], description: 'pool budgets and their slots' },
      },
      async () => {
        const now = new Date(ctx.now()).toISOString();
        const slots = await ctx.store.listSlots(now);
        const pending = await ctx.store.listSteps({ status: 'pending', limit: 1000 });
        const heldSteps = pending.filter((s) => s.heldReason);
        const poolsOf = new Map<string, string[]>();
        for (const s of heldSteps)
          if (!poolsOf.has(s.vm))
            poolsOf.set(
              s.vm,
              (await ctx.budgets.poolsOf(s.vm)).map((p) => p.name),
            );
        const view = (s: (typeof heldSteps)[number]) => ({
          vm: s.vm,
          eventKey: s.eventKey,
          step: s.name,
          rule: s.rule,
          reason: s.heldReason!,
          nextCheck: s.dueAt,
        });
        const pools = [];
        for (const pool of ctx.budgets.pools) {
          const held = heldSteps.filter((s) => poolsOf.get(s.vm)!.includes(pool.name)).map(view);
          pools.push({
            name: pool.name,
            maxUnavailable: pool.maxUnavailable,
            max: await ctx.budgets.maxOf(pool),
            inUse: slots.filter((s) => s.pool === pool.name),
            held,
          });
        }
        // Held by a rule's window or blockers, on VMs of no pool.
        const outsidePools = heldSteps.filter((s) => poolsOf.get(s.vm)!.length === 0).map(view);
        return { pools, outsidePools };
      },
    );
  };
}
