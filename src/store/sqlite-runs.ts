// Runs, steps and attempts in SQLite: the durable half of the planner → executor hand-off.
// SqliteStore extends this class, so both share one connection and one file.
import type Database from 'better-sqlite3';
import type {
  AttemptRow,
  AuditEntry,
  ClaimedStep,
  FinishedAttempt,
  NewStep,
  PlannedRun,
  SlotAnswer,
  SlotRow,
  RunRow,
  RunStore,
  StepOutcome,
  StepRow,
  StepStatus,
} from './store.js';
import { opt, toAttempt, toRun, toSlot, toStep, toStepWithRun, type Row } from './rows.js';

/** Runs with their snapshot: shared per trigger (run_snapshots), or their own (older rows). */
const RUNS = `SELECT r.key, r.rule, r.event_key, r.vm, r.phase, r.trigger_transition_id, r.created_at,
  COALESCE(r.snapshot, s.snapshot) AS snapshot FROM runs r LEFT JOIN run_snapshots s ON s.transition_id = r.trigger_transition_id`;

export class SqliteRuns implements RunStore {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(readonly db: Database.Database) {}

  /** Prepared once per SQL text: compiling SQL was a fifth of the hub's CPU under load. */
  protected sql(text: string): Database.Statement {
    let stmt = this.statements.get(text);
    if (!stmt) {
      stmt = this.db.prepare(text);
      this.statements.set(text, stmt);
    }
    return stmt;
  }

  /** Inside a transaction: the run, its steps and its audit entry; false if the run key exists. */
  private insertRun(
    run: RunRow,
    steps: NewStep[],
    audit?: Omit<AuditEntry, 'id'>,
    snapshotted = new Set<number>(),
  ): boolean {
    if (run.snapshot && !snapshotted.has(run.triggerTransitionId)) {
      this.sql(
        'INSERT INTO run_snapshots (transition_id, snapshot) VALUES (?, ?) ON CONFLICT(transition_id) DO NOTHING',
      ).run(run.triggerTransitionId, JSON.stringify(run.snapshot));
      snapshotted.add(run.triggerTransitionId);
    }
    const inserted = this.sql(
      'INSERT INTO runs (key, rule, event_key, vm, phase, trigger_transition_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING',
    ).run(run.key, run.rule, run.eventKey, run.vm, run.phase, run.triggerTransitionId, run.createdAt);
    if (inserted.changes === 0) return false;
    const add = this.sql(
      `INSERT INTO steps (run_key, idx, name, action, params, lead_ms, timeout_ms, max_attempts, max_backoff_ms, run_after_deadline,
       status, due_at, deadline, idempotency_key, updated_at, disruptive) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)`,
    );
    for (const s of steps) {
      add.run(
        run.key,
        s.idx,
        s.name,
        s.action,
        JSON.stringify(s.params),
        s.leadMs ?? null,
        s.timeoutMs,
        s.maxAttempts,
        s.maxBackoffMs,
        s.runAfterDeadline ? 1 : 0,
        s.dueAt,
        s.deadline ?? null,
        s.idempotencyKey,
        run.createdAt,
        s.disruptive ? 1 : 0,
      );
    }
    if (audit) {
      this.sql('INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)').run(
        audit.at,
        audit.actor,
        audit.action,
        audit.subject,
        audit.detail === undefined ? null : JSON.stringify(audit.detail),
      );
    }
    return true;
  }

  async createRun(run: RunRow, steps: NewStep[], audit?: Omit<AuditEntry, 'id'>): Promise<boolean> {
    return this.db.transaction(() => this.insertRun(run, steps, audit))();
  }

  async commitPlan(runs: PlannedRun[], planned: number[], _at: string): Promise<boolean[]> {
    // The planner hands over the lowest unplanned transitions, in order: the cursor moves past them.
    const last = planned.length ? Math.max(...planned) : undefined;
    return this.db.transaction(() => {
      const snapshotted = new Set<number>();
      const created = runs.map((r) => this.insertRun(r.run, r.steps, r.audit, snapshotted));
      if (last !== undefined) this.sql('UPDATE plan_cursor SET id = MAX(id, ?)').run(last);
      return created;
    })();
  }

