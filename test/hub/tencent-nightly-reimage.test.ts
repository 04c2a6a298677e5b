// Issue #9's second original flow end to end, on both stores: examples/tencent-nightly-reimage
// (a timer rule at 03:00 Asia/Shanghai → `reset`, Tencent CVM ResetInstance through the official
// SDK) against the simulator's CVM API. The hub's clock is moved by the test and slots fire on
// `scheduler.tick()`; the simulator runs its cloud time 1000× faster. Two nights → exactly two
// reinstalls per build server, each at its night's slot, none for other ticks or other VMs, and
// with the example's pool budget of one the second server's reinstall starts only after the
// first one's finished (ordering in the simulator's record, not timing).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadHubConfig } from '../../src/hub/config.js';
import type { RuleT } from '../../src/hub/rules.js';
import { SIM_CLOUD_KEYS } from '../../src/simulator/cloud-inventory.js';
import { tencentInstanceId } from '../../src/simulator/tencent-metadata.js';
import { tempDir } from '../helpers/agent.js';
import { READER, startHub, type TestHub } from '../helpers/hub.js';
import { startSim, type TestSim } from '../helpers/sim.js';
import { waitFor } from '../helpers/wait.js';
import { testClock } from '../helpers/clock.js';

let t: TestSim;
let h: TestHub | undefined;
beforeEach(async () => {
  t = await startSim();
  // As the example's README says: the id in the environment, the key in a file.
  const keyFile = join(tempDir(), 'tc-secret-key');
  writeFileSync(keyFile, `${SIM_CLOUD_KEYS.cvm.secret}\n`);
  vi.stubEnv('TENCENTCLOUD_SECRET_ID', SIM_CLOUD_KEYS.cvm.id);
  vi.stubEnv('TENCENTCLOUD_SECRET_KEY_FILE', keyFile);
  vi.stubEnv('TENCENTCLOUD_SECRET_KEY', undefined);
});
afterEach(async () => {
  await h?.close();
  await t.close();
  h = undefined;
  vi.unstubAllEnvs();
});

describe('examples/tencent-nightly-reimage: a cron rule → ResetInstance every night', () => {
  it('reinstalls each build server once per night at 03:00 Shanghai time, one at a time', async () => {
    const agentSecret = join(tempDir(), 'agent-secret');
    writeFileSync(agentSecret, 'a-long-enough-agent-secret\n');
    const config = loadHubConfig(
      'examples/tencent-nightly-reimage/hub.yaml',
      {},
      { 'auth.agentSecretFile': agentSecret },
    );
    const [rule] = config.rules as RuleT[];
    expect(rule!.schedule).toMatchObject({ cron: '0 3 * * *', timezone: 'Asia/Shanghai' });
    // The example's rule as written, pointed at the simulator and polling faster.
    const rules = (config.rules as RuleT[]).map((r) => ({
      ...r,
      steps: r.steps.map((s) => ({ ...s, with: { ...s.with, endpoint: t.url, pollInterval: '50ms' } })),
    }));
    const clock = testClock('2026-11-22T12:00:00Z');
    h = await startHub({ now: clock.now, scheduleTimer: false, rules, pools: config.pools });

    // Three Tencent VMs; their agents (named by instance id) say which are build servers.
    const c = t.sim.controller;
    const vms = ['build-1', 'build-2', 'web-1'].map((name) => c.fleet.add({ name, provider: 'tencent' }));
    const iid = Object.fromEntries(vms.map((vm) => [vm.name, tencentInstanceId(vm)]));
    for (const vm of vms) {
      const role = vm.name.startsWith('build') ? 'build' : 'web';
      const res = await h.api(
        'POST',
        `/api/v1/agents/${iid[vm.name]}/heartbeat`,
        { vm: { name: iid[vm.name], tags: { role } } },
        h.agentToken(iid[vm.name]!),
      );
      expect(res.status).toBeLessThan(300);
    }
    await t.control('PATCH', '/config', { timeScale: 1000 });
    const inventory = t.sim.context.cloud;

    const tick = async (iso: string) => {
      clock.set(iso);
      const fired = await h!.hub.scheduler.tick();
      await h!.hub.idle();
      return fired;
    };
    const scheduleEvents = async () =>
      (await h!.api('GET', '/api/v1/events?provider=schedule&limit=500', undefined, READER)).body
        .events as any[];
    /** Waits until every firing so far is completed (its run over), then returns them. */
    const allCompleted = (n: number) =>
      waitFor(async () => {
        await h!.hub.idle();
        const list = await scheduleEvents();
        return list.length === n && list.every((e) => e.status === 'completed') && list;
      }, 20_000);

    expect(await tick('2026-11-22T12:00:00Z')).toBe(0); // a new rule has missed nothing
    expect(await tick('2026-11-22T18:59:00Z')).toBe(0);

    const build = [iid['build-1'], iid['build-2']].sort();
    for (const [night, slot] of [
      [1, '2026-11-22T19:00:00.000Z'], // 03:00 on the 23rd in Shanghai
      [2, '2026-11-23T19:00:00.000Z'], // 03:00 on the 24th
    ] as const) {
      expect(await tick(new Date(Date.parse(slot) + 200).toISOString())).toBe(1);
      const events = await allCompleted(2 * night);
      const tonight = events.filter((e) => e.raw.slot === slot);
      expect(tonight.map((e) => e.resources[0]).sort()).toEqual(build);
      expect(tonight.every((e) => e.type === 'reimage')).toBe(true);

      const resets = inventory.listResets();
      expect(resets).toHaveLength(2 * night);
      const [first, second] = resets.slice(-2);
      // Budget 1: the second server's ResetInstance came after the first one's reinstall was done.
      expect(second!.at).toBeGreaterThanOrEqual(first!.doneAt);
      expect([first!.instanceId, second!.instanceId].sort()).toEqual(build);
      // Each reset is the one tonight's firing asked for (its step recorded the request id).
      for (const e of tonight) {
        const steps = (
          await h.api('GET', `/api/v1/steps?event=${encodeURIComponent(e.key)}`, undefined, READER)
        ).body.steps as any[];
        expect(steps.map((s) => s.status)).toEqual(['succeeded']);
        const detail = await h.api('GET', `/api/v1/steps/${steps[0].id}`, undefined, READER);
        const out = detail.body.attempts.at(-1).output;
        const r = resets.find((x) => x.requestId === out.requestId)!;
        expect(r).toMatchObject({ instanceId: e.resources[0], region: 'ap-shanghai' });
        expect(out).toMatchObject({ instanceId: e.resources[0], state: 'SUCCESS' });
      }

      // Other ticks that night and the next day fire nothing and reinstall nothing.
      for (const other of [60_000, 4 * 3_600_000, 20 * 3_600_000])
        expect(await tick(new Date(Date.parse(slot) + other).toISOString())).toBe(0);
      await h.hub.idle();
      expect(inventory.listResets()).toHaveLength(2 * night);
    }
    // The web server was never touched; the build servers twice each.
    const count = (id: string) => inventory.listResets().filter((r) => r.instanceId === id).length;
    expect(count(iid['web-1']!)).toBe(0);
    expect(build.map((id) => count(id!))).toEqual([2, 2]);
  });
});
