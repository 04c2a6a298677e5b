// Azure Resource Manager (Microsoft.Compute) as @azure/arm-compute calls it: GET a virtual
// machine (storageProfile: the OS disk's and data disks' managed disk ids), PUT/GET a snapshot
// (`creationData: {createOption: Copy, sourceResourceId}`), and the Azure-AsyncOperation URL a
// PUT answers with, which says InProgress until the copy is done (snapshot time, scaled). A PUT of
// a snapshot name that exists changes nothing and answers it as it is: ARM's PUT is idempotent.
// Bearer token checked against the inventory's `arm` keys; errors in ARM's shape
// `{"error":{"code","message"}}` with ARM's statuses; faults from /sim/cloud/faults (api `arm`,
// actions GetVirtualMachine, CreateSnapshot, GetSnapshot, GetOperation).
import { randomUUID } from 'node:crypto';
import { toIso } from '../core/time.js';
import type { CloudFaultKind, CloudInventory, SimSnapshot } from './cloud-inventory.js';
import { CloudApiError } from './cloud-api-error.js';

/** The service principal the simulator's token endpoint accepts (docs/simulator.md). */
export const SIM_AZURE_CLIENT = {
  tenantId: '72f988bf-0000-4000-8000-00000000f0e1',
  clientId: '1b0f6c3e-0000-4000-8000-0000000c11e7',
  clientSecret: 'sim-azure-client-secret',
};

/**
 * `POST /{tenant}/oauth2/v2.0/token`, client-credentials grant, as the Microsoft identity platform
 * answers it: the simulator's ARM token for the simulator's service principal, else OAuth's error.
 */
export function tokenCall(inv: CloudInventory, tenant: string, form: string): ArmAnswer {
  const f = new URLSearchParams(form);
  const error = (status: number, code: string, description: string) => ({
    status,
    body: { error: code, error_description: description },
  });
  if (f.get('grant_type') !== 'client_credentials')
    return error(400, 'unsupported_grant_type', 'AADSTS70003: only client_credentials.');
  if (tenant !== SIM_AZURE_CLIENT.tenantId)
    return error(400, 'invalid_tenant', `AADSTS90002: Tenant '${tenant}' not found.`);
  if (
    f.get('client_id') !== SIM_AZURE_CLIENT.clientId ||
    f.get('client_secret') !== SIM_AZURE_CLIENT.clientSecret
  )
    return error(401, 'invalid_client', 'AADSTS7000215: Invalid client secret provided.');
  if (!(f.get('scope') ?? '').includes('management.azure.com'))
    return error(400, 'invalid_scope', 'AADSTS70011: The provided scope is not valid.');
  return {
    status: 200,
    body: { token_type: 'Bearer', expires_in: 3599, access_token: inv.keys.arm[0]!.secret },
  };
}

export interface ArmRequest {
  method: string;
  /** Path and query, as received. */
  url: string;
  /** Scheme and host the client used, for the Azure-AsyncOperation URL. */
  origin: string;
  authorization: string | undefined;
  body: unknown;
}

export interface ArmAnswer {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

const FAULTS: Record<CloudFaultKind, [number, string, string]> = {
  throttle: [429, 'TooManyRequests', 'The request is being throttled. Retry after the given time.'],
  'internal-error': [500, 'InternalServerError', 'An internal execution error occurred. Try again later.'],
  unavailable: [503, 'ServiceUnavailable', 'The service is temporarily unavailable. Try again later.'],
  forbidden: [
    403,
    'AuthorizationFailed',
    'The client does not have authorization to perform the action over this scope.',
  ],
};

const GROUP = '^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\\.Compute';
const VM = new RegExp(`${GROUP}/virtualMachines/([^/]+)$`, 'i');
const SNAPSHOT = new RegExp(`${GROUP}/snapshots/([^/]+)$`, 'i');
const OPERATION =
  /^\/subscriptions\/([^/]+)\/providers\/Microsoft\.Compute\/locations\/([^/]+)\/operations\/([^/]+)$/i;
const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,78}[A-Za-z0-9_]$|^[A-Za-z0-9]$/;

