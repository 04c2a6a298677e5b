// The agent: poll each source on a fixed rate, diff with the tracker, commit state + outbox +
// local tasks in one transaction, then deliver, run local sinks, heartbeat and take commands.
// It never exits on metadata errors: it backs off with jitter and reports its health.
import type { Logger } from 'pino';
import type { TransitionRecord } from '../core/transition.js';
import type { MaintenanceSource, VmIdentity } from '../sources/source.js';
import { SourceError } from '../sources/source.js';
import { backoffDelay } from './backoff.js';
import { Delivery } from './delivery.js';
import type { HookSpec } from './hooks.js';
import { runHook, hookEnv } from './hooks.js';
import type { AgentCommand, CommandChannel, CommandResult, HubClient } from './hub-client.js';
import type { AgentJournal } from './journal.js';
import type { Publisher } from './publisher.js';
import type { TransitionSink } from './sinks.js';
import { observe, type TrackerOptions, type TrackerState } from './tracker.js';

export const AGENT_VERSION = '0.1.0';

export interface SourceHealth {
  source: string;
  lastSuccessAt?: string;
  lastErrorAt?: string;
  lastError?: string;
  consecutiveFailures: number;
  lastLatencyMs?: number;
  polls: number;
  anomalies: number;
  lastAnomaly?: string;
}

export interface AgentOptions {
  identity: VmIdentity;
  sources: { source: MaintenanceSource; tracker?: TrackerOptions }[];
  journal: AgentJournal;
  log: Logger;
  pollIntervalMs?: number;
  maxBackoffMs?: number;
  publisher?: Publisher;
  hub?: HubClient;
  /** Where commands come from when not the hub's HTTP long-poll (NATS request/reply). */
  commands?: CommandChannel;
  heartbeatIntervalMs?: number;
  sinks?: TransitionSink[];
  /** Hooks the hub may run by name through `run-hook`. */
  commandHooks?: HookSpec[];
  /** Transitions per delivery request. */
  batchSize?: number;
  /** Max attempts of a failing local task (syslog down) before it is dropped and counted. */
  localAttempts?: number;
  now?: () => number;
}

export class Agent {
  readonly health = new Map<string, SourceHealth>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly abort = new AbortController();
  private delivery?: Delivery;
  private stopped = false;
  private localRunning = false;
  private readonly background: Promise<unknown>[] = [];
  /** The journal's tracker state, read once: the agent is its only writer, so a copy saves a read per poll. */
  private readonly states = new Map<string, TrackerState>();
  /** Polls and local runs in flight; stop() waits for them before the journal closes. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly now: () => number;

  constructor(private readonly o: AgentOptions) {
    this.now = o.now ?? Date.now;
    for (const { source } of o.sources)
      this.health.set(source.name, { source: source.name, consecutiveFailures: 0, polls: 0, anomalies: 0 });
  }

  start(): void {
    if (this.o.publisher) {
      this.delivery = new Delivery(this.o.journal, this.o.publisher, this.o.log, {
        batchSize: this.o.batchSize,
        // One ceiling for both: a hub back after an outage is found as soon as a poll would be.
        maxBackoffMs: this.o.maxBackoffMs,
      });
      this.delivery.start();
    }
    for (const s of this.o.sources) {
      s.source.restore?.(Object.values(this.trackerState(s.source.name).events).map((t) => t.event));
      this.schedulePoll(s, 0);
    }
    this.later(() => this.runLocalTasks(), 0); // leftovers from before a restart
    if (this.o.hub) this.background.push(this.heartbeatLoop());
    const commands = this.o.commands ?? this.o.hub;
    if (commands) this.background.push(this.commandLoop(commands));
    this.o.log.info(
      { vm: this.o.identity.name, sources: this.o.sources.map((s) => s.source.name) },
      'agent started',
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    for (const t of this.timers) clearTimeout(t);
    await this.delivery?.stop();
    await Promise.allSettled([...this.background, ...this.inFlight]);
  }

  private trackerState(source: string): TrackerState {
    let state = this.states.get(source);
    if (!state) {
      state = this.o.journal.trackerState(source);
      this.states.set(source, state);
    }
    return state;
  }

  deliveryHealth() {
    return this.delivery?.health;
  }

  private later(fn: () => unknown, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.stopped) return;
      const p = Promise.resolve(fn()).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }, ms);
    this.timers.add(t);
  }

  /** Fixed-rate polling: the next poll is due one interval after this one started, not after it ended. */
  private schedulePoll(entry: AgentOptions['sources'][number], delayMs: number): void {
    if (this.stopped) return;
    this.later(async () => {
      const started = this.now();
      const ok = await this.pollOnce(entry);
      const health = this.health.get(entry.source.name)!;
      const interval = this.o.pollIntervalMs ?? 1000;
      const next = ok
        ? Math.max(0, started + interval - this.now())
        : Math.max(interval, this.retryDelay(health));
      this.schedulePoll(entry, next);
    }, delayMs);
  }

