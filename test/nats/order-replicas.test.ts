// Per-VM order with two hub replicas on one PostgreSQL schema sharing the one durable consumer: one
// holds the store's ingest lease and consumes, the other stands by, so every VM's transitions are
// stored in the order its agent published them (maxAckPending 1024, the default) and the last
// reschedule is what the event shows. A consumer that stops hands over to the standby.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NatsLink, NatsPublisher } from '../../src/agent/nats-publisher.js';
import type { TransitionRecord } from '../../src/core/transition.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { startHub, type TestHub } from '../helpers/hub.js';
import { eventDetail, maintenance } from '../helpers/hub-publish.js';
import { natsOrSkip, startNats, type TestNats } from '../helpers/nats.js';
import { dropSchema, PG_URL, postgresOrSkip, uniqueSchema } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

const ready = natsOrSkip() && (await postgresOrSkip());
const VMS = ['vm-1', 'vm-2', 'vm-3', 'vm-4', 'vm-5'];

/** One event's life as its agent reports it: scheduled, moved twice, started, completed. */
function life(vm: string): TransitionRecord[] {
  const { mine: _mine, ...d } = maintenance(vm);
  const at = (min: number) => new Date(Date.now() + min * 60_000).toISOString();
  const rec = (transition: TransitionRecord['transition'], suffix: string, event: object) =>
    ({
      id: `azure/${d.eventId}/${transition}${suffix}`,
      transition,
      event: { ...d, ...event },
      mine: true,
      observedAt: new Date().toISOString(),
    }) as TransitionRecord;
  return [
    rec('scheduled', '', {}),
    rec('rescheduled', '/1', { notBefore: at(30) }),
    rec('rescheduled', '/2', { notBefore: at(45) }),
    rec('started', '', { notBefore: at(45), status: 'started' }),
    rec('completed', '', { notBefore: at(45), status: 'completed' }),
  ];
}

describe.skipIf(!ready)('per-VM order with two hub replicas on one NATS consumer', () => {
  let nats: TestNats;
  let schema: string;
  let hubs: TestHub[] = [];
  const links: NatsLink[] = [];
  beforeEach(async () => {
    nats = await startNats(VMS);
    schema = uniqueSchema('natsorder');
  });
  afterEach(async () => {
    await Promise.all(links.splice(0).map((l) => l.close()));
    await Promise.all(hubs.map((h) => h.close()));
    hubs = [];
    await nats.stop();
    await dropSchema(schema);
  });

  it('stores every VM’s transitions in publish order', { timeout: 60_000 }, async () => {
    const replica = async () =>
      startHub({
        store: await PostgresStore.open({ url: PG_URL, schema, poolSize: 4 }),
        releaseLeasesAtStart: false,
        nats: nats.hub(),
      });
    hubs = [await replica(), await replica()];
    await Promise.all(hubs.map((h) => h.hub.nats!.ready));
    const lives = VMS.map((vm) => ({ vm, events: [life(vm), life(vm)] }));
    // Each agent publishes its two events' transitions in one go, all agents at once.
    await Promise.all(
      lives.map(async ({ vm, events }) => {
        const link = new NatsLink(nats.agent(vm), vm);
        links.push(link);
        const p = new NatsPublisher(link);
        const [a, b] = events;
        await p.publish(a!.flatMap((t, i) => [t, b![i]!]));
      }),
    );
    for (const { events } of lives)
      for (const sent of events) {
        const id = sent[0]!.event.eventId;
        const detail = await waitFor(async () => {
          const d = await eventDetail(hubs[0]!, id).catch(() => undefined);
          return d?.transitions.length === 5 ? d : undefined;
        }, 30_000);
        expect(detail.transitions.map((t: { ceId: string }) => t.ceId)).toEqual(sent.map((t) => t.id));
        expect(detail.event.notBefore).toBe(sent[2]!.event.notBefore);
        expect(detail.event.status).toBe('completed');
      }
    // One replica consumed all 50 messages; the other stood by.
    const consumed = async (h: TestHub) => {
      const text = await h.hub.metrics.registry.getSingleMetricAsString('forewarn_nats_consumed_total');
      return Number(/ (\d+)$/m.exec(text)?.[1] ?? 0);
    };
    const counts = await Promise.all(hubs.map(consumed));
    expect(counts.sort((a, b) => a - b)).toEqual([0, 50]);

    // The consumer stops (cleanly: it gives the lease up); the standby takes over and stores the rest.
    const first = (await consumed(hubs[0]!)) === 50 ? hubs[0]! : hubs[1]!;
    const second = hubs.find((h) => h !== first)!;
    await first.close();
    hubs = [second];
    const more = life(VMS[0]!);
    const link = new NatsLink(nats.agent(VMS[0]!), VMS[0]!);
    links.push(link);
    await new NatsPublisher(link).publish(more);
    const detail = await waitFor(async () => {
      const d = await eventDetail(second!, more[0]!.event.eventId).catch(() => undefined);
      return d?.transitions.length === 5 ? d : undefined;
    }, 30_000);
    expect(detail.transitions.map((t: { ceId: string }) => t.ceId)).toEqual(more.map((t) => t.id));
  });
});
