// Azure snapshots end to end, on both stores: an agent's Azure scheduled event (a reboot) → the
// `snapshot` action with `provider: azure`, through the official @azure/arm-compute SDK against
// the simulator's ARM front: the VM's managed disks each get exactly one snapshot, even though one
// PUT is throttled (429) and the step retried (ARM's PUT of the same name is idempotent). A bad
// token fails for good with ARM's code; nothing is snapshotted.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SIM_CLOUD_KEYS } from '../../src/simulator/cloud-inventory.js';
import { tempDir } from '../helpers/agent.js';
import { READER, startHub, type TestHub } from '../helpers/hub.js';
import { cloudEvent, maintenance, publishOne } from '../helpers/hub-publish.js';
import { startSim, type TestSim } from '../helpers/sim.js';
import { waitFor } from '../helpers/wait.js';

let t: TestSim;
let h: TestHub | undefined;
beforeEach(async () => {
  t = await startSim();
  // The token as a sidecar would leave it: in a file.
  const tokenFile = join(tempDir(), 'arm-token');
  writeFileSync(tokenFile, `${SIM_CLOUD_KEYS.arm.secret}\n`);
  vi.stubEnv('AZURE_ACCESS_TOKEN_FILE', tokenFile);
  vi.stubEnv('AZURE_ACCESS_TOKEN', undefined);
});
afterEach(async () => {
  await h?.close();
  await t.close();
  h = undefined;
  vi.unstubAllEnvs();
});

async function setup(withExtra: Record<string, unknown> = {}) {
  const vm = t.sim.controller.fleet.add({ name: 'az-01' });
  vi.stubEnv('AZURE_SUBSCRIPTION_ID', vm.subscriptionId);
  await t.control('PUT', '/cloud/vms/az-01/disks', { dataDisks: 2 });
  await t.control('PATCH', '/config', { timeScale: 1000 });
  h = await startHub({
    rules: [
      {
        name: 'snapshot-before-reboot',
        match: { providers: ['azure'], types: ['reboot'] },
        steps: [
          {
            name: 'snapshot',
            action: 'snapshot',
            retry: { maxAttempts: 3 },
            with: {
              provider: 'azure',
              resourceGroup: vm.resourceGroup,
              endpoint: t.url,
              tags: { purpose: 'pre-maintenance' },
              pollInterval: '50ms',
              ...withExtra,
            },
          },
        ],
      },
    ],
  });
  const data = maintenance('az-01');
  const res = await publishOne(h, h.agentToken('az-01'), cloudEvent(data));
  expect(res.status).toBe(200);
  return { vm, data, key: `azure/${String(data.eventId).toLowerCase()}` };
}

async function finished(eventKey: string) {
  const step = await waitFor(async () => {
    await h!.hub.idle();
    const res = await h!.api('GET', `/api/v1/steps?event=${encodeURIComponent(eventKey)}`, undefined, READER);
    return (res.body.steps as any[]).find((s) => s.status === 'succeeded' || s.status === 'dead');
  }, 20_000);
  const detail = await h!.api('GET', `/api/v1/steps/${step.id}`, undefined, READER);
  return { ...detail.body.step, attempts: detail.body.attempts } as Record<string, any>;
}

const simSnapshots = async () =>
  ((await (await t.control('GET', '/cloud/snapshots')).json()) as { snapshots: any[] }).snapshots;

