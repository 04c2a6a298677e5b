// Transitions from NATS JetStream into the store, through the same parse, authorisation and ingest
// as HTTP. Every hub replica pulls from ONE durable consumer, so each message goes to one hub; a
// message is acked only after the store committed it, so a hub killed mid-batch loses nothing (the
// server redelivers after ackWait). A malformed or unauthorised message is terminated, counted and
// logged (subject, sequence, reason; never the body), so it is not redelivered forever.
//
// Order: one hub at a time consumes, the holder of the store's `nats-ingest` lease; the others stand
// by. That hub hands messages to the ingest group commit in stream order, so every VM's transitions
// are stored in publish order however many messages are in flight (maxAckPending), and replicas on
// one PostgreSQL never commit two transitions of a VM out of order. The lease lapses only after
// ackWait, so when its holder dies the messages it held are due for redelivery (which JetStream
// serves before new ones) by the time another hub takes over.
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import type { JsMsg } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { Counter } from 'prom-client';
import type { Logger } from 'pino';
import { vmSource } from '../core/transition.js';
import { subjects, vmOfSubject, type HubNatsConfig } from '../nats/config.js';
import { natsErrorText } from '../nats/connect.js';
import { IngestError, parseCloudEvents } from './ingest-parse.js';
import type { HubMetrics } from './metrics.js';
import type { Ingester } from './routes-ingest.js';

/** Creates the stream if missing (file storage, the duplicate window agents' Nats-Msg-Id relies on). */
export async function ensureStream(nc: NatsConnection, c: HubNatsConfig, log: Logger): Promise<void> {
  const jsm = await jetstreamManager(nc);
  try {
    const info = await jsm.streams.info(c.stream);
    if (!info.config.subjects?.includes(subjects.allEvents))
      log.warn(
        { stream: c.stream, subjects: info.config.subjects },
        `stream does not take ${subjects.allEvents}`,
      );
  } catch (err) {
    if (!/stream not found/i.test(natsErrorText(err))) throw err;
    await jsm.streams.add({
      name: c.stream,
      subjects: [subjects.allEvents],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      duplicate_window: nanos(c.duplicateWindowMs),
      max_age: nanos(c.maxAgeMs),
    });
    log.info({ stream: c.stream }, 'created the JetStream stream');
  }
  const consumer = {
    durable_name: c.consumer,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: subjects.allEvents,
    ack_wait: nanos(c.ackWaitMs),
    max_ack_pending: c.maxAckPending,
    max_deliver: -1,
  };
  try {
    const info = await jsm.consumers.info(c.stream, c.consumer);
    if (info.config.max_ack_pending !== c.maxAckPending || info.config.ack_wait !== consumer.ack_wait)
      await jsm.consumers.update(c.stream, c.consumer, {
        max_ack_pending: c.maxAckPending,
        ack_wait: consumer.ack_wait,
      });
  } catch (err) {
    if (!/consumer not found/i.test(natsErrorText(err))) throw err;
    await jsm.consumers.add(c.stream, consumer);
  }
}

/** The store lease that makes one hub at a time the consumer. */
export interface IngestLease {
  hold(ttlMs: number): Promise<boolean>;
  release(): Promise<void>;
}

export class NatsIngest {
  private stopped = false;
  private wakeStandby = () => {};
  private running?: Promise<void>;
  private stopConsuming?: () => void;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly rejected: Counter<'reason'>;
  private readonly consumed: Counter;
  /** Resolves once this hub consumes or knows another hub does (tests wait on it). */
  readonly ready: Promise<void>;
  private markReady!: () => void;

  constructor(
    private readonly nc: NatsConnection,
    private readonly c: HubNatsConfig,
    private readonly ingest: Ingester,
    metrics: HubMetrics,
    private readonly log: Logger,
    private readonly lease: IngestLease,
  ) {
    this.rejected = new Counter({
      name: 'forewarn_nats_rejected_total',
      help: 'NATS messages terminated as malformed or unauthorised, by reason',
      labelNames: ['reason'] as const,
      registers: [metrics.registry],
    });
    this.consumed = new Counter({
      name: 'forewarn_nats_consumed_total',
      help: 'NATS messages this hub stored and acked',
      registers: [metrics.registry],
    });
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Stops pulling and waits for the messages in hand to be stored and acked. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopConsuming?.();
    this.wakeStandby();
    await this.running;
    await Promise.allSettled([...this.inFlight]);
    await this.lease.release().catch(() => undefined); // a standby takes over at once
  }

