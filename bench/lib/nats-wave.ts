// The NATS side of the replicas benchmark: a private nats-server (-js, forewarn's per-VM users) and
// agents that publish their transitions to JetStream the way `forewarn agent` does (NatsPublisher,
// one connection per VM, batches of the agent's default outbox size, each acked by its PubAcks).
import { NatsLink, NatsPublisher } from '../../src/agent/nats-publisher.js';
import type { TransitionRecord } from '../../src/core/transition.js';
import { HUB_PASSWORD, startNats, type TestNats } from '../../test/helpers/nats.js';

export type BenchNats = TestNats;

export const startBenchNats = (vms: string[]): Promise<BenchNats> => startNats(vms);

/** The hub config's transport section for this server. */
export function natsTransportYaml(nats: BenchNats, maxAckPending: number): string[] {
  return [
    'transport:',
    '  kind: nats',
    `  servers: ["${nats.url}"]`,
    '  user: hub',
    `  password: ${HUB_PASSWORD}`,
    `  maxAckPending: ${maxAckPending}`,
  ];
}

/** Publishes `records` as VM `vm`'s agent would; resolves when every one has its PubAck. */
export async function publishAsAgent(
  nats: BenchNats,
  vm: string,
  records: TransitionRecord[],
): Promise<void> {
  const link = new NatsLink(nats.agent(vm), vm);
  try {
    const p = new NatsPublisher(link);
    for (let i = 0; i < records.length; i += 100) await p.publish(records.slice(i, i + 100));
  } finally {
    await link.close();
  }
}
