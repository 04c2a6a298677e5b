// The load-balancer reconciler: a VM must never stay drained because a message was lost (the
// undo step dead-lettered, the rule lost its undo, a hub was down at the wrong time). Every pass
// derives the intended state from the store: a VM whose event is over (completed or canceled)
// and whose haproxy drain/maint succeeded, with no haproxy ready that succeeded or is still on
// its way, should be back. It then reads HAProxy's actual state and restores what is still out,
// through the haproxy action itself (health check and verification included), and audits it.
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { ActionContext, ActionResult } from '../actions/action.js';
import { haproxyAction, runtimeTarget } from '../actions/haproxy.js';
import { adminMode, describeTarget, serverState } from '../actions/haproxy-runtime.js';
import type { EventRow, StepRow, Store } from '../store/store.js';

export interface LbReconcilerOptions {
  store: Store;
  log: Logger;
  now: () => number;
  /** How often to compare (default 30 s). */
  intervalMs?: number;
  /** An event must have been over this long, so its undo had its chance (default 60 s). */
  graceMs?: number;
  /** How far back to look for finished events (default 7 days). */
  lookbackMs?: number;
  registry?: Registry;
}

type Step = StepRow & { rule: string; eventKey: string; vm: string; phase: string };

export interface Outstanding {
  event: EventRow;
  vm: string;
  backend: string;
  server: string;
  /** The drain step's params: where the runtime API is. */
  params: Record<string, unknown>;
  /** The rule's ready step's conditions (healthCheck, afterHeartbeat), if it had one. */
  readyChecks: Record<string, unknown>;
}

export interface ReconcileReport {
  checked: number;
  restored: string[];
  alreadyReady: string[];
  failed: { server: string; detail: string }[];
}

const OVER = ['completed', 'canceled'];
const isHaproxy = (s: Step, ops: string[]) =>
  s.action === 'haproxy' && ops.includes(String(s.params.operation));
const sameLb = (a: Record<string, unknown>, b: Record<string, unknown>) =>
  a.socket === b.socket && a.address === b.address;

export class LbReconciler {
  private timer?: NodeJS.Timeout;
  private pass?: Promise<unknown>;
  private readonly abort = new AbortController();
  /** Finished events found with nothing to restore, by key → updatedAt: a pass looks at each once. */
  private readonly settled = new Map<string, string>();

  private readonly outcomes: Counter<'outcome'>;

  constructor(private readonly o: LbReconcilerOptions) {
    this.outcomes = new Counter({
      name: 'forewarn_lb_reconciled_total',
      help: 'Servers the load-balancer reconciler found out after their event: restored, already_ready, failed',
      labelNames: ['outcome'],
      registers: o.registry ? [o.registry] : [],
    });
  }