  async getRun(key: string): Promise<RunRow | undefined> {
    const r = this.sql(`${RUNS} WHERE r.key = ?`).get(key) as Row | undefined;
    return r ? toRun(r) : undefined;
  }

  async runsForEvent(
    eventKey: string,
    filter: { vm?: string; phase?: 'do' | 'undo' } = {},
  ): Promise<RunRow[]> {
    const rows = this.sql(
      `${RUNS} WHERE r.event_key = ? AND (? IS NULL OR r.vm = ?) AND (? IS NULL OR r.phase = ?) ORDER BY r.created_at, r.key`,
    ).all(
      eventKey,
      filter.vm ?? null,
      filter.vm ?? null,
      filter.phase ?? null,
      filter.phase ?? null,
    ) as Row[];
    return rows.map((r) => toRun(r));
  }

  async stepsOfRun(runKey: string): Promise<StepRow[]> {
    return (this.sql('SELECT * FROM steps WHERE run_key = ? ORDER BY idx').all(runKey) as Row[]).map(toStep);
  }

  async retimePending(runKey: string, notBefore: string | undefined, now: string): Promise<number> {
    return this.db.transaction(() => {
      let n = 0;
      const steps = this.sql(`SELECT * FROM steps WHERE run_key = ? AND status = 'pending'`).all(
        runKey,
      ) as Row[];
      const upd = this.sql('UPDATE steps SET due_at = ?, deadline = ?, updated_at = ? WHERE id = ?');
      for (const r of steps) {
        const lead = opt<number>(r.lead_ms);
        const due =
          lead === undefined || !notBefore
            ? (r.due_at as string)
            : new Date(Math.max(Date.parse(now), Date.parse(notBefore) - lead)).toISOString();
        upd.run(due, notBefore ?? null, now, r.id);
        n++;
      }
      return n;
    })();
  }

  async skipPending(runKey: string, reason: string, now: string): Promise<number> {
    return this.sql(
      `UPDATE steps SET status = 'skipped', dead_reason = ?, updated_at = ?, finished_at = ? WHERE run_key = ? AND status = 'pending'`,
    ).run(reason, now, now, runKey).changes;
  }

  /**
   * Runs `fn` in a transaction that is not fsync'd on its own (WAL, synchronous=NORMAL): for
   * writes whose loss in a power cut is harmless. The next durable commit syncs them too. Inside
   * an open transaction (the writer thread's shared commit) it is simply part of that one.
   */
  private relaxed<T>(fn: () => T): T {
    if (this.db.inTransaction) return this.db.transaction(fn)();
    const level = this.db.pragma('synchronous', { simple: true }) as number;
    if (level < 2) return this.db.transaction(fn)();
    this.db.pragma('synchronous = NORMAL');
    try {
      return this.db.transaction(fn)();
    } finally {
      this.db.pragma(`synchronous = ${level}`);
    }
  }

