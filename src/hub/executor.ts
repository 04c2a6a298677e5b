// The executor: claims due steps with a lease, runs their action under a timeout, and records
// every attempt. Retries back off exponentially with jitter but never past the step's deadline
// (NotBefore): what cannot finish in time is dead-lettered as Expired, and a dead-letter is
// queryable and redrivable. A hub that dies mid-attempt loses its lease; the step runs again
// (receivers dedupe on the idempotency key). A succeeded step never runs again.
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Action, ActionResult } from '../actions/action.js';
import { backoffDelay } from '../agent/backoff.js';
import type { Transition } from '../core/event.js';
import type { ClaimedStep, FinishedAttempt, StepOutcome, StepRow, Store } from '../store/store.js';
import type { Budgets } from './budgets.js';
import { GroupCommit, inFlightFor } from './group-commit.js';
import type { HubEvents } from './hub-events.js';

export interface ExecutorOptions {
  store: Store;
  actions: Map<string, Action>;
  log: Logger;
  now: () => number;
  registry: Registry;
  concurrency?: number;
  /** Base of the retry backoff (Event Grid starts at 10 s; a maintenance deadline needs faster). */
  baseBackoffMs?: number;
  eventUrl: (eventKey: string) => string;
  /** Pool budgets that disruptive steps must fit in (none: they run like any step). */
  budgets?: Budgets;
  notifyCommand: (vm: string) => void;
  /** Where step starts and outcomes are announced (lifecycle notices). */
  events?: HubEvents;
  /** Told when a step is first held (or held for a new reason): the dashboard reads again. */
  onHeld?: (info: { vm: string; eventKey: string; step: string; cause: string; reason: string }) => void;
  /** Told about every finished attempt (the demo prints them; the dashboard will stream them). */
  onAttempt?: (info: {
    step: StepRow;
    rule: string;
    vm: string;
    eventKey: string;
    outcome: StepOutcome;
    detail: string;
  }) => void;
}

export class Executor {
  private stopped = false;
  private wakeUp?: () => void;
  private woken = false;
  private loopDone?: Promise<void>;
  private readonly running = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly outcomes: Counter<'action' | 'outcome'>;
  private readonly ingestToAction: Histogram;
  private readonly budgetOutcomes: Counter<'outcome'>;
  private readonly leftAtSuccess: Histogram;
  /** Attempts that finish together are recorded in one commit, not one fsync each. */
  private readonly finishes: GroupCommit<FinishedAttempt, undefined>;

  constructor(private readonly o: ExecutorOptions) {
    this.finishes = new GroupCommit(
      async (items, at) => {
        await o.store.finishAttempts(items, at);
        return items.map(() => undefined);
      },
      o.now,
      1000,
      inFlightFor(o.store),
    );
    this.outcomes = new Counter({
      name: 'forewarn_step_attempts_total',
      help: 'Step attempts by action and outcome',
      labelNames: ['action', 'outcome'],
      registers: [o.registry],
    });
    this.budgetOutcomes = new Counter({
      name: 'forewarn_budget_decisions_total',
      help: 'Disruptive steps by budget decision: run, held (pool full), forced (run over budget as NotBefore neared)',
      labelNames: ['outcome'],
      registers: [o.registry],
    });
    this.ingestToAction = new Histogram({
      name: 'forewarn_ingest_to_action_seconds',
      help: 'Step became due → its first attempt finished (immediate steps: ingest → action)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [o.registry],
    });
    this.leftAtSuccess = new Histogram({
      name: 'forewarn_time_left_before_not_before_seconds',
      help: 'Time left before NotBefore when a step succeeded (negative: after it)',
      buckets: [-60, 0, 10, 30, 60, 120, 300, 600, 900, 1800, 3600],
      registers: [o.registry],
    });
  }

  start(): void {
    this.loopDone ??= this.loop();
  }

  wake(): void {
    if (this.wakeUp) this.wakeUp();
    else this.woken = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.wake();
    await this.loopDone;
    await Promise.allSettled([...this.running]);
  }

  private iso(): string {
    return new Date(this.o.now()).toISOString();
  }

