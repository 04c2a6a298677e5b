// Timer triggers: fires each timer rule's due cron slots as synthetic maintenance events, one per
// VM (provider `schedule`, eventId `<rule>@<slot ISO>~<vm>`), through the same ingest path as
// agents' events, so dedup, planning, budgets, history, dashboard and API all treat them alike.
//
// Once across replicas: every replica looks, but a slot's events have stable ids, so the store
// keeps the first ingest and calls the others duplicates (only new transitions are planned). A
// per-rule cursor (the newest slot fired or skipped) tells a hub that starts what it missed; it
// moves only after the ingest, so a hub killed in between fires that slot again, as a duplicate.
//
// A firing's event completes for its VM when the timer rule's run there is over (every step
// succeeded, or one was dead-lettered): that frees its pool slot for the next VM, like a cloud
// event's completion. A hub killed between a step's finish and that ingest leaves the firing open:
// the next hub to start looks for such firings and completes them.
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { SCHEDULE_PROVIDER, type EventType, type MaintenanceEvent, type Transition } from '../core/event.js';
import type { IncomingTransition, Store } from '../store/store.js';
import type { HubEvents, StepNotice } from './hub-events.js';
import type { Ingester } from './routes-ingest.js';
import type { RuleT } from './rules.js';
import { dueSlots, nextSlot, type ScheduleT } from './schedules.js';
import { glob } from './glob.js';

export interface SchedulerOptions {
  store: Store;
  rules: () => RuleT[];
  ingest: Ingester;
  events: HubEvents;
  log: Logger;
  now: () => number;
  /** Longest sleep between looks (clock changes, rules added through the API). Default 30 s. */
  maxSleepMs?: number;
  registry?: Registry;
}

const VIA = 'schedule';

/** The event id of one VM's firing of a rule's slot. */
export function firingId(rule: string, slot: number, vm: string): string {
  return `${rule}@${new Date(slot).toISOString()}~${vm}`;
}

/** Literal names always; globs and tags over the VMs the hub knows (sorted, each once). */
export async function timerTargets(store: Pick<Store, 'listVms'>, s: ScheduleT): Promise<string[]> {
  const out = new Map<string, string>();
  for (const vm of await store.listVms()) {
    const tags = ((vm.identity as { tags?: Record<string, string> }).tags ?? {}) as Record<string, string>;
    if (s.vms && !s.vms.some((p) => glob(p, vm.name))) continue;
    if (!Object.entries(s.tags ?? {}).every(([k, v]) => tags[k] === v)) continue;
    out.set(vm.name.toLowerCase(), vm.name);
  }
  // A VM named outright is fired for even before its agent reported (unless tags must match).
  if (!s.tags)
    for (const p of s.vms ?? [])
      if (!/[*?]/.test(p) && !out.has(p.toLowerCase())) out.set(p.toLowerCase(), p);
  return [...out.values()].sort();
}

export class Scheduler {
  private timer?: NodeJS.Timeout;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = true;
  private looping = false;
  private generation = 0;
  private readonly completing = new Set<Promise<void>>();
  private readonly slots?: Counter;
  private readonly onStep = (n: StepNotice) => {
    if (n.stage !== 'finished' || (n.outcome !== 'succeeded' && n.outcome !== 'dead')) return;
    if (!n.runKey.includes(`|${SCHEDULE_PROVIDER}/`)) return;
    this.track(this.completeIfOver(n.runKey), 'completing a timer firing failed', n.runKey);
  };

  constructor(private readonly o: SchedulerOptions) {
    if (o.registry)
      this.slots = new Counter({
        name: 'forewarn_schedule_slots_total',
        help: 'Timer rule slots by outcome: fired, or skipped (missed while no hub ran, or the rule disabled)',
        labelNames: ['rule', 'outcome'],
        registers: [o.registry],
      });
  }

  /** Looks now and then at every next slot. `timer: false`: only when `tick()` is called (tests). */
  start(o: { timer?: boolean } = {}): void {
    this.stopped = false;
    this.o.events.on('step', this.onStep);
    this.track(this.sweep(), 'completing open timer firings failed');
    if (o.timer ?? true) this.loop();
  }

  /** Firings still open whose run is over: their hub stopped before it said so. */
  private async sweep(): Promise<void> {
    const { events } = await this.o.store.listEvents({
      provider: SCHEDULE_PROVIDER,
      status: 'scheduled',
      limit: 1000,
    });
    for (const e of events)
      for (const run of await this.o.store.runsForEvent(e.key, { phase: 'do' }))
        await this.completeIfOver(run.key);
  }

  /** Completions run beside the executor; stop() waits for them. */
  private track(work: Promise<void>, what: string, run?: string): void {
    const p = work.catch((err: Error) => this.o.log.error({ err: err.message, run }, what));
    this.completing.add(p);
    void p.finally(() => this.completing.delete(p));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.o.events.off('step', this.onStep);
    await this.running;
    await Promise.allSettled([...this.completing]);
  }

  /** Fires every due slot of every timer rule (one pass at a time); resolves with how many fired. */
  tick(): Promise<number> {
    const pass = this.running.then(() => this.pass());
    this.running = pass.catch(() => undefined);
    return pass;
  }

  /** Looks again now (a rule was added or changed: its first slot may come before the next look). */
  wake(): void {
    if (this.stopped || !this.looping) return;
    this.loop();
  }