  // A claim lost in a power cut leaves its step pending, and it runs again: receivers dedupe on
  // the idempotency key, as after any crash mid-attempt. So claims skip the fsync (relaxed);
  // finished attempts, which keep a succeeded step from ever running again, do not.
  async claimDue(now: string, leaseMs: number, limit: number): Promise<ClaimedStep[]> {
    return this.relaxed(() => {
      const rows = this.sql(
        `SELECT s.* FROM steps s WHERE s.status = 'pending' AND s.due_at <= ?
             AND (s.idx = 0 OR EXISTS (SELECT 1 FROM steps p WHERE p.run_key = s.run_key AND p.idx = s.idx - 1 AND p.status = 'succeeded'))
           ORDER BY s.due_at, s.id LIMIT ?`,
      ).all(now, limit) as Row[];
      const claim = this.sql(
        `UPDATE steps SET status = 'running', lease_until = ?, attempts = attempts + 1, updated_at = ? WHERE id = ? AND status = 'pending'`,
      );
      const runOf = this.sql(`${RUNS} WHERE r.key = ?`);
      const runs = new Map<string, RunRow | undefined>();
      const parsed = new Map<string, unknown>(); // runs of one trigger share one snapshot object
      const claimed: ClaimedStep[] = [];
      for (const r of rows) {
        // The lease outlives the step's own timeout by `leaseMs`, so a live attempt is never reaped.
        const lease = new Date(Date.parse(now) + (r.timeout_ms as number) + leaseMs).toISOString();
        if (claim.run(lease, now, r.id).changes !== 1) continue;
        const key = r.run_key as string;
        if (!runs.has(key)) {
          const run = runOf.get(key) as Row | undefined;
          runs.set(key, run ? toRun(run, parsed) : undefined);
        }
        claimed.push({
          ...toStep(r),
          status: 'running',
          leaseUntil: lease,
          attempts: (r.attempts as number) + 1,
          run: runs.get(key),
        });
      }
      return claimed;
    });
  }

  private writeAttempt(
    stepId: number,
    a: Omit<AttemptRow, 'id' | 'stepId'>,
    o: StepOutcome,
    now: string,
  ): void {
    this.sql(
      'INSERT INTO attempts (step_id, n, started_at, finished_at, ok, retryable, status, detail, output) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(
      stepId,
      a.n,
      a.startedAt,
      a.finishedAt,
      a.ok ? 1 : 0,
      a.retryable === undefined ? null : a.retryable ? 1 : 0,
      a.status ?? null,
      a.detail,
      a.output === undefined ? null : JSON.stringify(a.output),
    );
    const final = o.status === 'succeeded' || o.status === 'dead';
    this.sql(
      `UPDATE steps SET status = ?, due_at = COALESCE(?, due_at), lease_until = NULL, last_error = ?, dead_reason = ?, updated_at = ?, finished_at = ?, held_reason = NULL WHERE id = ?`,
    ).run(
      o.status,
      o.dueAt ?? null,
      o.lastError ?? null,
      o.deadReason ?? null,
      now,
      final ? now : null,
      stepId,
    );
  }

  async finishAttempt(
    stepId: number,
    a: Omit<AttemptRow, 'id' | 'stepId'>,
    o: StepOutcome,
    now: string,
  ): Promise<void> {
    this.db.transaction(() => this.writeAttempt(stepId, a, o, now))();
  }

  async finishAttempts(items: FinishedAttempt[], now: string): Promise<void> {
    this.db.transaction(() => {
      for (const i of items) this.writeAttempt(i.stepId, i.attempt, i.outcome, now);
    })();
  }

  async reapExpired(now: string): Promise<number> {
    return this.sql(
      `UPDATE steps SET status = 'pending', lease_until = NULL, last_error = 'interrupted: its hub stopped mid-attempt', updated_at = ? WHERE status = 'running' AND lease_until < ?`,
    ).run(now, now).changes;
  }

  async getStep(id: number) {
    const r = this.sql(
      'SELECT s.*, r.rule, r.event_key, r.vm, r.phase FROM steps s JOIN runs r ON r.key = s.run_key WHERE s.id = ?',
    ).get(id) as Row | undefined;
    return r ? toStepWithRun(r) : undefined;
  }

  async listSteps(filter: { status?: StepStatus; eventKey?: string; limit?: number; offset?: number }) {
    const rows = this.sql(
      `SELECT s.*, r.rule, r.event_key, r.vm, r.phase FROM steps s JOIN runs r ON r.key = s.run_key
         WHERE (? IS NULL OR s.status = ?) AND (? IS NULL OR r.event_key = ?) ORDER BY s.updated_at DESC, s.id DESC LIMIT ? OFFSET ?`,
    ).all(
      filter.status ?? null,
      filter.status ?? null,
      filter.eventKey ?? null,
      filter.eventKey ?? null,
      filter.limit ?? 200,
      filter.offset ?? 0,
    ) as Row[];
    return rows.map(toStepWithRun);
  }

