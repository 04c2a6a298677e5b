// A light model of a fleet of agents for the fleet benchmark: no processes, just what the hub sees
// of them — each agent's heartbeat (POST /api/v1/agents/:vm/heartbeat with its own derived token)
// and its event reports (a CloudEvents batch), sent over a few keep-alive connections.
import { Pool } from 'undici';
import { deriveAgentToken } from '../../src/hub/auth.js';
import { BATCH_CONTENT_TYPE, VmBatcher, eventIdOf } from './ce-batch.js';

export interface PacedResult {
  offered: number;
  ok: number;
  failed: number;
  /** Not sent: the hub was so far behind that this many were already waiting (an agent's would time out). */
  skipped: number;
  /** Per request, from its scheduled send time (so queueing in the client counts too). */
  latencies: number[];
  wallMs: number;
}

export const fleetVm = (i: number) => `fleet-vm-${String(i).padStart(6, '0')}`;

export class FleetLoad {
  /** Heartbeats and event reports on connections of their own, as an agent's would be. */
  private readonly heartbeats: Pool;
  private readonly reports: Pool;
  /** Heartbeats waiting for an answer, at most: beyond it the hub is behind and more would only queue. */
  private readonly maxInFlight: number;
  private readonly tokens = new Map<number, string>();
  private readonly notBefore = new Date(Date.now() + 3_600_000).toISOString();
  private readonly runTag = (Date.now() & 0x7fffffff) >>> 0;
  private next = 0;

  constructor(
    url: string,
    private readonly secret: string,
    readonly agents: number,
    connections: number,
  ) {
    const options = { connections, pipelining: 1, keepAliveTimeout: 60_000 };
    this.heartbeats = new Pool(url, options);
    this.reports = new Pool(url, options);
    this.maxInFlight = connections * 8;
  }

  private token(i: number): string {
    let t = this.tokens.get(i);
    if (!t) {
      t = `Bearer ${deriveAgentToken(this.secret, fleetVm(i))}`;
      this.tokens.set(i, t);
    }
    return t;
  }

  async heartbeat(i: number): Promise<boolean> {
    const vm = fleetVm(i);
    const res = await this.heartbeats.request({
      method: 'POST',
      path: `/api/v1/agents/${vm}/heartbeat`,
      headers: { 'content-type': 'application/json', authorization: this.token(i) },
      body: JSON.stringify({ agentVersion: '0.1.0', vm: { name: vm }, pollOk: true, spooled: 0 }),
    });
    await res.body.text();
    return res.statusCode === 200;
  }

  async report(i: number): Promise<boolean> {
    const b = new VmBatcher(fleetVm(i), this.notBefore);
    const res = await this.reports.request({
      method: 'POST',
      path: '/api/v1/events',
      headers: { 'content-type': BATCH_CONTENT_TYPE, authorization: this.token(i) },
      body: b.batch([eventIdOf(this.runTag, i, 0)]),
    });
    await res.body.text();
    return res.statusCode === 200;
  }

  /** Heartbeats at `ratePerS`, agents in turn (each at most once per agents / rate seconds), until `stop()`. */
  async paced(ratePerS: number, stop: (elapsedMs: number) => boolean): Promise<PacedResult> {
    const latencies: number[] = [];
    const inFlight = new Set<Promise<void>>();
    let ok = 0;
    let failed = 0;
    let issued = 0;
    let skipped = 0;
    const t0 = performance.now();
    while (!stop(performance.now() - t0)) {
      const due = Math.floor(((performance.now() - t0) / 1000) * ratePerS);
      for (; issued < due; issued++) {
        const scheduled = t0 + (issued / ratePerS) * 1000;
        const i = this.next++ % this.agents;
        if (inFlight.size >= this.maxInFlight) {
          skipped++;
          continue;
        }
        const p: Promise<void> = this.heartbeat(i)
          .then((good) => {
            if (good) ok++;
            else failed++;
            latencies.push(performance.now() - scheduled);
          })
          .catch(() => void failed++)
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(inFlight), new Promise((r) => (timer = setTimeout(r, 30_000)))]);
    clearTimeout(timer);
    return { offered: issued, ok, failed, skipped, latencies, wallMs: performance.now() - t0 };
  }

  /** One event report from each of `count` agents, `concurrency` at a time, as fast as the hub takes them. */
  async wave(count: number, concurrency: number): Promise<PacedResult> {
    const latencies: number[] = [];
    let ok = 0;
    let failed = 0;
    let n = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (n < count) {
          const i = Math.floor((n++ * this.agents) / count);
          const s = performance.now();
          try {
            if (await this.report(i)) ok++;
            else failed++;
          } catch {
            failed++;
          }
          latencies.push(performance.now() - s);
        }
      }),
    );
    return { offered: count, ok, failed, skipped: 0, latencies, wallMs: performance.now() - t0 };
  }

  /** Drops whatever is still queued (close() would wait for it). */
  async close(): Promise<void> {
    await Promise.all([this.heartbeats.destroy(), this.reports.destroy()]);
  }
}