  private retryDelay(health: SourceHealth & { retryAfterMs?: number }): number {
    const base = this.o.pollIntervalMs ?? 1000;
    const max = this.o.maxBackoffMs ?? 30_000;
    // Honour Retry-After, but never sleep past maxBackoff: a 3600 s Retry-After must not blind us for an hour.
    return Math.max(
      Math.min(health.retryAfterMs ?? 0, max),
      backoffDelay(health.consecutiveFailures - 1, { baseMs: base, maxMs: max }),
    );
  }

  /** One poll. Returns false when the poll failed (nothing is inferred from a failure). */
  async pollOnce({ source, tracker }: AgentOptions['sources'][number]): Promise<boolean> {
    const health = this.health.get(source.name)! as SourceHealth & { retryAfterMs?: number };
    const t0 = performance.now();
    health.polls++;
    let doc;
    try {
      doc = await source.poll(this.abort.signal);
    } catch (err) {
      if (this.stopped) return false;
      const e = err instanceof SourceError ? err : new SourceError('network', String(err));
      health.consecutiveFailures++;
      health.lastError = e.message;
      health.lastErrorAt = new Date(this.now()).toISOString();
      health.retryAfterMs = e.retryAfterMs;
      // First failure and then every 30th: a dead metadata service must not flood the log.
      if (health.consecutiveFailures === 1 || health.consecutiveFailures % 30 === 0) {
        this.o.log.warn(
          {
            source: source.name,
            kind: e.kind,
            status: e.status,
            failures: health.consecutiveFailures,
            err: e.message,
          },
          'metadata poll failed',
        );
      }
      return false;
    }
    health.lastLatencyMs = Math.round(performance.now() - t0);
    if (health.consecutiveFailures > 0) {
      this.o.log.info({ source: source.name, after: health.consecutiveFailures }, 'metadata service is back');
    }
    health.consecutiveFailures = 0;
    health.retryAfterMs = undefined;
    health.lastSuccessAt = new Date(this.now()).toISOString();

    const prev = this.trackerState(source.name);
    const result = observe(prev, doc, this.o.identity.name, this.now(), tracker);
    if (result.anomaly) {
      health.anomalies++;
      health.lastAnomaly = result.anomaly;
      this.o.log.warn({ source: source.name, anomaly: result.anomaly }, 'inconsistent metadata document');
    }
    if (result.state === prev) return true;
    const tasks = result.transitions.flatMap((record) =>
      (this.o.sinks ?? []).filter((s) => s.wants(record)).map((s) => ({ sink: s.name, record })),
    );
    let dropped: number;
    try {
      dropped = this.o.journal.commit(source.name, result.state, result.transitions, tasks);
    } catch (err) {
      // Disk full or read-only: nothing was committed and the state is not advanced, so the next
      // poll finds the same transitions again and commits them once the journal can write.
      health.consecutiveFailures++;
      health.lastError = `journal: ${(err as Error).message}`;
      health.lastErrorAt = new Date(this.now()).toISOString();
      if (health.consecutiveFailures === 1 || health.consecutiveFailures % 30 === 0)
        this.o.log.error(
          { source: source.name, err: (err as Error).message, failures: health.consecutiveFailures },
          'cannot write the journal; will retry',
        );
      return false;
    }
    this.states.set(source.name, result.state);
    if (dropped > 0) this.o.log.error({ dropped }, 'outbox full: dropped the least important transitions');
    for (const t of result.transitions) {
      this.o.log.info(
        {
          transition: t.transition,
          eventId: t.event.eventId,
          type: t.event.type,
          notBefore: t.event.notBefore,
          mine: t.mine,
          id: t.id,
        },
        'maintenance transition',
      );
    }
    if (result.transitions.length) {
      this.delivery?.notify();
      if (tasks.length) this.later(() => this.runLocalTasks(), 0);
    }
    return true;
  }

