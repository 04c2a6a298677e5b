// The planner: for each stored transition, per affected VM, match the rules and write durable
// runs of steps with their due times (now, or NotBefore − lead) and deadlines. Undo runs on
// completed/canceled; pending steps retimed on rescheduled and skipped when the event is over.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { parseDuration } from '../core/time.js';
import type { EventRow, NewStep, PlannedRun, Store } from '../store/store.js';
import type { HubEvents, StoredTransition } from './hub-events.js';
import { explain, mayMatch, type RuleT, type StepT } from './rules.js';

export interface PlannerOptions {
  store: Store;
  rules: () => RuleT[];
  log: Logger;
  now: () => number;
  /** Called when runs were written, so the executor looks now. */
  onPlanned: () => void;
  /** Counts matches per rule for the rules page. */
  onMatch?: (rule: string, matched: boolean) => void;
  /** Where new runs and ended events are announced (lifecycle notices). */
  events?: HubEvents;
}

export const STEP_DEFAULTS = { timeoutMs: 30_000, maxAttempts: 30, maxBackoffMs: 60_000 };

export function idempotencyKey(runKey: string, idx: number): string {
  return `fw-${createHash('sha256').update(`${runKey}#${idx}`).digest('hex').slice(0, 32)}`;
}

/** Steps that take a VM out of service unless the rule says otherwise. */
export function disruptiveByDefault(action: string, params: Record<string, unknown> | undefined): boolean {
  if (action === 'approve') return true; // the cloud reboots the VM as soon as it is approved
  return action === 'haproxy' && (params?.operation === 'drain' || params?.operation === 'maint');
}

export function planSteps(
  steps: StepT[],
  runKey: string,
  notBefore: string | undefined,
  now: number,
  phase: 'do' | 'undo',
): NewStep[] {
  return steps.map((s, idx) => {
    const leadMs = typeof s.timing === 'object' ? parseDuration(s.timing.lead) : undefined;
    const due = leadMs !== undefined && notBefore ? Math.max(now, Date.parse(notBefore) - leadMs) : now;
    return {
      idx,
      name: s.name,
      action: s.action,
      params: s.with ?? {},
      leadMs,
      timeoutMs: s.timeout ? parseDuration(s.timeout) : STEP_DEFAULTS.timeoutMs,
      maxAttempts: s.retry?.maxAttempts ?? STEP_DEFAULTS.maxAttempts,
      maxBackoffMs: s.retry?.maxBackoff ? parseDuration(s.retry.maxBackoff) : STEP_DEFAULTS.maxBackoffMs,
      runAfterDeadline: s.runAfterDeadline ?? false,
      dueAt: new Date(due).toISOString(),
      // Undo steps put things back after the event: NotBefore is no deadline for them.
      deadline: phase === 'do' ? notBefore : undefined,
      idempotencyKey: idempotencyKey(runKey, idx),
      // Undo steps put the VM back: they never wait for a slot.
      disruptive: phase === 'do' && (s.disruptive ?? disruptiveByDefault(s.action, s.with)),
    };
  });
}

export class Planner {
  constructor(private readonly o: PlannerOptions) {}

  async vmTags(vm: string): Promise<Record<string, string>> {
    const found = await this.o.store.getVm(vm);
    const tags = (found?.identity as { tags?: unknown } | undefined)?.tags;
    return tags && typeof tags === 'object' ? (tags as Record<string, string>) : {};
  }

  /**
   * Plans a batch of stored transitions (in id order) and marks them planned, with every new run,
   * in one commit. A crash before that commit only replans (run keys are idempotent). Returns how
   * many runs were created.
   */
  async planBatch(batch: StoredTransition[]): Promise<number> {
    const pending: PlannedRun[] = [];
    let created = 0;
    const commit = async (planned: number[]) => {
      const at = new Date(this.o.now()).toISOString();
      const runs = pending.splice(0);
      const fresh = await this.o.store.commitPlan(runs, planned, at);
      runs.forEach((r, i) => {
        if (!fresh[i]) return;
        created++;
        if (r.run.phase === 'do') this.o.events?.emit('run', { kind: 'received', runKey: r.run.key });
      });
    };
    for (const t of batch) {
      // What follows a schedule reads the runs written so far: write them first.
      if (t.transition !== 'scheduled' && pending.length) await commit([]);
      try {
        await this.plan(t, pending);
      } catch (err) {
        this.o.log.error({ err: (err as Error).message, transition: t.transitionId }, 'planning failed');
      }
    }
    await commit(batch.map((t) => t.transitionId));
    if (created) this.o.onPlanned();
    return created;
  }

