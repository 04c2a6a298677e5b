// Agents' commands over core NATS request/reply (why not JetStream: src/agent/nats-commands.ts).
// Hubs answer in one queue group, so each poll or result is handled by one replica; the server's
// permissions let only VM x publish on forewarn.{commands,results}.x, so the subject is the identity.
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { HUB_QUEUE, subjects, vmOfSubject } from '../nats/config.js';
import {
  commandForAgent,
  finishCommand,
  takeCommandsWaiting,
  type CommandPollContext,
} from './command-poll.js';

const MAX_WAIT_SECONDS = 30;

export class NatsCommands {
  private readonly subs: Subscription[] = [];
  private readonly pending = new Set<() => void>();
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly ctx: CommandPollContext,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.subs.push(
      this.nc.subscribe(subjects.allCommands, {
        queue: HUB_QUEUE,
        callback: (_e, m) => this.track(this.poll(m)),
      }),
      this.nc.subscribe(subjects.allResults, {
        queue: HUB_QUEUE,
        callback: (_e, m) => this.track(this.result(m)),
      }),
    );
  }

  /** Stops answering; held polls are answered now (empty) so agents ask again elsewhere. */
  async stop(): Promise<void> {
    for (const s of this.subs) s.unsubscribe();
    for (const done of this.pending) done();
    await Promise.allSettled([...this.inFlight]);
  }

  private track(p: Promise<unknown>): void {
    const q = p
      .catch((err: Error) => this.log.error({ err: err.message }, 'answering an agent over NATS failed'))
      .finally(() => this.inFlight.delete(q));
    this.inFlight.add(q);
  }

  private body(m: Msg): Record<string, unknown> | undefined {
    try {
      const v = m.json<unknown>();
      return typeof v === 'object' && v !== null && !Array.isArray(v)
        ? (v as Record<string, unknown>)
        : undefined;
    } catch {
      return undefined;
    }
  }

  private async poll(m: Msg): Promise<void> {
    const vm = vmOfSubject(m.subject);
    const body = this.body(m);
    const wait = body?.wait;
    if (!vm || !body || (wait !== undefined && (typeof wait !== 'number' || !(wait >= 0))))
      return void m.respond(JSON.stringify({ error: 'expected {"wait": seconds}' }));
    const commands = await takeCommandsWaiting(
      this.ctx,
      vm,
      Math.min(Number(wait ?? 0), MAX_WAIT_SECONDS),
      (done) => {
        this.pending.add(done);
        return () => this.pending.delete(done);
      },
    );
    m.respond(JSON.stringify({ commands: commands.map(commandForAgent) }));
  }

  private async result(m: Msg): Promise<void> {
    const vm = vmOfSubject(m.subject);
    const b = this.body(m);
    if (
      !vm ||
      !b ||
      typeof b.id !== 'string' ||
      typeof b.ok !== 'boolean' ||
      typeof b.detail !== 'string' ||
      b.detail.length > 4096
    )
      return void m.respond(JSON.stringify({ error: 'expected {"id", "ok", "detail", "output"?}' }));
    const done = await finishCommand(this.ctx, vm, b.id, { ok: b.ok, detail: b.detail, output: b.output });
    m.respond(JSON.stringify(done ? { ok: true } : { error: `no command ${b.id} for VM ${vm}` }));
  }
}
