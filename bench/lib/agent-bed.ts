// The agent benchmarks' test bed, all in the bench process: the simulator (default 5 rps IMDS
// limit per VM), recording every Scheduled Events document it sends with the time it was sent, and
// a minimal receiver standing in for the hub. Each event is cancelled once the receiver has seen
// its `scheduled` transition, so a VM's document stays as small as a real one's.
import { createSimulator, type Simulator } from '../../src/simulator/server.js';
import { AGENT_TOKEN } from './agent-child.js';
import { startReceiver, type Receiver } from './receiver.js';
import { wallNow } from './stats.js';

export interface Served {
  at: number;
  status: number;
  body: string;
}

export interface Tracked {
  vm: string;
  createdAt: number;
  /** The simulator sent the first document that holds the event. */
  servedAt?: number;
  receivedAt?: number;
  duplicates: number;
}

export interface AgentBed {
  sim: Simulator;
  simUrl: string;
  receiver: Receiver;
  tracked: Map<string, Tracked>;
  /** Documents served per VM (VMs named *-rtt are not recorded). */
  served: Map<string, Served[]>;
  polls(vm: string, from?: number, to?: number): Served[];
  close(): Promise<void>;
}

export async function startAgentBed(): Promise<AgentBed> {
  const sim = await createSimulator();
  const served = new Map<string, Served[]>();
  sim.app.addHook('onSend', async (req, reply, payload) => {
    const m = /^\/vm\/([^/]+)\/metadata\/scheduledevents/.exec(req.url);
    if (m && req.method === 'GET' && !m[1]!.endsWith('-rtt')) {
      const vm = decodeURIComponent(m[1]!);
      const list = served.get(vm) ?? [];
      list.push({
        at: wallNow(),
        status: reply.statusCode,
        body: typeof payload === 'string' ? payload : '',
      });
      served.set(vm, list);
    }
    return payload;
  });
  const simUrl = await sim.listen(0, '127.0.0.1');
  const receiver = await startReceiver(AGENT_TOKEN);
  const tracked = new Map<string, Tracked>();
  receiver.onEvent = (e) => {
    const id = e.data.eventId;
    const t = id ? tracked.get(id) : undefined;
    if (!t || e.type !== 'forewarn.maintenance.scheduled') return;
    if (t.receivedAt !== undefined) {
      t.duplicates++;
      return;
    }
    t.receivedAt = e.at;
    setImmediate(() => {
      try {
        sim.controller.cancel(id!);
      } catch {
        /* already gone */
      }
    });
  };
  return {
    sim,
    simUrl,
    receiver,
    tracked,
    served,
    polls: (vm, from = -Infinity, to = Infinity) =>
      (served.get(vm) ?? []).filter((s) => s.at >= from && s.at <= to),
    async close() {
      await receiver.close();
      await sim.close();
    },
  };
}