  /** Renewal period; the lease lapses two periods after ackWait, see the top of this file. */
  private get renewMs(): number {
    return Math.max(100, Math.min(5_000, Math.floor(this.c.ackWaitMs / 3)));
  }

  private get leaseMs(): number {
    return this.c.ackWaitMs + 2 * this.renewMs;
  }

  /** Waits as a standby until this hub holds the lease (false: stopped first). */
  private async takeLease(): Promise<boolean> {
    let told = false;
    while (!this.stopped) {
      if (await this.lease.hold(this.leaseMs)) return true;
      if (!told) {
        told = true;
        this.log.info({ consumer: this.c.consumer }, 'standing by: another hub consumes the NATS stream');
        this.markReady();
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, this.renewMs);
        this.wakeStandby = () => (clearTimeout(t), r());
      });
    }
    return false;
  }

  /** Consumes until stopped; a lost stream or consumer (deleted, server restarted) is set up again. */
  private async loop(): Promise<void> {
    for (let failures = 0; !this.stopped;) {
      let renewal: NodeJS.Timeout | undefined;
      try {
        if (!(await this.takeLease())) break;
        await ensureStream(this.nc, this.c, this.log);
        const consumer = await jetstream(this.nc).consumers.get(this.c.stream, this.c.consumer);
        const messages = await consumer.consume({ max_messages: Math.min(this.c.maxAckPending, 512) });
        this.stopConsuming = () => void messages.close();
        if (this.stopped) messages.stop();
        let lost = false;
        renewal = setInterval(() => {
          void this.lease.hold(this.leaseMs).then(
            (held) => held || ((lost = true), void messages.close()),
            () => undefined, // the store is down: ingest fails too, and the lease lapses on its own
          );
        }, this.renewMs);
        this.log.info({ stream: this.c.stream, consumer: this.c.consumer }, 'consuming the NATS stream');
        this.markReady();
        failures = 0;
        for await (const m of messages) {
          // Not awaited: handle() hands the message to the group commit at once, in arrival order.
          const p = this.handle(m).finally(() => this.inFlight.delete(p));
          this.inFlight.add(p);
        }
        clearInterval(renewal);
        await Promise.allSettled([...this.inFlight]);
        if (lost) {
          this.log.warn({ consumer: this.c.consumer }, 'lost the NATS ingest lease; standing by');
          continue;
        }
        if (!this.stopped) throw new Error('the consumer stopped delivering');
      } catch (err) {
        clearInterval(renewal);
        if (this.stopped) break;
        this.log.warn(
          { err: natsErrorText(err), failures: ++failures },
          'NATS consumer failed, starting again',
        );
        await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** Math.min(failures, 6))));
      }
    }
  }

  private async handle(m: JsMsg): Promise<void> {
    let batch;
    try {
      const vm = vmOfSubject(m.subject);
      if (!vm) throw new IngestError(403, `subject ${m.subject} names no VM`, 'Forbidden');
      batch = parseCloudEvents({ 'content-type': 'application/cloudevents+json' }, m.string());
      // The server let only this VM's user publish here; the event must be about the same VM.
      for (const t of batch)
        if (t.ceSource !== vmSource(vm) || t.reporter !== vm)
          throw new IngestError(403, `subject ${m.subject} carries an event of ${t.reporter}`, 'Forbidden');
    } catch (err) {
      // Anything the parser throws is about this message: redelivering it would fail again.
      const reason = err instanceof IngestError && err.statusCode === 403 ? 'forbidden' : 'malformed';
      this.rejected.inc({ reason });
      this.log.warn(
        {
          subject: m.subject,
          seq: m.seq,
          redelivered: m.redelivered,
          reason,
          err: String((err as Error)?.message ?? err).slice(0, 300),
        },
        'NATS message refused and terminated',
      );
      m.term(); // no reason: Debian's nats-server 2.9 left a "+TERM <reason>" message pending
      return;
    }
    try {
      await this.ingest(batch.map((t) => ({ ...t, via: 'nats' })));
      this.consumed.inc();
      await m.ackAck().catch((err: unknown) =>
        // Stored but not acked: it comes again, and the store answers `duplicate`.
        this.log.warn({ subject: m.subject, seq: m.seq, err: natsErrorText(err) }, 'NATS ack failed'),
      );
    } catch (err) {
      this.log.error(
        { subject: m.subject, seq: m.seq, err: (err as Error).message },
        'storing a NATS message failed',
      );
      m.nak(1000);
    }
  }
}