  async attemptsOf(stepId: number): Promise<AttemptRow[]> {
    return (this.sql('SELECT * FROM attempts WHERE step_id = ? ORDER BY n, id').all(stepId) as Row[]).map(
      toAttempt,
    );
  }

  async redrive(ids: number[] | undefined, now: string): Promise<number> {
    const sql = `UPDATE steps SET status = 'pending', attempts = 0, due_at = ?, dead_reason = NULL, finished_at = NULL, run_after_deadline = 1, updated_at = ? WHERE status = 'dead'`;
    if (!ids) return this.sql(sql).run(now, now).changes;
    const one = this.sql(`${sql} AND id = ?`);
    return this.db.transaction(() => ids.reduce((n, id) => n + one.run(now, now, id).changes, 0))();
  }

  async nextDue(): Promise<string | undefined> {
    const r = this.sql(`SELECT MIN(due_at) AS due FROM steps WHERE status = 'pending'`).get() as {
      due: string | null;
    };
    return r.due ?? undefined;
  }

  async acquireSlot(
    slot: { pool: string; vm: string; eventKey: string },
    max: number,
    now: string,
    expiresAt: string,
  ): Promise<SlotAnswer> {
    return this.db.transaction((): SlotAnswer => {
      this.sql('DELETE FROM pool_slots WHERE pool = ? AND expires_at <= ?').run(slot.pool, now);
      const mine = this.sql(
        'UPDATE pool_slots SET expires_at = MAX(expires_at, ?) WHERE pool = ? AND vm = ? AND event_key = ?',
      ).run(expiresAt, slot.pool, slot.vm, slot.eventKey);
      const held = (
        this.sql('SELECT * FROM pool_slots WHERE pool = ? ORDER BY acquired_at').all(slot.pool) as Row[]
      ).map(toSlot);
      if (mine.changes === 1)
        return { ok: true, slot: held.find((h) => h.vm === slot.vm && h.eventKey === slot.eventKey)! };
      // One VM counts once, whichever of its events holds the slot.
      if (!held.some((h) => h.vm === slot.vm) && new Set(held.map((h) => h.vm)).size >= max)
        return { ok: false, holders: held };
      this.sql(
        'INSERT INTO pool_slots (pool, vm, event_key, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?)',
      ).run(slot.pool, slot.vm, slot.eventKey, now, expiresAt);
      return { ok: true, slot: { ...slot, acquiredAt: now, expiresAt } };
    })();
  }

  async releaseSlots(eventKey: string, vm?: string, pool?: string): Promise<number> {
    return this.sql(
      'DELETE FROM pool_slots WHERE event_key = ? AND (? IS NULL OR vm = ?) AND (? IS NULL OR pool = ?)',
    ).run(eventKey, vm ?? null, vm ?? null, pool ?? null, pool ?? null).changes;
  }

  async listSlots(now: string, pool?: string): Promise<SlotRow[]> {
    return (
      this.sql(
        'SELECT * FROM pool_slots WHERE expires_at > ? AND (? IS NULL OR pool = ?) ORDER BY pool, acquired_at',
      ).all(now, pool ?? null, pool ?? null) as Row[]
    ).map(toSlot);
  }

  async holdStep(stepId: number, dueAt: string, reason: string, now: string): Promise<void> {
    this.sql(
      `UPDATE steps SET status = 'pending', attempts = MAX(attempts - 1, 0), lease_until = NULL, due_at = ?, held_reason = ?, updated_at = ? WHERE id = ? AND status = 'running'`,
    ).run(dueAt, reason, now, stepId);
  }
}