  start(): void {
    this.timer ??= setInterval(() => void this.runOnce(), this.o.intervalMs ?? 30_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.abort.abort();
    await this.pass;
  }

  /** One pass (never two at once); errors are logged, not thrown. */
  runOnce(): Promise<ReconcileReport | undefined> {
    const previous = this.pass ?? Promise.resolve();
    const next = previous.then(() =>
      this.reconcile().catch((err: Error) => {
        this.o.log.error({ err: err.message }, 'load-balancer reconcile failed');
        return undefined;
      }),
    );
    this.pass = next;
    return next;
  }

  /** The servers the store says should be back in their backend but may not be. */
  async outstanding(): Promise<Outstanding[]> {
    const now = this.o.now();
    const since = new Date(now - (this.o.lookbackMs ?? 7 * 86_400_000)).toISOString();
    const settledBefore = now - (this.o.graceMs ?? 60_000);
    const found: Outstanding[] = [];
    const active = new Set<string>();
    for (const status of OVER) {
      for (let offset = 0; ; offset += 500) {
        const { events } = await this.o.store.listEvents({ status, since, limit: 500, offset });
        for (const event of events) {
          if (Date.parse(event.updatedAt) > settledBefore) continue;
          if (this.settled.get(event.key) === event.updatedAt) continue;
          const { items, inProgress } = await this.ofEvent(event);
          found.push(...items);
          // Nothing to restore and no undo still on its way: this event needs no more looks.
          if (!items.length && !inProgress) this.settled.set(event.key, event.updatedAt);
        }
        if (events.length < 500) break;
      }
    }
    // A server another, still running event keeps drained is not to be restored yet.
    for (const o of found) {
      const { events } = await this.o.store.listEvents({ vm: o.vm, since, limit: 100 });
      for (const e of events.filter((e) => !OVER.includes(e.status)))
        for (const t of await this.drainedBy(e)) if (t.vm === o.vm) active.add(`${t.backend}/${t.server}`);
    }
    return found.filter((o) => !active.has(`${o.backend}/${o.server}`));
  }

  /** Succeeded drain/maint steps of an event, with the backend/server they acted on. */
  private async drainedBy(event: EventRow) {
    const steps = await this.o.store.listSteps({ eventKey: event.key, limit: 1000 });
    const out: { step: Step; steps: Step[]; vm: string; backend: string; server: string }[] = [];
    for (const step of steps.filter((s) => s.status === 'succeeded' && isHaproxy(s, ['drain', 'maint']))) {
      const attempt = (await this.o.store.attemptsOf(step.id)).filter((a) => a.ok).at(-1);
      const output = attempt?.output as { backend?: string; server?: string } | undefined;
      if (output?.backend && output.server)
        out.push({ step, steps, vm: step.vm, backend: output.backend, server: output.server });
    }
    return out;
  }

  private async ofEvent(event: EventRow): Promise<{ items: Outstanding[]; inProgress: boolean }> {
    const found: Outstanding[] = [];
    let inProgress = false;
    for (const d of await this.drainedBy(event)) {
      const readies = d.steps.filter(
        (s) => s.vm === d.vm && isHaproxy(s, ['ready']) && sameLb(s.params, d.step.params),
      );
      // Restored, or a restore is still on its way (pending, running): the undo does its job.
      if (readies.some((s) => s.status === 'succeeded')) continue;
      if (readies.some((s) => s.status === 'pending' || s.status === 'running')) {
        inProgress = true;
        continue;
      }
      const audit = await this.o.store.auditLog(`event:${event.key}`, 1000);
      if (
        audit.some(
          (a) =>
            a.actor === 'lb-reconciler' &&
            (a.detail as { server?: string }).server === `${d.backend}/${d.server}` &&
            (a.detail as { vm?: string }).vm === d.vm,
        )
      )
        continue;
      found.push({
        event,
        vm: d.vm,
        backend: d.backend,
        server: d.server,
        params: d.step.params,
        readyChecks: (({ healthCheck, afterHeartbeat }) => ({ healthCheck, afterHeartbeat }))(
          readies.at(-1)?.params ?? {},
        ),
      });
    }
    return { items: found, inProgress };
  }

  async reconcile(): Promise<ReconcileReport> {
    const report: ReconcileReport = { checked: 0, restored: [], alreadyReady: [], failed: [] };
    for (const o of await this.outstanding()) {
      report.checked++;
      const name = `${o.backend}/${o.server}`;
      const lb = { socket: o.params.socket, address: o.params.address };
      const where = describeTarget(runtimeTarget(lb));
      const iso = () => new Date(this.o.now()).toISOString();
      const audit = (action: string, detail: Record<string, unknown>) =>
        this.o.store.audit({
          at: iso(),
          actor: 'lb-reconciler',
          action,
          subject: `event:${o.event.key}`,
          detail: { vm: o.vm, server: name, lb: where, ...detail },
        });
      let actual;
      try {
        actual = await serverState(runtimeTarget(lb), o.backend, o.server, this.abort.signal);
      } catch (err) {
        report.failed.push({ server: name, detail: (err as Error).message });
        continue;
      }
      if (adminMode(actual.adminState) === 'ready') {
        report.alreadyReady.push(name);
        await audit('lb.consistent', { found: 'ready' });
        await this.releaseSlots(o, audit);
        continue;
      }
      const params = Object.fromEntries(
        Object.entries({
          ...lb,
          backend: o.backend,
          server: o.server,
          operation: 'ready',
          ...o.readyChecks,
        }).filter(([, v]) => v !== undefined),
      );
      const result: ActionResult = await haproxyAction.run(this.context(o), params);
      if (result.ok) {
        report.restored.push(name);
        this.o.log.warn(
          { vm: o.vm, server: name, event: o.event.key },
          'restored a server its undo left out',
        );
        await audit('lb.restored', { was: adminMode(actual.adminState), result: result.detail });
        await this.releaseSlots(o, audit);
      } else {
        report.failed.push({ server: name, detail: result.detail });
        this.o.log.warn({ vm: o.vm, server: name, err: result.detail }, 'could not restore yet');
      }
    }
    this.outcomes.inc({ outcome: 'restored' }, report.restored.length);
    this.outcomes.inc({ outcome: 'already_ready' }, report.alreadyReady.length);
    this.outcomes.inc({ outcome: 'failed' }, report.failed.length);
    return report;
  }

  /**
   * The VM is back in its pool: the budget slots its event kept (its undo never succeeded, see
   * Executor.releaseWhenRestored) go to the next VM now rather than when they expire.
   */
  private async releaseSlots(
    o: Outstanding,
    audit: (action: string, detail: Record<string, unknown>) => Promise<unknown>,
  ): Promise<void> {
    const released = await this.o.store.releaseSlots(o.event.key, o.vm);
    if (released)
      await audit('budget.released', { slots: released, reason: 'the reconciler put the VM back' });
  }

  private context(o: Outstanding): ActionContext {
    return {
      event: o.event,
      transition: o.event.lastTransition,
      vm: o.vm,
      rule: 'lb-reconciler',
      step: 'restore',
      phase: 'undo',
      idempotencyKey: `lb-reconciler:${o.event.key}:${o.vm}`,
      attempt: 1,
      signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(30_000)]),
      store: this.o.store,
      log: this.o.log,
      now: this.o.now,
      eventUrl: '',
      notifyCommand: () => {},
    };
  }
}