  private loop(): void {
    if (this.stopped) return;
    this.looping = true;
    clearTimeout(this.timer);
    // Only the newest loop arms the timer: a wake during a pass starts a new one.
    const generation = ++this.generation;
    void this.tick()
      .catch(() => 0)
      .then(() => {
        if (this.stopped || generation !== this.generation) return;
        const now = this.o.now();
        const next = Math.min(
          ...this.timerRules().map((r) => nextSlot(r.schedule!, now) ?? Number.POSITIVE_INFINITY),
        );
        const delay = Math.max(0, Math.min(next - now, this.o.maxSleepMs ?? 30_000));
        this.timer = setTimeout(() => this.loop(), delay);
        this.timer.unref();
      });
  }

  private timerRules(): RuleT[] {
    return this.o.rules().filter((r) => r.schedule);
  }

  private async pass(): Promise<number> {
    const now = this.o.now();
    let fired = 0;
    for (const rule of this.timerRules()) {
      try {
        fired += await this.fireRule(rule, rule.schedule!, now);
      } catch (err) {
        this.o.log.error({ err: (err as Error).message, rule: rule.name }, 'timer trigger failed');
      }
    }
    return fired;
  }

  private async fireRule(rule: RuleT, s: ScheduleT, now: number): Promise<number> {
    const iso = new Date(now).toISOString();
    const cursor = await this.o.store.scheduleCursor(rule.name);
    if (cursor === undefined) {
      // A new timer rule starts now: it has missed nothing yet.
      await this.o.store.advanceSchedule(rule.name, iso, iso);
      return 0;
    }
    const due = dueSlots(s, Date.parse(cursor), now);
    if (due.newest === undefined) return 0;
    // A disabled rule lets its slots pass: enabling it again does not fire what it skipped.
    const fire = rule.enabled === false ? [] : due.fire;
    const skipped = due.skipped + due.fire.length - fire.length;
    if (fire.length) this.slots?.inc({ rule: rule.name, outcome: 'fired' }, fire.length);
    if (skipped) this.slots?.inc({ rule: rule.name, outcome: 'skipped' }, skipped);
    if (skipped)
      this.o.log.warn(
        { rule: rule.name, skipped, catchUp: s.catchUp ?? 'latest', cursor },
        'timer slots were skipped (missed while no hub ran, or the rule is disabled)',
      );
    if (fire.length) {
      const vms = await timerTargets(this.o.store, s);
      if (!vms.length) this.o.log.warn({ rule: rule.name }, 'timer rule selects no VM');
      for (const slot of fire) await this.fire(rule, s, slot, vms, iso);
    }
    await this.o.store.advanceSchedule(rule.name, new Date(due.newest).toISOString(), iso);
    return fire.length;
  }

  private async fire(rule: RuleT, s: ScheduleT, slot: number, vms: string[], at: string): Promise<void> {
    const slotIso = new Date(slot).toISOString();
    const batch = vms.map((vm) =>
      this.transition(rule.name, 'scheduled', at, {
        provider: SCHEDULE_PROVIDER,
        eventId: firingId(rule.name, slot, vm),
        vm,
        type: (s.type ?? 'other') as EventType,
        status: 'scheduled',
        description: `timer rule ${rule.name}: ${s.cron} (${s.timezone ?? 'UTC'}), slot ${slotIso}`,
        origin: 'user',
        resources: [vm],
        raw: { rule: rule.name, cron: s.cron, timezone: s.timezone ?? 'UTC', slot: slotIso },
      }),
    );
    if (!batch.length) return;
    const counts = await this.o.ingest(batch);
    this.o.log.info({ rule: rule.name, slot: slotIso, vms: vms.length, ...counts }, 'timer rule fired');
  }

  private transition(
    rule: string,
    transition: Transition,
    at: string,
    event: MaintenanceEvent,
  ): IncomingTransition {
    return {
      ceSource: `/forewarn/schedule/${rule}`,
      ceId: `${event.eventId}|${transition}`,
      transition,
      reporter: `schedule:${rule}`,
      mine: true,
      observedAt: at,
      event,
      via: VIA,
    };
  }

  /** The timer rule's run for a firing is over: the firing's event completes for its VM. */
  private async completeIfOver(runKey: string): Promise<void> {
    const run = await this.o.store.getRun(runKey);
    if (
      !run ||
      run.phase !== 'do' ||
      !run.eventKey.startsWith(`${SCHEDULE_PROVIDER}/${run.rule.toLowerCase()}@`)
    )
      return;
    const steps = await this.o.store.stepsOfRun(runKey);
    const over =
      steps.some((s) => s.status === 'dead') ||
      steps.every((s) => s.status === 'succeeded' || s.status === 'skipped');
    if (!over) return;
    const row = run.snapshot ?? (await this.o.store.getEventRow(run.eventKey));
    if (!row) return;
    const at = new Date(this.o.now()).toISOString();
    await this.o.ingest([
      this.transition(run.rule, 'completed', at, {
        provider: SCHEDULE_PROVIDER,
        eventId: row.eventId,
        vm: run.vm,
        type: row.type as EventType,
        status: 'completed',
        description: row.description,
        origin: 'user',
        resources: row.resources,
        raw: row.raw,
      }),
    ]);
  }
}