/** The async operations of accepted PUTs: id → the snapshot it creates. */
const operations = new WeakMap<CloudInventory, Map<string, SimSnapshot>>();

function opsOf(inv: CloudInventory): Map<string, SimSnapshot> {
  let ops = operations.get(inv);
  if (!ops) operations.set(inv, (ops = new Map()));
  return ops;
}

function checkToken(inv: CloudInventory, authorization: string | undefined): void {
  if (!authorization)
    throw new CloudApiError(
      401,
      'AuthenticationFailed',
      "Authentication failed. The 'Authorization' header is missing.",
    );
  const token = /^Bearer (.+)$/.exec(authorization)?.[1];
  if (!token || !inv.keys.arm.some((k) => k.secret === token))
    throw new CloudApiError(401, 'InvalidAuthenticationToken', 'The access token is invalid.');
}

function snapshotView(inv: CloudInventory, s: SimSnapshot, location: string) {
  const done = inv.snapshotStatus(s).status === 'accomplished';
  return {
    id: s.snapshotId,
    name: s.name,
    type: 'Microsoft.Compute/snapshots',
    location,
    tags: s.tags,
    properties: {
      creationData: { createOption: 'Copy', sourceResourceId: s.diskId },
      diskSizeGB: s.diskSize,
      incremental: s.description === 'incremental',
      timeCreated: toIso(s.createdAt),
      provisioningState: done ? 'Succeeded' : 'Creating',
      completionPercent: inv.snapshotStatus(s).progress,
    },
  };
}

function find(inv: CloudInventory, id: string): SimSnapshot | undefined {
  return inv
    .listSnapshots()
    .find((s) => s.cloud === 'arm' && s.snapshotId.toLowerCase() === id.toLowerCase());
}

function getVm(inv: CloudInventory, m: RegExpExecArray) {
  const vm = inv.armVm(m[1]!, m[2]!, m[3]!);
  if (!vm)
    throw new CloudApiError(
      404,
      'ResourceNotFound',
      `The Resource 'Microsoft.Compute/virtualMachines/${m[3]}' under resource group '${m[2]}' was not found.`,
    );
  const [os, ...data] = inv.disksOf(vm);
  const managed = (id: string) => ({ id, storageAccountType: 'Premium_LRS' });
  return {
    id: `/subscriptions/${vm.subscriptionId}/resourceGroups/${vm.resourceGroup}/providers/Microsoft.Compute/virtualMachines/${vm.name}`,
    name: vm.name,
    type: 'Microsoft.Compute/virtualMachines',
    location: vm.location,
    properties: {
      vmId: vm.id,
      provisioningState: 'Succeeded',
      storageProfile: {
        osDisk: {
          osType: 'Linux',
          name: os!.diskId.split('/').pop(),
          createOption: 'FromImage',
          managedDisk: managed(os!.diskId),
        },
        dataDisks: data.map((d, lun) => ({
          lun,
          name: d.diskId.split('/').pop(),
          createOption: 'Empty',
          diskSizeGB: d.size,
          managedDisk: managed(d.diskId),
        })),
      },
    },
  };
}