  /** One transition: updates runs it affects, and adds the runs it starts to `out`. */
  private async plan(t: StoredTransition, out: PlannedRun[]): Promise<void> {
    // Rules whose cheap clauses (transition, provider, type, origin) rule them out need no reads:
    // with no candidate, a schedule (most of a wave) costs nothing more.
    const candidates = this.o.rules().filter((r) => {
      const may = mayMatch(r, t.transition, t.event);
      if (!may) this.o.onMatch?.(r.name, false);
      return may;
    });
    if (candidates.length === 0 && t.transition === 'scheduled') return;
    const event = await this.o.store.getEventRow(t.eventKey);
    if (!event) return;
    const now = this.o.now();
    const iso = new Date(now).toISOString();
    const targets = event.resources.length ? event.resources : [t.reporter];
    const needTags = candidates.some((r) => r.match?.tags && Object.keys(r.match.tags).length > 0);
    for (const vm of targets) {
      const tags = needTags ? await this.vmTags(vm) : {};
      if (t.transition !== 'scheduled') {
        const existing = await this.o.store.runsForEvent(event.key, { vm, phase: 'do' });
        if (t.transition === 'rescheduled') {
          for (const run of existing) await this.o.store.retimePending(run.key, event.notBefore, iso);
        }
        if (t.transition === 'started') {
          // It started early (approved, or a host failure): lead-timed steps are due now, and their
          // deadline has come (they run only if the rule allows running after it).
          for (const run of existing) await this.o.store.retimePending(run.key, iso, iso);
        }
        if (t.transition === 'completed' || t.transition === 'canceled') {
          for (const run of existing) {
            await this.o.store.skipPending(run.key, `event ${t.transition} before this step ran`, iso);
            this.o.events?.emit('run', { kind: t.transition, runKey: run.key });
          }
          const undone = this.planUndo(
            event,
            vm,
            t,
            existing.map((r) => r.rule),
            now,
            out,
          );
          // The event is over for this VM: its pool slots go to the next VM waiting. With undo
          // steps (put it back in the LB) the VM is out until they succeed: the executor frees them.
          if (!undone && (await this.o.store.releaseSlots(event.key, vm))) this.o.onPlanned();
        }
      }
      for (const rule of candidates) {
        const result = explain(rule, {
          transition: t.transition,
          vm,
          vmTags: tags,
          event: { ...event, vm, transition: t.transition } as never,
        });
        this.o.onMatch?.(rule.name, result.matched);
        if (!result.matched) continue;
        const key = `${rule.name}|${event.key}|${vm}|${t.transition}${t.transition === 'rescheduled' ? `|${t.transitionId}` : ''}`;
        // NotBefore is a deadline only for steps planned before the event begins.
        const before = t.transition === 'scheduled' || t.transition === 'rescheduled';
        const steps = planSteps(rule.steps, key, before ? event.notBefore : undefined, now, 'do');
        out.push(this.runOf(key, rule.name, event, vm, 'do', t, steps, iso, { clauses: result.clauses }));
      }
    }
  }

  /** Undo steps of every rule that acted on this event for this VM; how many runs. */
  private planUndo(
    event: EventRow,
    vm: string,
    t: StoredTransition,
    rulesThatRan: string[],
    now: number,
    out: PlannedRun[],
  ): number {
    const iso = new Date(now).toISOString();
    const rules = this.o.rules().filter((r) => rulesThatRan.includes(r.name) && (r.undo?.length ?? 0) > 0);
    for (const rule of rules) {
      const key = `${rule.name}|${event.key}|${vm}|undo`;
      const steps = planSteps(rule.undo!, key, undefined, now, 'undo');
      out.push(this.runOf(key, rule.name, event, vm, 'undo', t, steps, iso));
    }
    return rules.length;
  }

  /** A run (written once: the key is idempotent) with its audit entry, for one commit. */
  private runOf(
    key: string,
    rule: string,
    event: EventRow,
    vm: string,
    phase: 'do' | 'undo',
    t: StoredTransition,
    steps: NewStep[],
    iso: string,
    extra: Record<string, unknown> = {},
  ): PlannedRun {
    return {
      run: {
        key,
        rule,
        eventKey: event.key,
        vm,
        phase,
        triggerTransitionId: t.transitionId,
        createdAt: iso,
        snapshot: event,
      },
      steps,
      audit: {
        at: iso,
        actor: 'planner',
        action: phase === 'do' ? 'rule.matched' : 'rule.undo',
        subject: `event:${event.key}`,
        detail: { rule, vm, transition: t.transition, run: key, ...extra },
      },
    };
  }
}
