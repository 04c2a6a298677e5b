// Pool budgets (kured's lock, drainsafe's coordination, across a whole fleet): a pool of VMs
// (an availability set, scale set, LB backend or tag) may have at most `maxUnavailable` of them
// out of service at once. A disruptive step takes a slot for its (VM, event) first and keeps it
// until the event is over (completed/canceled) or the slot expires. When the pool is full the
// step is held and looked at again, but never past the last safe moment: the cloud acts at
// NotBefore anyway, so `forceBefore` ahead of it the step runs over budget and an alert goes out.
import { Type, type Static } from '@sinclair/typebox';
import { parseDuration } from '../core/time.js';
import type { SlotRow, StepRow, Store } from '../store/store.js';
import type { Windows } from './windows.js';
import { glob } from './glob.js';

export const Pool = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }),
    match: Type.Object(
      {
        vms: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: "VM names; '*' globs" })),
        tags: Type.Optional(
          Type.Record(Type.String(), Type.String(), {
            description: 'VM tags (heartbeat identity) that must all match',
          }),
        ),
      },
      { additionalProperties: false },
    ),
    maxUnavailable: Type.Union([Type.Integer({ minimum: 1 }), Type.String({ pattern: '^[0-9]{1,3}%$' })], {
      description: "a count, or a percentage of the pool's known VMs (at least 1)",
    }),
    leaseTimeout: Type.Optional(Type.String({ description: 'a slot expires after this long (default 1h)' })),
    forceBefore: Type.Optional(
      Type.String({ description: 'a held step runs over budget this long before NotBefore (default 2m)' }),
    ),
  },
  { additionalProperties: false },
);
export type PoolT = Static<typeof Pool>;

/** What holds a step: its pool's budget, its rule's window, or a failing blocker. */
export type HoldCause = 'budget' | 'window' | 'blocker';

export type Gate =
  | { kind: 'run'; pools: string[] }
  | { kind: 'hold'; until: string; reason: string; cause: HoldCause }
  | { kind: 'force'; reason: string; cause: HoldCause };

const DEFAULT_FORCE_BEFORE = '2m';

/** How often a held step looks again (a freed slot also wakes the executor). */
export const HOLD_RECHECK_MS = 2000;

export function poolMatches(pool: PoolT, vm: string, tags: Record<string, string>): boolean {
  const m = pool.match;
  if (m.vms && !m.vms.some((p) => glob(p, vm))) return false;
  return Object.entries(m.tags ?? {}).every(([k, v]) => tags[k] === v);
}

/** Checks durations at load, so a typo fails when the hub starts. */
export function checkPools(pools: PoolT[]): void {
  const names = new Set<string>();
  pools.forEach((p, i) => {
    if (names.has(p.name)) throw new Error(`/pools/${i}/name: pool ${p.name} appears twice`);
    names.add(p.name);
    for (const field of ['leaseTimeout', 'forceBefore'] as const) {
      const v = p[field];
      if (v === undefined) continue;
      try {
        parseDuration(v);
      } catch (err) {
        throw new Error(`/pools/${i}/${field}: ${(err as Error).message}`);
      }
    }
  });
}

export class Budgets {
  private vmCache?: { at: number; vms: { name: string; tags: Record<string, string> }[] };

  constructor(
    readonly pools: PoolT[],
    private readonly store: Store,
    private readonly now: () => number,
    /** Rules' maintenance windows and blockers (src/hub/windows.ts), checked before the budget. */
    private readonly windows?: Windows,
  ) {
    checkPools(pools);
  }

  /** Known VMs with their tags (cached briefly: percentages need the pool's size). */
  private async vms(): Promise<{ name: string; tags: Record<string, string> }[]> {
    if (this.vmCache && this.now() - this.vmCache.at < 10_000) return this.vmCache.vms;
    const vms = (await this.store.listVms()).map((v) => ({
      name: v.name,
      tags: ((v.identity as { tags?: Record<string, string> }).tags ?? {}) as Record<string, string>,
    }));
    this.vmCache = { at: this.now(), vms };
    return vms;
  }