  /** Runs committed local tasks in order; one runner at a time. */
  private async runLocalTasks(): Promise<void> {
    if (this.localRunning || this.stopped) return;
    this.localRunning = true;
    try {
      const sinks = new Map((this.o.sinks ?? []).map((s) => [s.name, s]));
      for (;;) {
        const tasks = this.o.journal.peekTasks(50);
        if (tasks.length === 0 || this.stopped) break;
        let blocked = false;
        for (const task of tasks) {
          const sink = sinks.get(task.sink);
          if (!sink) {
            this.o.journal.finishTask(task.seq); // sink removed from config since
            continue;
          }
          try {
            const outcome = await sink.handle(task.record);
            this.o.journal.recordAction(`${task.sink}:${task.record.id}`, outcome ?? { ok: true });
            this.o.journal.finishTask(task.seq);
          } catch (err) {
            this.o.journal.failTask(task.seq);
            if (task.attempts + 1 >= (this.o.localAttempts ?? 5)) {
              this.o.journal.finishTask(task.seq);
              this.o.journal.increment(`local.failed.${task.sink}`);
              this.o.log.error(
                { sink: task.sink, id: task.record.id, err: (err as Error).message },
                'local task failed for good',
              );
            } else {
              this.o.log.warn(
                { sink: task.sink, id: task.record.id, err: (err as Error).message },
                'local task failed, will retry',
              );
              blocked = true;
              this.later(
                () => this.runLocalTasks(),
                backoffDelay(task.attempts, { baseMs: 1000, maxMs: 30_000 }),
              );
              break; // keep order: later tasks wait for this one
            }
          }
        }
        if (blocked) break;
      }
    } finally {
      this.localRunning = false;
    }
  }

