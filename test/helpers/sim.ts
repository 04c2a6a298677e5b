// Starts a real simulator on a free port with a small fleet, for tests that speak HTTP to it.
import { createSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/server.js';

export interface TestSim {
  sim: Simulator;
  url: string;
  /** GET/POST a VM's metadata path with the Metadata header unless `headers` says otherwise. */
  imds(vm: string | null, path: string, init?: RequestInit): Promise<Response>;
  control(method: string, path: string, body?: unknown): Promise<Response>;
  close(): Promise<void>;
}

export async function startSim(options: SimulatorOptions = {}): Promise<TestSim> {
  const sim = await createSimulator({ rateLimit: 0, ...options });
  for (const [name, extra] of [
    ['web-01', { availabilitySet: 'web-as', pool: 'web', faultDomain: 0, zone: '1', tags: { role: 'web' } }],
    ['web-02', { availabilitySet: 'web-as', pool: 'web', faultDomain: 1, zone: '1', tags: { role: 'web' } }],
    ['solo', { pool: 'other' }],
  ] as const) {
    sim.controller.fleet.add({ name, ...extra });
  }
  const url = await sim.listen(0);
  return {
    sim,
    url,
    imds(vm, path, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has('metadata') && !headers.has('x-no-metadata')) headers.set('Metadata', 'true');
      headers.delete('x-no-metadata');
      return fetch(`${url}${vm ? `/vm/${vm}` : ''}${path}`, { ...init, headers });
    },
    control(method, path, body) {
      return fetch(`${url}/sim${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    },
    close: () => sim.close(),
  };
}

export const SE = '/metadata/scheduledevents?api-version=';

/** A seeded PRNG (mulberry32), so fault injection at a rate is the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), a | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
