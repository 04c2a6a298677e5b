// `snapshot` on Azure, through @azure/arm-compute: GET the virtual machine, then one snapshot per
// managed disk (the OS disk, then the data disks) with `creationData: {createOption: Copy,
// sourceResourceId}`, polled as the SDK polls a long-running operation (Azure-AsyncOperation,
// then provisioningState) when `wait` is set. ARM's PUT is idempotent: the snapshot name is
// derived from the step's idempotency key and the disk, so a retry PUTs the same names and gets
// the same snapshots, never a second copy. Errors keep ARM's code; 429 and 5xx are retryable,
// other 4xx not. Credentials: azure-credential.ts.
import { createHash } from 'node:crypto';
import { ComputeManagementClient } from '@azure/arm-compute';
import type { TokenCredential } from '@azure/core-auth';
import { bearerTokenAuthenticationPolicyName, type PipelinePolicy } from '@azure/core-rest-pipeline';
import { parseDuration } from '../core/time.js';
import { redact } from '../hub/redact.js';
import { ActionConfigError, type ActionContext } from './action.js';
import { EnvTokenCredential } from './azure-credential.js';
import { call, CloudCallError, isBareHost } from './cloud-common.js';

export interface AzureMade {
  diskId: string;
  diskType: string;
  snapshotId: string;
  name: string;
  status?: string;
}

const SCOPE = 'https://management.azure.com/.default';

/**
 * `<prefix>-<16 hex of key+disk>-<disk name>`, within ARM's snapshot names (1–80 of letters,
 * digits, `_.-`, ending in a letter, digit or `_`): the same for every attempt of this step.
 */
export function azureSnapshotName(prefix: string, idempotencyKey: string, diskId: string): string {
  const disk = diskId.split('/').pop() ?? 'disk';
  const hash = createHash('sha256').update(`${idempotencyKey}/${diskId.toLowerCase()}`).digest('hex');
  const name = `${prefix}-${hash.slice(0, 16)}-${disk}`.replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 80);
  return name.replace(/[.-]+$/, '') || hash.slice(0, 16);
}

/** ARM over plain HTTP (the simulator, a test gateway on a loopback address): the SDK's own
 * bearer policy refuses non-TLS URLs, so this one adds the same header there and nowhere else. */
function plainBearer(credential: TokenCredential): PipelinePolicy {
  return {
    name: 'forewarnPlainHttpBearer',
    async sendRequest(request, next) {
      const token = await credential.getToken(SCOPE, { abortSignal: request.abortSignal });
      if (token) request.headers.set('authorization', `Bearer ${token.token}`);
      return next(request);
    },
  };
}

export function armClient(params: Record<string, unknown>, subscriptionId: string) {
  const credential = new EnvTokenCredential();
  const endpoint = typeof params.endpoint === 'string' ? params.endpoint.replace(/\/+$/, '') : undefined;
  const plain = !!endpoint && endpoint.startsWith('http:') && isBareHost(new URL(endpoint).hostname);
  const client = new ComputeManagementClient(credential, subscriptionId, {
    ...(endpoint ? { endpoint } : {}),
    // The executor retries, with backoff that fits the step's deadline.
    retryOptions: { maxRetries: 0 },
    ...(plain ? { allowInsecureConnection: true } : {}),
  });
  if (plain) {
    client.pipeline.removePolicy({ name: bearerTokenAuthenticationPolicyName });
    client.pipeline.addPolicy(plainBearer(credential), { phase: 'Sign' });
  }
  return client;
}

/** An SDK (RestError) or token failure → ARM's code, and whether a retry can help. */
function armError(call: string, err: unknown): CloudCallError {
  if (err instanceof CloudCallError) return err;
  const e = err as { code?: string; statusCode?: number; message?: string; name?: string };
  if (err instanceof ActionConfigError) throw err;
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const code = typeof e.code === 'string' && status !== undefined ? e.code : undefined;
  // No status: no answer (a network error, a timeout), worth another try.
  const retryable = status === undefined || status === 429 || status >= 500;
  return new CloudCallError(
    `${call}: ${code ? `${code}: ` : status ? `HTTP ${status}: ` : ''}${redact((e.message ?? String(err)).slice(0, 300))}`,
    retryable,
    code ?? (status ? `HTTP${status}` : undefined),
  );
}

const send = <T>(name: string, fn: () => Promise<T>) => call(name, fn, armError);

/** Snapshots every managed disk of the VM; pushes what it made into `made` as it goes. */
export async function snapshotOnAzure(
  ctx: ActionContext,
  params: Record<string, unknown>,
  target: { vmName: string; subscriptionId: string; resourceGroup: string; prefix: string },
  made: AzureMade[],
): Promise<void> {
  const arm = armClient(params, target.subscriptionId);
  const rg = target.resourceGroup;
  const vm = await send('virtualMachines.get', () => arm.virtualMachines.get(rg, target.vmName));
  const storage = vm.storageProfile;
  const disks: { id: string; type: string }[] = [];
  const os = storage?.osDisk?.managedDisk?.id;
  if (os && params.diskType !== 'data') disks.push({ id: os, type: 'system' });
  if (params.diskType !== 'system')
    for (const d of storage?.dataDisks ?? [])
      if (d.managedDisk?.id) disks.push({ id: d.managedDisk.id, type: 'data' });
  if (disks.length === 0)
    throw new CloudCallError(`virtualMachines.get: ${target.vmName} has no managed disks to snapshot`, false);
  const tags = {
    ...((params.tags as Record<string, string> | undefined) ?? {}),
    'forewarn:event': ctx.event.eventId,
    'forewarn:rule': ctx.rule,
  };
  const interval = parseDuration((params.pollInterval as string | undefined) ?? '5s');
  for (const disk of disks) {
    const name = azureSnapshotName(target.prefix, ctx.idempotencyKey, disk.id);
    const poller = arm.snapshots.createOrUpdate(
      rg,
      name,
      {
        location: vm.location,
        tags,
        creationData: { createOption: 'Copy', sourceResourceId: disk.id },
        incremental: params.incremental === true,
      },
      { updateIntervalInMs: interval, abortSignal: ctx.signal },
    );
    const entry: AzureMade = { diskId: disk.id, diskType: disk.type, name, snapshotId: '' };
    if (params.wait === true) {
      const s = await send('snapshots.createOrUpdate', async () => await poller);
      entry.snapshotId = s.id ?? '';
      entry.status = s.provisioningState;
    } else {
      await send('snapshots.createOrUpdate', () => poller.submitted());
      const s = poller.result ?? (await send('snapshots.get', () => arm.snapshots.get(rg, name)));
      entry.snapshotId = s.id ?? '';
      entry.status = s.provisioningState;
    }
    made.push(entry);
  }
}
