// Transitions to NATS JetStream: one CloudEvent (the same JSON as the HTTP batch holds) per message
// on forewarn.events.<vm>. The outbox stays the source of truth: Delivery acks a batch only after
// every message in it has its PubAck, so a lost connection means a resend, which JetStream's
// duplicate window (Nats-Msg-Id) and the hub's CloudEvent dedup both absorb.
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import { toCloudEvent, type TransitionRecord } from '../core/transition.js';
import { subjects, VM_TOKEN, type NatsConnectionConfig } from '../nats/config.js';
import { connectNats, natsErrorText } from '../nats/connect.js';
import { PublishError, type Publisher } from './publisher.js';

/** The JetStream dedup id: CloudEvents are unique by source *and* id, and sibling VMs report the same event id. */
export function natsMsgId(ce: { source: string; id: string }): string {
  return `${ce.source}#${ce.id}`;
}

/** Opens one connection lazily and keeps it; a failed first connect is retried by the next publish. */
export class NatsLink {
  private pending?: Promise<NatsConnection>;
  constructor(
    readonly config: NatsConnectionConfig,
    readonly vm: string,
  ) {
    if (!VM_TOKEN.test(vm))
      throw new Error(
        `VM name ${JSON.stringify(vm)} cannot be a NATS subject token (letters, digits, _ and - only)`,
      );
  }

  connection(): Promise<NatsConnection> {
    this.pending ??= connectNats(this.config, {
      name: `forewarn-agent ${this.vm}`,
      inboxPrefix: subjects.inbox(this.vm),
    }).catch((err: unknown) => {
      this.pending = undefined;
      throw err;
    });
    return this.pending;
  }

  async close(): Promise<void> {
    const nc = await this.pending?.catch(() => undefined);
    this.pending = undefined;
    await nc?.drain().catch(() => nc.close());
  }
}

export class NatsPublisher implements Publisher {
  readonly name = 'nats';
  private js?: JetStreamClient;
  constructor(private readonly link: NatsLink) {}

  async publish(batch: TransitionRecord[], signal?: AbortSignal): Promise<void> {
    let js = this.js;
    try {
      js ??= this.js = (await import('@nats-io/jetstream')).jetstream(await this.link.connection());
    } catch (err) {
      throw new PublishError(`cannot connect to NATS: ${natsErrorText(err)}`, true);
    }
    const subject = subjects.events(this.link.vm);
    const { stream, timeoutMs } = this.link.config;
    // All in flight at once: one connection keeps their order, so the stream stores them in order.
    const results = await Promise.allSettled(
      batch.map((t) => {
        const ce = toCloudEvent(t);
        return js.publish(subject, JSON.stringify(ce), {
          msgID: natsMsgId(ce),
          timeout: timeoutMs,
          expect: { streamName: stream },
        });
      }),
    );
    if (signal?.aborted) throw new PublishError('stopped', true);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      const text = natsErrorText(failed.reason);
      // A permissions violation is a configuration error: retrying at full speed will not fix it.
      const denied = /permission/i.test(text);
      throw new PublishError(`NATS publish to ${subject} failed: ${text}`, !denied);
    }
  }
}
