// The Alibaba and Tencent spot sources against the simulator over real HTTP: 404 means none,
// each cloud's date format, Alibaba's hardened-mode token, garbled answers as failed polls.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSim, type TestSim } from '../../test/helpers/sim.js';
import { AlibabaMetadataSource, identifyAlibabaVm, parseAlibabaTermination } from './alibaba.js';
import { SourceError } from './source.js';
import { identifyTencentVm, parseTencentTermination, TencentMetadataSource } from './tencent.js';

let t: TestSim;
beforeEach(async () => {
  t = await startSim();
  const fleet = t.sim.controller.fleet;
  fleet.add({ name: 'ecs-01', provider: 'alibaba' });
  fleet.add({ name: 'ecs-hard', provider: 'alibaba', httpTokens: 'required' });
  fleet.add({ name: 'cvm-01', provider: 'tencent' });
});
afterEach(() => t.close());

const ali = (vm: string, extra: Partial<ConstructorParameters<typeof AlibabaMetadataSource>[0]> = {}) =>
  new AlibabaMetadataSource({ baseUrl: `${t.url}/vm/${vm}`, vm, ...extra });
const tencent = () => new TencentMetadataSource({ baseUrl: `${t.url}/vm/cvm-01`, vm: 'cvm-01' });
const whole = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString();
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('Alibaba source', () => {
  it('reads 404 as no reclamation, then the termination time as a preempt event', async () => {
    const s = ali('ecs-01');
    expect((await s.poll()).events).toEqual([]);
    const [a] = t.sim.controller.schedule({ type: 'spot-termination', targets: { vms: ['ecs-01'] } });
    expect((await s.poll()).events).toEqual([
      expect.objectContaining({
        provider: 'alibaba',
        eventId: `ecs-01:spot-termination:${whole(a!.notBefore)}`,
        type: 'preempt',
        status: 'scheduled',
        notBefore: whole(a!.notBefore),
        resources: ['ecs-01'],
      }),
    ]);
    expect(a!.notBefore - a!.createdAt).toBe(5 * 60_000); // five minutes' notice (§4.1)
  });

  it('reads in hardened mode with a session token, and fails without one', async () => {
    t.sim.controller.schedule({ type: 'spot-termination', targets: { vms: ['ecs-hard'] } });
    expect((await ali('ecs-hard').poll()).events).toHaveLength(1);
    const log = t.sim.context.log.list({ vm: 'ecs-hard' });
    expect(log.map((r) => `${r.method} ${r.status}`)).toEqual(['PUT 200', 'GET 200']);
    expect(await failure(ali('ecs-hard', { token: false }).poll())).toMatchObject({
      kind: 'http',
      status: 401,
    });
  });

  it('takes a garbled time as a failed poll', async () => {
    t.sim.controller.schedule({ type: 'spot-termination', targets: { vms: ['ecs-01'] } });
    t.sim.faults.set({ malformedRate: 1, malformedKind: 'truncated', endpoints: ['alibaba'] }, 'ecs-01');
    expect(await failure(ali('ecs-01').poll())).toMatchObject({ kind: 'parse' });
    for (const bad of ['', 'soon', '20190409T121826.922+0800', '2015-01-05 18:02:00'])
      expect(() => parseAlibabaTermination(bad, 'vm', 0)).toThrow(SourceError);
  });

  it('identifies the instance', async () => {
    expect((await identifyAlibabaVm(`${t.url}/vm/ecs-01`)).name).toMatch(/^i-bp1[0-9a-z]{17}$/);
  });
});

describe('Tencent source', () => {
  it('reads 404 as no reclamation, then the UTC+8 time as a preempt event', async () => {
    const s = tencent();
    expect((await s.poll()).events).toEqual([]);
    const [a] = t.sim.controller.schedule({ type: 'spot-termination', targets: { vms: ['cvm-01'] } });
    const raw = await (await fetch(`${t.url}/vm/cvm-01/latest/meta-data/spot/termination-time`)).text();
    expect(raw).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect((await s.poll()).events).toEqual([
      expect.objectContaining({
        provider: 'tencent',
        type: 'preempt',
        notBefore: whole(a!.notBefore),
        raw: { terminationTime: raw },
      }),
    ]);
  });

  it('takes a garbled time or a server error as a failed poll', async () => {
    t.sim.controller.schedule({ type: 'spot-termination', targets: { vms: ['cvm-01'] } });
    t.sim.faults.set({ malformedRate: 1, malformedKind: 'garbage', count: 1 }, 'cvm-01');
    expect(await failure(tencent().poll())).toMatchObject({ kind: 'parse' });
    t.sim.faults.set({ errorRate: 1, errorStatus: 502, count: 1 }, 'cvm-01');
    expect(await failure(tencent().poll())).toMatchObject({ kind: 'http', status: 502 });
    expect((await tencent().poll()).events).toHaveLength(1);
    for (const bad of ['', '2018-08-18T12:05:33Z', '2018-08-18 12:05:33+08:00', '2018-13-18 12:05:33'])
      expect(() => parseTencentTermination(bad, 'vm', 0)).toThrow(SourceError);
  });

  it('identifies the instance', async () => {
    expect((await identifyTencentVm(`${t.url}/vm/cvm-01`)).name).toMatch(/^ins-[0-9a-z]{8}$/);
  });
});