function putSnapshot(inv: CloudInventory, req: ArmRequest, path: string, m: RegExpExecArray): ArmAnswer {
  const name = m[3]!;
  if (!SNAPSHOT_NAME.test(name))
    throw new CloudApiError(400, 'InvalidResourceName', `The resource name '${name}' is invalid.`);
  const b = (req.body ?? {}) as {
    location?: unknown;
    tags?: Record<string, unknown>;
    properties?: {
      creationData?: { createOption?: unknown; sourceResourceId?: unknown };
      incremental?: unknown;
    };
  };
  if (typeof b.location !== 'string' || !b.location)
    throw new CloudApiError(
      400,
      'LocationRequired',
      'The location property is required for this definition.',
    );
  const created = b.properties?.creationData;
  if (created?.createOption !== 'Copy' || typeof created.sourceResourceId !== 'string')
    throw new CloudApiError(
      400,
      'InvalidParameter',
      "creationData: createOption 'Copy' with a sourceResourceId is required.",
    );
  const source = created.sourceResourceId;
  const disk = inv.disks().find((d) => d.cloud === 'arm' && d.diskId.toLowerCase() === source.toLowerCase());
  if (!disk) throw new CloudApiError(404, 'NotFound', `Resource ${source} does not exist.`);
  const existing = find(inv, path);
  if (existing) {
    if (existing.diskId.toLowerCase() !== source.toLowerCase())
      throw new CloudApiError(
        409,
        'PropertyChangeNotAllowed',
        "Changing property 'sourceResourceId' is not allowed.",
      );
    return { status: 200, body: snapshotView(inv, existing, b.location) };
  }
  const tags = Object.fromEntries(Object.entries(b.tags ?? {}).map(([k, v]) => [k, String(v)]));
  const s = inv.createSnapshot(disk, {
    name,
    description: b.properties?.incremental === true ? 'incremental' : 'full',
    tags,
    snapshotId: `/subscriptions/${m[1]}/resourceGroups/${m[2]}/providers/Microsoft.Compute/snapshots/${name}`,
  });
  const op = randomUUID();
  opsOf(inv).set(op, s);
  const opUrl = `${req.origin}/subscriptions/${m[1]}/providers/Microsoft.Compute/locations/${b.location}/operations/${op}?api-version=2025-01-02`;
  return {
    status: 202,
    headers: { 'azure-asyncoperation': opUrl, location: opUrl },
    body: snapshotView(inv, s, b.location),
  };
}

/** Answers one ARM request (404 NoRegisteredProviderFound for a path that is not one of ours). */
export function armCall(inv: CloudInventory, req: ArmRequest): ArmAnswer {
  const url = new URL(req.url, 'http://arm.invalid');
  const path = decodeURIComponent(url.pathname);
  const vm = VM.exec(path);
  const snapshot = SNAPSHOT.exec(path);
  const operation = OPERATION.exec(path);
  const action =
    vm && req.method === 'GET'
      ? 'GetVirtualMachine'
      : snapshot && req.method === 'PUT'
        ? 'CreateSnapshot'
        : snapshot && req.method === 'GET'
          ? 'GetSnapshot'
          : operation && req.method === 'GET'
            ? 'GetOperation'
            : undefined;
  try {
    if (!action)
      throw new CloudApiError(404, 'NoRegisteredProviderFound', `No route for ${req.method} ${path}.`);
    checkToken(inv, req.authorization);
    if (!url.searchParams.get('api-version'))
      throw new CloudApiError(
        400,
        'MissingApiVersionParameter',
        'The api-version query parameter (?api-version=) is required.',
      );
    const fault = inv.faultFor('arm', action);
    if (fault) {
      const [status, code, message] = FAULTS[fault];
      return {
        status,
        headers: fault === 'throttle' ? { 'retry-after': '1' } : {},
        body: { error: { code, message } },
      };
    }
    if (action === 'GetVirtualMachine') return { status: 200, body: getVm(inv, vm!) };
    if (action === 'CreateSnapshot') return putSnapshot(inv, req, path, snapshot!);
    if (action === 'GetSnapshot') {
      const s = find(inv, path);
      if (!s)
        throw new CloudApiError(
          404,
          'ResourceNotFound',
          `The Resource 'Microsoft.Compute/snapshots/${snapshot![3]}' was not found.`,
        );
      return { status: 200, body: snapshotView(inv, s, s.regionId) };
    }
    const s = opsOf(inv).get(operation![3]!);
    if (!s) throw new CloudApiError(404, 'NotFound', `The operation ${operation![3]} was not found.`);
    const done = inv.snapshotStatus(s).status === 'accomplished';
    return {
      status: 200,
      body: { name: operation![3], status: done ? 'Succeeded' : 'InProgress', startTime: toIso(s.createdAt) },
    };
  } catch (err) {
    if (!(err instanceof CloudApiError)) throw err;
    return { status: err.status, body: { error: { code: err.code, message: err.message } } };
  }
}