  heartbeatPayload() {
    return {
      agentVersion: AGENT_VERSION,
      vm: this.o.identity,
      at: new Date(this.now()).toISOString(),
      sources: [...this.health.values()],
      delivery: this.delivery?.health,
      outbox: this.o.journal.outboxSize(),
      counters: this.o.journal.counters(),
    };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      const onAbort = () => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        this.abort.signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      this.abort.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private async heartbeatLoop(): Promise<void> {
    const interval = this.o.heartbeatIntervalMs ?? 30_000;
    let failures = 0;
    while (!this.stopped) {
      try {
        await this.o.hub!.heartbeat(this.heartbeatPayload(), this.abort.signal);
        failures = 0;
      } catch (err) {
        if (this.stopped) break;
        if (failures++ === 0) this.o.log.warn({ err: (err as Error).message }, 'heartbeat failed');
      }
      await this.sleep(interval);
    }
  }

  private async commandLoop(channel: CommandChannel): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      let commands: AgentCommand[];
      try {
        commands = await channel.commands(25, this.abort.signal);
        failures = 0;
      } catch (err) {
        if (this.stopped) break;
        if (failures++ === 0) this.o.log.warn({ err: (err as Error).message }, 'command poll failed');
        await this.sleep(backoffDelay(failures - 1, { baseMs: 1000, maxMs: 30_000 }));
        continue;
      }
      for (const c of commands) {
        const result = await this.execute(c);
        try {
          await channel.report(c.id, result, this.abort.signal);
        } catch (err) {
          // The hub re-sends an unreported command; the journal makes the retry idempotent.
          this.o.log.warn({ command: c.id, err: (err as Error).message }, 'command result not delivered');
        }
      }
    }
  }

  /** Runs a hub command once: a re-sent command gets the recorded result, not a second run. */
  async execute(c: AgentCommand): Promise<CommandResult> {
    const key = `command:${c.id}`;
    const done = this.o.journal.action(key) as CommandResult | undefined;
    if (done) return done;
    const result = c.type === 'approve' ? await this.approve(c) : await this.runCommandHook(c);
    this.o.journal.recordAction(key, result);
    this.o.log.info(
      { command: c.id, type: c.type, eventId: c.eventId, hook: c.hook, ok: result.ok, detail: result.detail },
      'command executed',
    );
    return result;
  }

  /** Approve only events in this VM's own document that concern this VM and are still Scheduled. */
  private async approve(c: AgentCommand): Promise<CommandResult> {
    if (!c.eventId) return { ok: false, detail: 'approve needs an eventId' };
    for (const { source } of this.o.sources) {
      const tracked = this.trackerState(source.name).events[c.eventId];
      if (!tracked) continue;
      const e = tracked.event;
      if (!e.resources.some((r) => r.toLowerCase() === this.o.identity.name.toLowerCase())) {
        return {
          ok: false,
          detail: `event ${c.eventId} does not concern ${this.o.identity.name}; not approved`,
        };
      }
      if (e.status !== 'scheduled')
        return { ok: false, detail: `event ${c.eventId} is ${e.status}, not scheduled; not approved` };
      if (!source.approve) return { ok: false, detail: `source ${source.name} cannot approve events` };
      try {
        await source.approve([c.eventId], this.abort.signal);
      } catch (err) {
        return { ok: false, detail: `StartRequests failed: ${(err as Error).message}` };
      }
      this.o.journal.recordAction(`approved:${source.name}:${c.eventId}`, {
        at: new Date(this.now()).toISOString(),
        command: c.id,
      });
      return { ok: true, detail: `approved ${c.eventId} through ${source.name}` };
    }
    return { ok: false, detail: `event ${c.eventId} is not in this VM's metadata; not approved` };
  }

  private async runCommandHook(c: AgentCommand): Promise<CommandResult> {
    const spec = (this.o.commandHooks ?? []).find((h) => h.name === c.hook);
    if (!spec)
      return { ok: false, detail: `no hook named ${JSON.stringify(c.hook)} is configured on this VM` };
    let record: TransitionRecord | undefined;
    for (const { source } of this.o.sources) {
      const tracked = c.eventId ? this.trackerState(source.name).events[c.eventId] : undefined;
      if (tracked) {
        record = {
          id: c.transitionId ?? c.id,
          transition: 'scheduled',
          event: tracked.event,
          mine: true,
          observedAt: new Date(this.now()).toISOString(),
        };
      }
    }
    const env = record ? hookEnv(record) : { FOREWARN_VM: this.o.identity.name };
    const result = await runHook(spec, {
      env: { ...env, FOREWARN_COMMAND_ID: c.id },
      stdin: JSON.stringify({ command: c, transition: record }),
    });
    return {
      ok: result.ok,
      detail: result.ok
        ? `hook ${spec.name} succeeded`
        : `hook ${spec.name} failed (exit ${result.exitCode}${result.timedOut ? ', timed out' : ''}${result.error ? `, ${result.error}` : ''})`,
      output: result,
    };
  }
}