describe('Azure: a scheduled reboot → a snapshot of every managed disk', () => {
  it('snapshots each disk exactly once through a throttled PUT and a retry, waiting for each', async () => {
    // The second snapshot PUT is throttled once: the first attempt fails after one snapshot.
    await t.control('PUT', '/cloud/faults', [
      { api: 'arm', action: 'CreateSnapshot', kind: 'throttle', after: 1, count: 1 },
    ]);
    const { data, key } = await setup({ wait: true });
    const step = await finished(key);
    expect(step.status).toBe('succeeded');
    expect(step.attempts).toHaveLength(2);
    expect(step.attempts[0]).toMatchObject({
      ok: false,
      retryable: true,
      output: { code: 'TooManyRequests' },
    });
    expect(step.attempts[0].output.snapshots).toHaveLength(1);

    const disks = ((await (await t.control('GET', '/cloud/disks')).json()) as { disks: any[] }).disks.filter(
      (d) => d.vm === 'az-01',
    );
    expect(disks.map((d) => d.type)).toEqual(['system', 'data', 'data']);
    const snapshots = await simSnapshots();
    expect(snapshots.map((s) => s.diskId).sort()).toEqual(disks.map((d) => d.diskId).sort());
    for (const s of snapshots)
      expect(s).toMatchObject({
        cloud: 'arm',
        vm: 'az-01',
        status: 'accomplished',
        tags: {
          'forewarn:event': data.eventId,
          'forewarn:rule': 'snapshot-before-reboot',
          purpose: 'pre-maintenance',
        },
      });
    // The run records the snapshots' resource ids, OS disk first, all provisioned.
    const out = step.attempts[1].output;
    expect(out).toMatchObject({ provider: 'azure', vm: 'az-01' });
    expect(out.snapshots.map((s: any) => s.diskId)).toEqual(disks.map((d) => d.diskId));
    expect(out.snapshots.map((s: any) => s.snapshotId).sort()).toEqual(
      snapshots.map((s) => s.snapshotId).sort(),
    );
    expect(out.snapshots.every((s: any) => s.status === 'Succeeded')).toBe(true);
    expect(JSON.stringify(step)).not.toContain(SIM_CLOUD_KEYS.arm.secret);
    expect(out.snapshots[0].snapshotId).toMatch(
      /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[^/]+\/providers\/Microsoft\.Compute\/snapshots\/forewarn-[0-9a-f]{16}-az-01_OsDisk_1_/,
    );
  });

  it('without wait, the step ends once every PUT is accepted, with the snapshots’ ids', async () => {
    await t.control('PATCH', '/cloud/config', { snapshotDuration: '1000h' });
    const { key } = await setup();
    const step = await finished(key);
    expect(step.status).toBe('succeeded');
    const out = step.attempts[0].output;
    expect(out.snapshots.map((s: any) => s.status)).toEqual(['Creating', 'Creating', 'Creating']);
    const snapshots = await simSnapshots();
    expect(snapshots.every((s) => s.status === 'progressing')).toBe(true);
    expect(out.snapshots.map((s: any) => s.snapshotId).sort()).toEqual(
      snapshots.map((s) => s.snapshotId).sort(),
    );
  });

  it('a bad token fails at once with InvalidAuthenticationToken; nothing is snapshotted', async () => {
    vi.stubEnv('AZURE_ACCESS_TOKEN', 'not-the-token');
    const { key } = await setup();
    const step = await finished(key);
    expect(step.status).toBe('dead');
    expect(step.attempts).toHaveLength(1);
    expect(step.attempts[0]).toMatchObject({
      retryable: false,
      output: { code: 'InvalidAuthenticationToken' },
    });
    expect(JSON.stringify(step)).not.toContain('not-the-token');
    expect(await simSnapshots()).toEqual([]);
  });

  it('no credential configured fails without a retry, saying which variables to set', async () => {
    vi.stubEnv('AZURE_ACCESS_TOKEN_FILE', undefined);
    const { key } = await setup();
    const step = await finished(key);
    expect(step.status).toBe('dead');
    expect(step.attempts).toHaveLength(1);
    expect(step.attempts[0]).toMatchObject({
      retryable: false,
      detail: expect.stringContaining('AZURE_ACCESS_TOKEN'),
    });
  });

  it('an unknown resource group is a 404 ResourceNotFound, not retried', async () => {
    const { key } = await setup({ resourceGroup: 'elsewhere' });
    const step = await finished(key);
    expect(step.attempts).toHaveLength(1);
    expect(step.attempts[0]).toMatchObject({ retryable: false, output: { code: 'ResourceNotFound' } });
  });
});
