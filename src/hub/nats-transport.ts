// The hub's NATS side: connect (retrying in the background, so a hub starts and serves HTTP while
// NATS is down), then consume transitions and answer agents' commands until closed.
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { HubNatsConfig } from '../nats/config.js';
import { connectNats, natsErrorText } from '../nats/connect.js';
import type { CommandPollContext } from './command-poll.js';
import type { HubMetrics } from './metrics.js';
import { NatsCommands } from './nats-commands.js';
import { NatsIngest, type IngestLease } from './nats-ingest.js';
import type { Ingester } from './routes-ingest.js';

export interface HubNats {
  /** Resolves when this hub consumes the stream. */
  ready: Promise<void>;
  close(): Promise<void>;
}

export function startHubNats(o: {
  config: HubNatsConfig;
  ingest: Ingester;
  commands: CommandPollContext;
  metrics: HubMetrics;
  log: Logger;
  /** One hub at a time consumes: the holder of this lease (src/hub/nats-ingest.ts). */
  lease: IngestLease;
}): HubNats {
  let closed = false;
  let nc: NatsConnection | undefined;
  let ingest: NatsIngest | undefined;
  let commands: NatsCommands | undefined;
  let wake = () => {};
  // Connect (retrying) and start; close() waits for this so no connection outlives the hub.
  const started = (async () => {
    for (let attempt = 0; !closed; attempt++) {
      try {
        nc = await connectNats(o.config, { name: 'forewarn-hub' });
        break;
      } catch (err) {
        if (attempt === 0 || attempt % 30 === 0)
          o.log.warn({ err: natsErrorText(err), servers: o.config.servers }, 'cannot connect to NATS yet');
        await new Promise<void>((r) => {
          const t = setTimeout(r, Math.min(10_000, 500 * 2 ** Math.min(attempt, 5)));
          wake = () => (clearTimeout(t), r());
        });
      }
    }
    if (closed) return void (await nc?.close());
    if (!nc) return;
    o.log.info(
      { servers: o.config.servers, stream: o.config.stream, consumer: o.config.consumer },
      'NATS connected',
    );
    ingest = new NatsIngest(nc, o.config, o.ingest, o.metrics, o.log, o.lease);
    ingest.start();
    if (o.config.commands) {
      commands = new NatsCommands(nc, o.commands, o.log);
      commands.start();
    }
  })();
  const ready = started.then(() => ingest?.ready);
  return {
    ready,
    async close() {
      closed = true;
      wake();
      await started;
      await commands?.stop();
      await ingest?.stop();
      await nc?.drain().catch(() => nc?.close());
    },
  };
}
