// The simulator's Azure Resource Manager front, called by @azure/arm-compute as the snapshot
// action calls it (armClient + the env/file TokenCredential): a VM's managed disks, a snapshot PUT
// polled through its Azure-AsyncOperation URL, the PUT's idempotency, the client-secret token
// endpoint, the bearer check, ARM's error shape, and faults.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { armClient } from '../../src/actions/snapshot-azure.js';
import { SIM_AZURE_CLIENT } from '../../src/simulator/arm-api.js';
import { SIM_CLOUD_KEYS } from '../../src/simulator/cloud-inventory.js';
import type { SimVm } from '../../src/simulator/fleet.js';
import { tempDir } from '../helpers/agent.js';
import { startSim, type TestSim } from '../helpers/sim.js';

const ENV = [
  'AZURE_ACCESS_TOKEN',
  'AZURE_ACCESS_TOKEN_FILE',
  'AZURE_TENANT_ID',
  'AZURE_CLIENT_ID',
  'AZURE_CLIENT_SECRET',
  'AZURE_CLIENT_SECRET_FILE',
  'AZURE_AUTHORITY_HOST',
];
let t: TestSim;
let vm: SimVm;
beforeEach(async () => {
  t = await startSim();
  vm = t.sim.controller.fleet.add({ name: 'az-01' });
  for (const k of ENV) vi.stubEnv(k, undefined);
  vi.stubEnv('AZURE_ACCESS_TOKEN', SIM_CLOUD_KEYS.arm.secret);
});
afterEach(async () => {
  await t.close();
  vi.unstubAllEnvs();
});

const arm = () => armClient({ endpoint: t.url }, vm.subscriptionId);
const caught = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as Record<string, unknown>,
  );