  private async loop(): Promise<void> {
    const concurrency = this.o.concurrency ?? 64;
    let lastReap = 0;
    while (!this.stopped) {
      if (this.o.now() - lastReap > 1000) {
        const reaped = await this.o.store.reapExpired(this.iso());
        if (reaped) this.o.log.warn({ reaped }, 'steps whose hub stopped mid-attempt are pending again');
        lastReap = this.o.now();
      }
      // Claim in chunks, not one slot at a time: every claim is a write transaction.
      const free = concurrency - this.running.size;
      const chunk = this.running.size === 0 ? 1 : Math.max(1, Math.floor(concurrency / 8));
      const due = free >= chunk ? await this.o.store.claimDue(this.iso(), 15_000, free) : [];
      for (const step of due) {
        const p = this.execute(step).finally(() => {
          this.running.delete(p);
          this.wake();
        });
        this.running.add(p);
      }
      if (due.length && free - due.length > 0) continue; // there may be more due right now
      // Slots are short of a chunk: a finishing step wakes the loop, the clock need not.
      const next = free < chunk ? undefined : await this.o.store.nextDue();
      const wait = next ? Math.min(1000, Math.max(0, Date.parse(next) - this.o.now())) : 1000;
      await this.sleep(wait);
    }
  }

  /** Sleeps up to `ms`, or until wake(); a wake that came while the loop was busy is not lost. */
  private sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(t);
        this.wakeUp = undefined;
        resolve();
      };
    });
  }

  /** A disruptive step needs a slot of its VM's pools; false: held (back to pending, no attempt). */
  private async admit(step: StepRow, vm: string, eventKey: string, rule: string): Promise<boolean> {
    const gate = await this.o.budgets!.gate(step, vm, eventKey, rule);
    const iso = this.iso();
    const record = (action: string, cause: string, reason: string) =>
      this.o.store.audit({
        at: iso,
        actor: 'executor',
        action,
        subject: `event:${eventKey}`,
        detail: { vm, step: step.name, run: step.runKey, cause, reason },
      });
    if (gate.kind === 'run') {
      this.budgetOutcomes.inc({ outcome: 'run' });
      return true;
    }
    if (gate.kind === 'force') {
      this.budgetOutcomes.inc({ outcome: 'forced' });
      this.o.log.error({ step: step.name, run: step.runKey, vm }, `budget overridden: ${gate.reason}`);
      await record('budget.overridden', gate.cause, gate.reason);
      return true;
    }
    this.budgetOutcomes.inc({ outcome: 'held' });
    if (step.heldReason !== gate.reason) {
      // Said once per change of reason, not every recheck.
      this.o.log.info({ step: step.name, run: step.runKey, vm, until: gate.until }, `held: ${gate.reason}`);
      await record('budget.held', gate.cause, gate.reason);
    }
    await this.o.store.holdStep(step.id, gate.until, gate.reason, iso);
    if (step.heldReason !== gate.reason)
      this.o.onHeld?.({ vm, eventKey, step: step.name, cause: gate.cause, reason: gate.reason });
    return false;
  }

  /**
   * A VM whose event is over holds its pool slots until every undo step of that event succeeded
   * (it is back in its load balancer), so the next VM is not taken out before this one is back.
   * An undo that was dead-lettered keeps the slot until it expires or is redriven and succeeds.
   */
  private async releaseWhenRestored(eventKey: string, vm: string): Promise<void> {
    for (const run of await this.o.store.runsForEvent(eventKey, { vm, phase: 'undo' }))
      if (
        (await this.o.store.stepsOfRun(run.key)).some(
          (s) => s.status !== 'succeeded' && s.status !== 'skipped',
        )
      )
        return;
    const released = await this.o.store.releaseSlots(eventKey, vm);
    if (!released) return;
    await this.o.store.audit({
      at: this.iso(),
      actor: 'executor',
      action: 'budget.released',
      subject: `event:${eventKey}`,
      detail: { vm, slots: released, reason: 'undo steps succeeded: the VM is back' },
    });
    this.wake();
  }

  private async execute(step: ClaimedStep): Promise<void> {
    const started = this.o.now();
    const startedAt = this.iso();
    const finish = async (result: ActionResult & { expired?: boolean }, outcome: StepOutcome) => {
      await this.finishes.add([
        {
          stepId: step.id,
          attempt: {
            n: step.attempts,
            startedAt,
            finishedAt: this.iso(),
            ok: result.ok,
            retryable: result.ok ? undefined : result.retryable,
            status: result.ok ? undefined : result.status,
            detail: result.detail,
            output: result.output,
          },
          outcome,
        },
      ]);
      // Told once it is committed, so whoever listens (the dashboard) reads it back.
      if (run)
        this.o.onAttempt?.({
          step,
          rule: run.rule,
          vm: run.vm,
          eventKey: run.eventKey,
          outcome,
          detail: result.detail,
        });
      this.o.events?.emit('step', {
        stage: 'finished',
        ...{ runKey: step.runKey, step: step.name, action: step.action, attempt: step.attempts },
        ...{ outcome: outcome.status, ok: result.ok, detail: result.detail },
      });
    };
    const run = step.run ?? (await this.o.store.getRun(step.runKey));
    // The run's snapshot is what actions see; only old runs without one read the event's history.
    const event = run ? (run.snapshot ?? (await this.o.store.getEventRow(run.eventKey))) : undefined;
    if (!run || !event) {
      await finish(
        { ok: false, retryable: false, detail: 'its run or event is gone (retention?)' },
        { status: 'dead', deadReason: 'Orphaned' },
      );
      return;
    }
    const deadline = step.deadline ? Date.parse(step.deadline) : undefined;
    if (deadline !== undefined && started > deadline && !step.runAfterDeadline) {
      this.outcomes.inc({ action: step.action, outcome: 'expired' });
      await finish(
        {
          ok: false,
          retryable: false,
          detail: `NotBefore ${step.deadline} passed before this step could run`,
        },
        { status: 'dead', deadReason: 'Expired' },
      );
      return;
    }
    if (step.disruptive && this.o.budgets && !(await this.admit(step, run.vm, run.eventKey, run.rule)))
      return;
    const action = this.o.actions.get(step.action);
    let result: ActionResult;
    if (!action) {
      result = { ok: false, retryable: false, detail: `unknown action ${step.action}` };
    } else {
      this.o.events?.emit('step', {
        ...{ stage: 'started', runKey: step.runKey, step: step.name, action: step.action },
        attempt: step.attempts,
      });
      const timeout = AbortSignal.timeout(step.timeoutMs);
      const signal = AbortSignal.any([timeout, this.abort.signal]);
      try {
        result = await action.run(
          {
            event,
            transition: triggerOf(run.key, event.lastTransition),
            vm: run.vm,
            rule: run.rule,
            step: step.name,
            phase: run.phase,
            idempotencyKey: step.idempotencyKey,
            attempt: step.attempts,
            deadline: step.deadline,
            signal,
            store: this.o.store,
            log: this.o.log,
            now: this.o.now,
            eventUrl: this.o.eventUrl(run.eventKey),
            notifyCommand: this.o.notifyCommand,
          },
          step.params,
        );
      } catch (err) {
        result = timeout.aborted
          ? { ok: false, retryable: true, detail: `timed out after ${step.timeoutMs} ms` }
          : { ok: false, retryable: true, detail: `action threw: ${(err as Error).message}` };
      }
      if (this.stopped && !result.ok) return; // shutting down: the lease expires and another attempt follows
    }
    if (step.attempts === 1)
      this.ingestToAction.observe(Math.max(0, (this.o.now() - Date.parse(step.dueAt)) / 1000));
    if (result.ok) {
      this.outcomes.inc({ action: step.action, outcome: 'succeeded' });
      if (deadline !== undefined) this.leftAtSuccess.observe((deadline - this.o.now()) / 1000);
      await finish(result, { status: 'succeeded' });
      if (run.phase === 'undo' && this.o.budgets) await this.releaseWhenRestored(run.eventKey, run.vm);
      return;
    }
    const retryAt =
      this.o.now() +
      Math.max(
        Math.min(result.retryAfterMs ?? 0, step.maxBackoffMs),
        backoffDelay(step.attempts - 1, { baseMs: this.o.baseBackoffMs ?? 1000, maxMs: step.maxBackoffMs }),
      );
    let outcome: StepOutcome;
    if (!result.retryable)
      outcome = {
        status: 'dead',
        lastError: result.detail,
        deadReason: `NonRetryable${result.status ? ` (${result.status})` : ''}`,
      };
    else if (step.attempts >= step.maxAttempts)
      outcome = { status: 'dead', lastError: result.detail, deadReason: 'MaxDeliveryAttemptsExceeded' };
    else if (deadline !== undefined && retryAt > deadline && !step.runAfterDeadline)
      outcome = { status: 'dead', lastError: result.detail, deadReason: 'Expired' };
    else outcome = { status: 'pending', dueAt: new Date(retryAt).toISOString(), lastError: result.detail };
    this.outcomes.inc({ action: step.action, outcome: outcome.status === 'dead' ? 'dead' : 'retry' });
    const level = outcome.status === 'dead' ? 'error' : 'warn';
    this.o.log[level](
      {
        step: step.name,
        action: step.action,
        run: step.runKey,
        attempt: step.attempts,
        err: result.detail,
        next: outcome.dueAt,
        deadReason: outcome.deadReason,
      },
      outcome.status === 'dead' ? 'step dead-lettered' : 'step failed, will retry',
    );
    await finish(result, outcome);
  }
}

/** A run key is rule|event|vm|transition[|id] for do runs and rule|event|vm|undo for undo runs. */
function triggerOf(runKey: string, lastTransition: Transition): Transition {
  const part = runKey.split('|')[3];
  return part && part !== 'undo' ? (part as Transition) : lastTransition;
}