  async poolsOf(vm: string): Promise<PoolT[]> {
    if (!this.pools.length) return [];
    const tags = (await this.vms()).find((v) => v.name === vm)?.tags ?? {};
    return this.pools.filter((p) => poolMatches(p, vm, tags));
  }

  async maxOf(pool: PoolT): Promise<number> {
    if (typeof pool.maxUnavailable === 'number') return pool.maxUnavailable;
    const size = (await this.vms()).filter((v) => poolMatches(pool, v.name, v.tags)).length;
    return Math.max(1, Math.floor((size * Number.parseInt(pool.maxUnavailable, 10)) / 100));
  }

  /**
   * May this disruptive step of (vm, event) run now? First its rule's window and blockers, then
   * the budget: takes the slots it needs (all or none).
   */
  async gate(step: StepRow, vm: string, eventKey: string, rule?: string): Promise<Gate> {
    const pools = await this.poolsOf(vm);
    const now = this.now();
    const deadline = step.deadline ? Date.parse(step.deadline) : undefined;
    let forced: string | undefined;
    const closed = rule && this.windows ? await this.windows.closed(rule) : undefined;
    if (closed) {
      // The same last safe moment as a full pool: the largest forceBefore of the VM's pools.
      const before = Math.max(
        ...[...pools.map((p) => p.forceBefore ?? DEFAULT_FORCE_BEFORE), DEFAULT_FORCE_BEFORE].map(
          parseDuration,
        ),
      );
      const forceAt = deadline === undefined ? undefined : deadline - before;
      if (forceAt === undefined || now < forceAt) {
        const until = Math.min(closed.recheckAt, forceAt ?? Number.POSITIVE_INFINITY);
        return {
          kind: 'hold',
          until: new Date(until).toISOString(),
          reason: closed.reason,
          cause: closed.cause,
        };
      }
      forced = `${closed.reason}; NotBefore ${step.deadline} is near, running anyway`;
    }
    const result = await this.takeSlots(step, vm, eventKey, pools, now, deadline);
    if (forced && result.kind === 'run') return { kind: 'force', reason: forced, cause: closed!.cause };
    return result;
  }

  private async takeSlots(
    step: StepRow,
    vm: string,
    eventKey: string,
    pools: PoolT[],
    now: number,
    deadline: number | undefined,
  ): Promise<Gate> {
    if (!pools.length) return { kind: 'run', pools: [] };
    const iso = new Date(now).toISOString();
    const taken: string[] = [];
    for (const pool of pools) {
      const expires = new Date(now + parseDuration(pool.leaseTimeout ?? '1h')).toISOString();
      const max = await this.maxOf(pool);
      const answer = await this.store.acquireSlot({ pool: pool.name, vm, eventKey }, max, iso, expires);
      if (answer.ok) {
        if (answer.slot.acquiredAt === iso) taken.push(pool.name); // new now, not held from before
        continue;
      }
      const reason = `pool ${pool.name} is full (${max} unavailable at most): ${describe(answer.holders)}`;
      const forceAt =
        deadline === undefined
          ? undefined
          : deadline - parseDuration(pool.forceBefore ?? DEFAULT_FORCE_BEFORE);
      if (forceAt !== undefined && now >= forceAt) {
        // NotBefore is near: the platform will act anyway. Better drained over budget than not at all.
        await this.store.acquireSlot(
          { pool: pool.name, vm, eventKey },
          Number.MAX_SAFE_INTEGER,
          iso,
          expires,
        );
        return {
          kind: 'force',
          reason: `${reason}; NotBefore ${step.deadline} is near, running over budget`,
          cause: 'budget',
        };
      }
      // All or none: give back what this call took, so a half-admitted VM blocks nobody.
      for (const p of taken) await this.store.releaseSlots(eventKey, vm, p);
      const until = Math.min(now + HOLD_RECHECK_MS, forceAt ?? Number.POSITIVE_INFINITY);
      return { kind: 'hold', until: new Date(until).toISOString(), reason, cause: 'budget' };
    }
    return { kind: 'run', pools: pools.map((p) => p.name) };
  }
}

function describe(holders: SlotRow[]): string {
  return holders.map((h) => `${h.vm} (${h.eventKey}, since ${h.acquiredAt})`).join(', ') || 'nobody';
}
