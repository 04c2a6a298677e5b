// Runs, steps and attempts in PostgreSQL: the durable half of the planner → executor hand-off,
// shared by every replica. Steps are claimed with FOR UPDATE SKIP LOCKED (two replicas never
// claim the same step), under a lease that outlives the attempt's own timeout; a replica that dies
// mid-attempt loses its lease and any replica's reaper puts the step back to pending.
import pg from 'pg';
import type {
  AttemptRow,
  AuditEntry,
  FinishedAttempt,
  NewStep,
  PlannedRun,
  RunRow,
  StepOutcome,
  StepRow,
  StepStatus,
  StoreChange,
} from './store.js';
import { jsonText, opt, toAttempt, toRun, toStep, toStepWithRun, type Row } from './rows.js';

/** A timestamptz expression as the ISO 8601 text JavaScript's toISOString() writes. */
const iso = (expr: string) => `to_char((${expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const MS = `interval '1 millisecond'`;

export type Queryable = Pick<pg.PoolClient, 'query'>;

/** Runs, steps and attempts; PostgresBudgets and PostgresStore complete the Store interface. */
export class PostgresRuns {
  constructor(
    protected readonly pool: pg.Pool,
    /** The NOTIFY channel every replica on this schema listens to. */
    protected readonly channel: string,
  ) {}

  protected async q(text: string, values: unknown[] = [], on: Queryable = this.pool): Promise<Row[]> {
    return (await on.query(text, values)).rows as Row[];
  }

  /**
   * One transaction: commits what `fn` did, or rolls all of it back. `snapshot`: a read-only one
   * whose queries all see the same moment (SQLite's reads are atomic; several pooled queries are not).
   */
  protected async tx<T>(fn: (c: pg.PoolClient) => Promise<T>, snapshot = false): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query(snapshot ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Tells every replica (after commit, when `on` is in a transaction; identical ones fold into one). */
  protected async notify(change: StoreChange, on: Queryable = this.pool): Promise<void> {
    await on.query('SELECT pg_notify($1, $2)', [this.channel, JSON.stringify(change)]);
  }

  async createRun(run: RunRow, steps: NewStep[], audit?: Omit<AuditEntry, 'id'>): Promise<boolean> {
    return this.insertRun(run, steps, audit, this.pool);
  }

  /** Several runs and the transitions they plan, in one commit; per run, whether it was new. */
  async commitPlan(runs: PlannedRun[], planned: number[], at: string): Promise<boolean[]> {
    return this.tx(async (c) => {
      const created: boolean[] = [];
      for (const r of runs) created.push(await this.insertRun(r.run, r.steps, r.audit, c));
      if (planned.length)
        await this.q('UPDATE transitions SET planned_at = $1 WHERE id = ANY($2::bigint[])', [at, planned], c);
      await this.notify({ kind: 'steps' }, c);
      return created;
    });
  }

  private async insertRun(
    run: RunRow,
    steps: NewStep[],
    audit: Omit<AuditEntry, 'id'> | undefined,
    on: Queryable,
  ): Promise<boolean> {
    // One statement (so one round trip and one transaction): the steps and the audit entry are
    // written only when the run is new. A replica planning the same run at the same moment waits
    // on the key for the other's commit, then finds it and writes nothing.
    const rows = await this.q(
      `WITH run AS (
         INSERT INTO runs (key, rule, event_key, vm, phase, trigger_transition_id, created_at, snapshot)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (key) DO NOTHING RETURNING key),
       steps AS (
         INSERT INTO steps (run_key, idx, name, action, params, lead_ms, timeout_ms, max_attempts, max_backoff_ms,
           run_after_deadline, due_at, deadline, idempotency_key, disruptive, status, updated_at)
         SELECT run.key, u.*, 'pending', $7 FROM run, unnest($9::int[], $10::text[], $11::text[], $12::text[],
           $13::bigint[], $14::bigint[], $15::int[], $16::bigint[], $17::boolean[], $18::text[], $19::text[], $20::text[],
           $26::boolean[]) AS u),
       audit AS (
         INSERT INTO audit (at, actor, action, subject, detail)
         SELECT $21, $22, $23, $24, $25 FROM run WHERE $21::text IS NOT NULL)
       SELECT key FROM run`,
      [
        run.key,
        run.rule,
        run.eventKey,
        run.vm,
        run.phase,
        run.triggerTransitionId,
        run.createdAt,
        jsonText(run.snapshot),
        steps.map((s) => s.idx),
        steps.map((s) => s.name),
        steps.map((s) => s.action),
        steps.map((s) => JSON.stringify(s.params)),
        steps.map((s) => s.leadMs ?? null),
        steps.map((s) => s.timeoutMs),
        steps.map((s) => s.maxAttempts),
        steps.map((s) => s.maxBackoffMs),
        steps.map((s) => s.runAfterDeadline),
        steps.map((s) => s.dueAt),
        steps.map((s) => s.deadline ?? null),
        steps.map((s) => s.idempotencyKey),
        audit?.at ?? null,
        audit?.actor ?? null,
        audit?.action ?? null,
        audit?.subject ?? null,
        audit ? jsonText(audit.detail) : null,
        steps.map((s) => s.disruptive ?? false),
      ],
      on,
    );
    return rows.length === 1;
  }

  async getRun(key: string): Promise<RunRow | undefined> {
    const [r] = await this.q('SELECT * FROM runs WHERE key = $1', [key]);
    return r ? toRun(r) : undefined;
  }

  async runsForEvent(
    eventKey: string,
    filter: { vm?: string; phase?: 'do' | 'undo' } = {},
  ): Promise<RunRow[]> {
    const rows = await this.q(
      'SELECT * FROM runs WHERE event_key = $1 AND ($2::text IS NULL OR vm = $2) AND ($3::text IS NULL OR phase = $3) ORDER BY created_at, key',
      [eventKey, filter.vm ?? null, filter.phase ?? null],
    );
    return rows.map((r) => toRun(r));
  }

  async stepsOfRun(runKey: string): Promise<StepRow[]> {
    return (await this.q('SELECT * FROM steps WHERE run_key = $1 ORDER BY idx', [runKey])).map(toStep);
  }

  async retimePending(runKey: string, notBefore: string | undefined, now: string): Promise<number> {
    const rows = await this.q(
      `UPDATE steps SET due_at = CASE WHEN lead_ms IS NULL OR $2::text IS NULL THEN due_at
         ELSE ${iso(`GREATEST($3::timestamptz, $2::timestamptz - lead_ms * ${MS})`)} END,
         deadline = $2::text, updated_at = $3 WHERE run_key = $1 AND status = 'pending' RETURNING id`,
      [runKey, notBefore ?? null, now],
    );
    return rows.length;
  }

  async skipPending(runKey: string, reason: string, now: string): Promise<number> {
    const rows = await this.q(
      `UPDATE steps SET status = 'skipped', dead_reason = $1, updated_at = $2, finished_at = $2 WHERE run_key = $3 AND status = 'pending' RETURNING id`,
      [reason, now, runKey],
    );
    return rows.length;
  }

  async claimDue(now: string, leaseMs: number, limit: number): Promise<(StepRow & { run?: RunRow })[]> {
    // SKIP LOCKED: rows another replica is claiming right now are left to it, not waited for.
    // The lease outlives the step's own timeout by `leaseMs`, so a live attempt is never reaped.
    const rows = await this.q(
      `WITH due AS (
         SELECT s.id FROM steps s WHERE s.status = 'pending' AND s.due_at <= $1
           AND (s.idx = 0 OR EXISTS (SELECT 1 FROM steps p WHERE p.run_key = s.run_key AND p.idx = s.idx - 1 AND p.status = 'succeeded'))
         ORDER BY s.due_at, s.id LIMIT $3 FOR UPDATE SKIP LOCKED)
       UPDATE steps SET status = 'running', attempts = attempts + 1, updated_at = $1,
         lease_until = ${iso(`$1::timestamptz + (timeout_ms + $2) * ${MS}`)}
       FROM due WHERE steps.id = due.id AND steps.status = 'pending' RETURNING steps.*`,
      [now, leaseMs, limit],
    );
    if (rows.length === 0) return [];
    // Each step with its run, so the executor reads nothing per step.
    const runs = new Map(
      (
        await this.q('SELECT * FROM runs WHERE key = ANY($1::text[])', [
          [...new Set(rows.map((r) => r.run_key))],
        ])
      ).map((r) => [r.key as string, toRun(r)]),
    );
    return rows
      .map((r) => ({ ...toStep(r), run: runs.get(r.run_key as string) }))
      .sort((a, b) => (a.dueAt < b.dueAt ? -1 : a.dueAt > b.dueAt ? 1 : a.id - b.id));
  }

  async finishAttempt(
    stepId: number,
    a: Omit<AttemptRow, 'id' | 'stepId'>,
    o: StepOutcome,
    now: string,
  ): Promise<void> {
    await this.writeAttempt(stepId, a, o, now, this.pool);
  }

  /** Several attempts finished together, in one commit. */
  async finishAttempts(items: FinishedAttempt[], now: string): Promise<void> {
    if (items.length === 0) return;
    await this.tx(async (c) => {
      for (const i of items) await this.writeAttempt(i.stepId, i.attempt, i.outcome, now, c);
    });
  }

  private async writeAttempt(
    stepId: number,
    a: Omit<AttemptRow, 'id' | 'stepId'>,
    o: StepOutcome,
    now: string,
    on: Queryable,
  ): Promise<void> {
    const final = o.status === 'succeeded' || o.status === 'dead';
    // One statement: the attempt, the step's new state and the notice commit together. The step
    // changes only while no later attempt took it over (a replica that stalled past its lease
    // must not overwrite the state another replica's attempt wrote); the attempt is kept anyway.
    await this.q(
      `WITH attempt AS (
         INSERT INTO attempts (step_id, n, started_at, finished_at, ok, retryable, status, detail, output)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)),
       step AS (
         UPDATE steps SET status = $10, due_at = COALESCE($11, due_at), lease_until = NULL, last_error = $12,
           dead_reason = $13, updated_at = $14, finished_at = $15, held_reason = NULL
         WHERE id = $1 AND attempts = $2 AND status IN ('running', 'pending'))
       SELECT pg_notify($16, $17)`,
      [
        stepId,
        a.n,
        a.startedAt,
        a.finishedAt,
        a.ok,
        a.retryable ?? null,
        a.status ?? null,
        a.detail,
        jsonText(a.output),
        o.status,
        o.dueAt ?? null,
        o.lastError ?? null,
        o.deadReason ?? null,
        now,
        final ? now : null,
        this.channel,
        JSON.stringify({ kind: 'step' }),
      ],
      on,
    );
  }

  async reapExpired(now: string): Promise<number> {
    const rows = await this.q(
      `UPDATE steps SET status = 'pending', lease_until = NULL, last_error = 'interrupted: its hub stopped mid-attempt', updated_at = $1
       WHERE status = 'running' AND lease_until < $1 RETURNING id`,
      [now],
    );
    if (rows.length) await this.notify({ kind: 'steps' });
    return rows.length;
  }

  async getStep(id: number) {
    const [r] = await this.q(
      'SELECT s.*, r.rule, r.event_key, r.vm, r.phase FROM steps s JOIN runs r ON r.key = s.run_key WHERE s.id = $1',
      [id],
    );
    return r ? toStepWithRun(r) : undefined;
  }

  async listSteps(filter: { status?: StepStatus; eventKey?: string; limit?: number; offset?: number }) {
    const rows = await this.q(
      `SELECT s.*, r.rule, r.event_key, r.vm, r.phase FROM steps s JOIN runs r ON r.key = s.run_key
       WHERE ($1::text IS NULL OR s.status = $1) AND ($2::text IS NULL OR r.event_key = $2)
       ORDER BY s.updated_at DESC, s.id DESC LIMIT $3 OFFSET $4`,
      [filter.status ?? null, filter.eventKey ?? null, filter.limit ?? 200, filter.offset ?? 0],
    );
    return rows.map(toStepWithRun);
  }

  async attemptsOf(stepId: number): Promise<AttemptRow[]> {
    return (await this.q('SELECT * FROM attempts WHERE step_id = $1 ORDER BY n, id', [stepId])).map(
      toAttempt,
    );
  }

  async redrive(ids: number[] | undefined, now: string): Promise<number> {
    const rows = await this.q(
      `UPDATE steps SET status = 'pending', attempts = 0, due_at = $1, dead_reason = NULL, finished_at = NULL,
         run_after_deadline = TRUE, updated_at = $1 WHERE status = 'dead' AND ($2::bigint[] IS NULL OR id = ANY($2)) RETURNING id`,
      [now, ids ?? null],
    );
    if (rows.length) await this.notify({ kind: 'steps' });
    return rows.length;
  }

  async nextDue(): Promise<string | undefined> {
    const [r] = await this.q(`SELECT MIN(due_at) AS due FROM steps WHERE status = 'pending'`);
    return opt(r?.due);
  }
}
