// GET /api/v1/pools: each pool's budget, who holds its slots, and which steps wait for one.
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
        preHandler: guard(ctx.auth, 'read'),
        schema: { tags: ['read'], description: 'pool budgets and their slots' },
      },
      async () => {
        const now = new Date(ctx.now()).toISOString();
        const slots = await ctx.store.listSlots(now);
        const pending = await ctx.store.listSteps({ status: 'pending', limit: 1000 });
        const pools = [];
        for (const pool of ctx.budgets.pools) {
          const held = [];
          for (const s of pending) {
            if (!s.heldReason || !(await ctx.budgets.poolsOf(s.vm)).some((p) => p.name === pool.name))
              continue;
            held.push({
              vm: s.vm,
              eventKey: s.eventKey,
              step: s.name,
              rule: s.rule,
              reason: s.heldReason,
              nextCheck: s.dueAt,
            });
          }
          pools.push({
            name: pool.name,
            maxUnavailable: pool.maxUnavailable,
            max: await ctx.budgets.maxOf(pool),
            inUse: slots.filter((s) => s.pool === pool.name),
            held,
          });
        }
        return { pools };
      },
    );
  };
}