describe('ARM through @azure/arm-compute', () => {
  it('lists the VM’s managed disks and snapshots one, polling the async operation', async () => {
    await t.control('PUT', '/cloud/vms/az-01/disks', { dataDisks: 2 });
    await t.control('PATCH', '/config', { timeScale: 1000 });
    const got = await arm().virtualMachines.get(vm.resourceGroup, 'az-01');
    const os = got.storageProfile!.osDisk!.managedDisk!.id!;
    expect(os).toMatch(/\/providers\/Microsoft\.Compute\/disks\/az-01_OsDisk_1_[0-9a-f]{32}$/);
    expect(got.storageProfile!.dataDisks!.map((d) => d.lun)).toEqual([0, 1]);

    // The first poll of the operation fails: proof the SDK polls the Azure-AsyncOperation URL.
    await t.control('PUT', '/cloud/faults', [
      { api: 'arm', action: 'GetOperation', kind: 'internal-error', count: 1 },
    ]);
    const snapshot = {
      location: got.location,
      creationData: { createOption: 'Copy' as const, sourceResourceId: os },
    };
    const failed = await caught(
      arm().snapshots.createOrUpdate(vm.resourceGroup, 'snap-os', snapshot, { updateIntervalInMs: 20 }),
    );
    expect(failed).toMatchObject({ statusCode: 500, code: 'InternalServerError' });
    // The same PUT again is the same snapshot (ARM's PUT is idempotent), now polled to the end.
    const done = await arm().snapshots.createOrUpdate(vm.resourceGroup, 'snap-os', snapshot, {
      updateIntervalInMs: 20,
    });
    expect(done).toMatchObject({ name: 'snap-os', provisioningState: 'Succeeded' });
    const all = ((await (await t.control('GET', '/cloud/snapshots')).json()) as { snapshots: any[] })
      .snapshots;
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ cloud: 'arm', diskId: os, snapshotId: done.id, status: 'accomplished' });
    // A different source under the same name is refused: PUT never replaces a snapshot.
    const data = got.storageProfile!.dataDisks![0]!.managedDisk!.id!;
    const conflict = await caught(
      arm()
        .snapshots.createOrUpdate(vm.resourceGroup, 'snap-os', {
          ...snapshot,
          creationData: { createOption: 'Copy', sourceResourceId: data },
        })
        .submitted(),
    );
    expect(conflict).toMatchObject({ statusCode: 409, code: 'PropertyChangeNotAllowed' });
  });

  it('gets a token for a service principal’s client secret, and refuses a wrong one', async () => {
    vi.stubEnv('AZURE_ACCESS_TOKEN', undefined);
    const secretFile = join(tempDir(), 'client-secret');
    writeFileSync(secretFile, `${SIM_AZURE_CLIENT.clientSecret}\n`);
    vi.stubEnv('AZURE_TENANT_ID', SIM_AZURE_CLIENT.tenantId);
    vi.stubEnv('AZURE_CLIENT_ID', SIM_AZURE_CLIENT.clientId);
    vi.stubEnv('AZURE_CLIENT_SECRET_FILE', secretFile);
    vi.stubEnv('AZURE_AUTHORITY_HOST', t.url);
    expect((await arm().virtualMachines.get(vm.resourceGroup, 'az-01')).name).toBe('az-01');
    writeFileSync(secretFile, 'wrong-secret\n');
    expect(await caught(arm().virtualMachines.get(vm.resourceGroup, 'az-01'))).toMatchObject({
      statusCode: 401,
      code: 'invalid_client',
    });
    vi.stubEnv('AZURE_CLIENT_SECRET_FILE', undefined);
    vi.stubEnv('AZURE_TENANT_ID', undefined);
    expect(() => arm()).toThrow(/AZURE_ACCESS_TOKEN/);
  });

  it('answers bad requests in ARM’s error shape, and throttles with 429', async () => {
    const path = `/subscriptions/${vm.subscriptionId}/resourceGroups/${vm.resourceGroup}/providers/Microsoft.Compute/virtualMachines/az-01`;
    const get = (p: string, headers: Record<string, string> = {}) =>
      fetch(`${t.url}${p}`, { headers }).then(async (r) => ({ status: r.status, body: await r.json() }));
    const auth = { authorization: `Bearer ${SIM_CLOUD_KEYS.arm.secret}` };
    expect(await get(`${path}?api-version=2026-03-01`)).toMatchObject({
      status: 401,
      body: { error: { code: 'AuthenticationFailed' } },
    });
    expect(await get(`${path}?api-version=2026-03-01`, { authorization: 'Bearer nope' })).toMatchObject({
      status: 401,
      body: { error: { code: 'InvalidAuthenticationToken' } },
    });
    expect(await get(path, auth)).toMatchObject({
      status: 400,
      body: { error: { code: 'MissingApiVersionParameter' } },
    });
    expect(await get(path.replace('az-01', 'nobody') + '?api-version=1', auth)).toMatchObject({
      status: 404,
      body: { error: { code: 'ResourceNotFound' } },
    });
    await t.control('PUT', '/cloud/faults', [{ api: 'arm', kind: 'throttle', count: 1 }]);
    expect(await caught(arm().virtualMachines.get(vm.resourceGroup, 'az-01'))).toMatchObject({
      statusCode: 429,
      code: 'TooManyRequests',
    });
    expect((await arm().virtualMachines.get(vm.resourceGroup, 'az-01')).name).toBe('az-01');
    // A bad body: 400, and nothing is made.
    const put = await fetch(
      `${t.url}/subscriptions/${vm.subscriptionId}/resourceGroups/${vm.resourceGroup}/providers/Microsoft.Compute/snapshots/s1?api-version=1`,
      {
        method: 'PUT',
        headers: { ...auth, 'content-type': 'application/json' },
        body: '{"location":"westeurope"}',
      },
    );
    expect(put.status).toBe(400);
    expect(((await put.json()) as any).error.code).toBe('InvalidParameter');
    expect(((await (await t.control('GET', '/cloud/snapshots')).json()) as any).snapshots).toEqual([]);
  });
});
