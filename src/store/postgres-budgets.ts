// Pool budgets in PostgreSQL: at most N VMs of a pool out of service at once, across every
// replica. A slot is taken under a transaction-scoped advisory lock per pool, so two replicas
// deciding for the same pool at the same moment take turns (the rule is then SQLite's exactly).
import { PostgresRuns } from './postgres-runs.js';
import { toSlot } from './rows.js';
import type { SlotAnswer, SlotRow } from './store.js';

export class PostgresBudgets extends PostgresRuns {
  /** Takes a slot of `pool` for (vm, event) if fewer than `max` VMs hold one, or renews its own. */
  async acquireSlot(
    slot: { pool: string; vm: string; eventKey: string },
    max: number,
    now: string,
    expiresAt: string,
  ): Promise<SlotAnswer> {
    return this.tx(async (c): Promise<SlotAnswer> => {
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`forewarn_pool:${slot.pool}`]);
      await this.q('DELETE FROM pool_slots WHERE pool = $1 AND expires_at <= $2', [slot.pool, now], c);
      const mine = await this.q(
        `UPDATE pool_slots SET expires_at = GREATEST(expires_at, $1) WHERE pool = $2 AND vm = $3 AND event_key = $4 RETURNING pool`,
        [expiresAt, slot.pool, slot.vm, slot.eventKey],
        c,
      );
      const held = (
        await this.q('SELECT * FROM pool_slots WHERE pool = $1 ORDER BY acquired_at', [slot.pool], c)
      ).map(toSlot);
      if (mine.length === 1)
        return { ok: true, slot: held.find((h) => h.vm === slot.vm && h.eventKey === slot.eventKey)! };
      // One VM counts once, whichever of its events holds the slot.
      if (!held.some((h) => h.vm === slot.vm) && new Set(held.map((h) => h.vm)).size >= max)
        return { ok: false, holders: held };
      await this.q(
        'INSERT INTO pool_slots (pool, vm, event_key, acquired_at, expires_at) VALUES ($1, $2, $3, $4, $5)',
        [slot.pool, slot.vm, slot.eventKey, now, expiresAt],
        c,
      );
      return { ok: true, slot: { ...slot, acquiredAt: now, expiresAt } };
    });
  }

  /** Frees the slots an event holds (for one VM or all, in one pool or all); returns how many. */
  async releaseSlots(eventKey: string, vm?: string, pool?: string): Promise<number> {
    return (
      await this.q(
        'DELETE FROM pool_slots WHERE event_key = $1 AND ($2::text IS NULL OR vm = $2) AND ($3::text IS NULL OR pool = $3) RETURNING pool',
        [eventKey, vm ?? null, pool ?? null],
      )
    ).length;
  }

  /** Unexpired slots, by pool. */
  async listSlots(now: string, pool?: string): Promise<SlotRow[]> {
    return (
      await this.q(
        'SELECT * FROM pool_slots WHERE expires_at > $1 AND ($2::text IS NULL OR pool = $2) ORDER BY pool, acquired_at',
        [now, pool ?? null],
      )
    ).map(toSlot);
  }

  /** A claimed step goes back to pending until `dueAt` without counting an attempt (held by budget). */
  async holdStep(stepId: number, dueAt: string, reason: string, now: string): Promise<void> {
    await this.q(
      `UPDATE steps SET status = 'pending', attempts = GREATEST(attempts - 1, 0), lease_until = NULL, due_at = $1,
         held_reason = $2, updated_at = $3 WHERE id = $4 AND status = 'running'`,
      [dueAt, reason, now, stepId],
    );
  }
}
