// Each injected fault over real HTTP: what a client sees, that it is per VM or global, and that
// `count` clears it. Rates of 1 keep the tests deterministic; FaultInjector tests cover rates.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultInjector, malform } from '../../src/simulator/faults.js';
import { SE, startSim, type TestSim } from '../helpers/sim.js';

let t: TestSim;
beforeEach(async () => {
  t = await startSim();
});
afterEach(async () => {
  await t.close();
});

const get = (vm: string, path = SE + '2020-07-01') => t.imds(vm, path);
const setFaults = async (spec: Record<string, unknown>, vm?: string) => {
  const res = await t.control('PUT', vm ? `/vms/${vm}/faults` : '/faults', spec);
  expect(res.status).toBe(200);
};

describe('fault injection over HTTP', () => {
  it.each([500, 410, 503])('answers %i at errorRate 1, on this VM only', async (status) => {
    await setFaults({ errorRate: 1, errorStatus: status }, 'web-01');
    const res = await get('web-01');
    expect(res.status).toBe(status);
    expect(typeof (await res.json()).error).toBe('string');
    expect((await get('web-02')).status).toBe(200);
  });

  it('global faults hit every VM; a VM’s own faults replace them', async () => {
    await setFaults({ errorRate: 1 });
    await setFaults({ latencyMs: 1 }, 'solo');
    expect((await get('web-01')).status).toBe(500);
    expect((await get('web-02')).status).toBe(500);
    expect((await get('solo')).status).toBe(200);
    expect((await t.control('DELETE', '/faults')).status).toBe(200);
    expect((await get('web-01')).status).toBe(200);
  });

  it('DELETE /sim/faults clears only the global spec, like clearFaults: {}; ?all=true clears every spec', async () => {
    await setFaults({ errorRate: 1 });
    await setFaults({ errorRate: 1, errorStatus: 503 }, 'solo');
    const cleared = await t.control('DELETE', '/faults');
    expect(cleared.status).toBe(200);
    expect(await cleared.json()).toEqual({ vms: { solo: { errorRate: 1, errorStatus: 503 } } });
    expect((await get('web-01')).status).toBe(200);
    expect((await get('solo')).status).toBe(503);

    await setFaults({ errorRate: 1 });
    const all = await t.control('DELETE', '/faults?all=true');
    expect(all.status).toBe(200);
    expect(await all.json()).toEqual({ vms: {} });
    expect((await get('solo')).status).toBe(200);
    expect((await get('web-01')).status).toBe(200);

    const bad = await t.control('DELETE', '/faults?all=yes');
    expect(bad.status).toBe(400);
    expect((await bad.json()).message).toMatch(/querystring\/all/);
  });

  it('count clears the fault after that many requests', async () => {
    await setFaults({ errorRate: 1, errorStatus: 410, count: 2 }, 'web-01');
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await get('web-01')).status);
    expect(statuses).toEqual([410, 410, 200, 200]);
    expect((await (await t.control('GET', '/faults')).json()).vms).toEqual({});
  });

  it('adds latency', async () => {
    await setFaults({ latencyMs: 250 }, 'web-01');
    const start = performance.now();
    expect((await get('web-01')).status).toBe(200);
    expect(performance.now() - start).toBeGreaterThanOrEqual(240);
  });

  it('hangs past a client timeout, and the server still closes promptly', async () => {
    await setFaults({ hangRate: 1, hangMs: 600_000 }, 'web-01');
    await expect(t.imds('web-01', SE + '2020-07-01', { signal: AbortSignal.timeout(200) })).rejects.toThrow(
      /abort|timeout/i,
    );
    const pending = get('web-01').catch((err: Error) => err); // still hanging when we close
    await new Promise((r) => setTimeout(r, 50));
    const start = performance.now();
    await t.close();
    expect(performance.now() - start).toBeLessThan(5000);
    await pending;
    t = await startSim(); // for afterEach
  });

  it.each([
    ['truncated', (s: string) => s.startsWith('{"DocumentIncarnation"') && !isJson(s)],
    ['garbage', (s: string) => s.startsWith('<html>')],
    ['empty', (s: string) => s === ''],
    ['wrong-shape', (s: string) => isJson(s) && typeof JSON.parse(s).DocumentIncarnation === 'string'],
  ])('serves %s bodies with status 200', async (kind, check) => {
    t.sim.controller.schedule({ type: 'Freeze', targets: { vms: ['web-01'] } });
    await setFaults({ malformedRate: 1, malformedKind: kind }, 'web-01');
    const res = await get('web-01');
    expect(res.status).toBe(200);
    expect(check(await res.text())).toBe(true);
  });

  it('serves an incarnation that goes backwards, then the real one again', async () => {
    const c = t.sim.controller;
    for (let i = 0; i < 3; i++) c.schedule({ type: 'Freeze', targets: { vms: ['solo'] } });
    const real = (await (await get('solo')).json()).DocumentIncarnation;
    await setFaults({ incarnationBackwardsRate: 1, count: 1 }, 'solo');
    const back = (await (await get('solo')).json()).DocumentIncarnation;
    expect(back).toBeLessThan(real);
    expect((await (await get('solo')).json()).DocumentIncarnation).toBe(real);
  });

  it('makes events vanish without starting while the controller still holds them', async () => {
    const [e] = t.sim.controller.schedule({ type: 'Reboot', targets: { vms: ['solo'] } });
    const real = await (await get('solo')).json();
    await setFaults({ vanishRate: 1, count: 1 }, 'solo');
    const vanished = await (await get('solo')).json();
    expect(vanished).toEqual({ DocumentIncarnation: real.DocumentIncarnation, Events: [] });
    expect(await (await get('solo')).json()).toEqual(real);
    expect(t.sim.controller.get(e!.eventId).status).toBe('Scheduled');
  });

  it('limits faults to the listed endpoints', async () => {
    await setFaults({ errorRate: 1, endpoints: ['legacy'] }, 'web-01');
    expect((await get('web-01')).status).toBe(200);
    expect((await get('web-01', '/metadata/v1/maintenance')).status).toBe(500);
  });

  it('records which faults hit which request', async () => {
    await setFaults({ errorRate: 1, count: 1 }, 'web-02');
    await get('web-02');
    await get('web-02');
    const log = (await (await t.control('GET', '/requests?vm=web-02')).json()).requests;
    expect(log.map((r: { status: number; faults?: string[] }) => [r.status, r.faults])).toEqual([
      [500, ['status 500']],
      [200, undefined],
    ]);
  });

  it('rejects a bad fault spec and keeps the old one', async () => {
    await setFaults({ latencyMs: 1 }, 'web-01');
    for (const spec of [
      { errorRate: 2 },
      { malformedKind: 'weird' },
      { bogus: true },
      { errorRate: '0.5' },
    ]) {
      const res = await t.control('PUT', '/vms/web-01/faults', spec);
      expect(res.status).toBe(400);
    }
    expect((await t.control('PUT', '/vms/ghost/faults', { errorRate: 1 })).status).toBe(404);
    expect((await (await t.control('GET', '/faults')).json()).vms).toEqual({ 'web-01': { latencyMs: 1 } });
  });
});

describe('FaultInjector rates', () => {
  it('fires at about the configured rate', () => {
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12345) % 2 ** 31) / 2 ** 31;
    const f = new FaultInjector(random);
    f.set({ errorRate: 0.3 });
    let errors = 0;
    for (let i = 0; i < 10_000; i++) if (f.decide('vm', 'scheduledevents').errorStatus) errors++;
    expect(errors / 10_000).toBeGreaterThan(0.27);
    expect(errors / 10_000).toBeLessThan(0.33);
  });

  it('malform never returns valid JSON of the original', () => {
    const body = JSON.stringify({ DocumentIncarnation: 3, Events: [] });
    for (const kind of ['truncated', 'garbage', 'empty'] as const)
      expect(isJson(malform(body, kind))).toBe(false);
  });
});

function isJson(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}
