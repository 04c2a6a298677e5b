// Alibaba Cloud ECS OpenAPI (RPC style, version 2014-05-26; metadata-apis.md §4.4) as the official
// SDK calls it: DescribeDisks, CreateSnapshot (ClientToken idempotency, SnapshotName rules, tags)
// and DescribeSnapshots, signed with ACS3-HMAC-SHA256 (the SDK's default) or RPC signature 1.0.
// Errors in ECS's JSON shape: {RequestId, HostId, Code, Message, Recommend}.
import { randomUUID } from 'node:crypto';
import { formatRfc3339Seconds } from '../core/time.js';
import type { CloudFaultKind, CloudInventory, SimDisk, SimSnapshot } from './cloud-inventory.js';
import { queryPairs, verifyAcs3, verifyAcsRpc, type SignedRequest } from './cloud-signatures.js';
import { CloudApiError } from './cloud-api-error.js';

export const ECS_VERSION = '2014-05-26';
const HOST_ID = 'ecs.aliyuncs.com';

export interface ApiAnswer {
  status: number;
  body: unknown;
}

const FAULTS: Record<CloudFaultKind, [number, string, string]> = {
  throttle: [400, 'Throttling.User', 'Request was denied due to user flow control.'],
  'internal-error': [500, 'InternalError', 'The request processing has failed due to some unknown error.'],
  unavailable: [
    503,
    'ServiceUnavailable',
    'The request has failed due to a temporary failure of the server.',
  ],
  forbidden: [
    403,
    'Forbidden.RAM',
    'User not authorized to operate on the specified resource, or this API does not support RAM.',
  ],
};

/** SnapshotName: 2–128 chars, starts with a letter, letters/digits/`:_-`, not http(s):// or auto. */
export const SNAPSHOT_NAME = /^[\p{L}][\p{L}\p{N}:_-]{1,127}$/u;
const missing = (name: string) =>
  new CloudApiError(
    400,
    'MissingParameter',
    `The input parameter "${name}" that is mandatory for processing this request is not supplied.`,
  );

function params(req: SignedRequest): Record<string, string> {
  const all = new Map(queryPairs(req.url));
  const type = String(req.headers['content-type'] ?? '');
  if (type.startsWith('application/x-www-form-urlencoded'))
    for (const [k, v] of new URLSearchParams(req.body)) all.set(k, v);
  return Object.fromEntries(all);
}

function tagsOf(p: Record<string, string>): Record<string, string> {
  const tags: Record<string, string> = {};
  for (let n = 1; n <= 20; n++) {
    const key = p[`Tag.${n}.Key`];
    if (key === undefined) continue;
    if (/^(aliyun|acs:)/i.test(key) || key.length > 128)
      throw new CloudApiError(400, 'InvalidTagKey.Malformed', `The specified Tag.${n}.Key is invalid.`);
    tags[key] = p[`Tag.${n}.Value`] ?? '';
  }
  return tags;
}

function page(p: Record<string, string>, total: number) {
  const size = p.MaxResults ?? p.PageSize;
  const pageSize = size === undefined ? 10 : Number(size);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100)
    throw new CloudApiError(
      400,
      'InvalidParameter',
      'The specified parameter PageSize (or MaxResults) is not valid.',
    );
  if (p.NextToken !== undefined) {
    const start = p.NextToken === '' ? 0 : Number(p.NextToken);
    if (!Number.isInteger(start) || start < 0)
      throw new CloudApiError(400, 'InvalidParameter.NextToken', 'The specified NextToken is not valid.');
    const end = start + pageSize;
    return { start, end, info: { NextToken: end < total ? String(end) : '', MaxResults: pageSize } };
  }
  const pageNumber = p.PageNumber === undefined ? 1 : Number(p.PageNumber);
  if (!Number.isInteger(pageNumber) || pageNumber < 1)
    throw new CloudApiError(400, 'InvalidParameter', 'The specified parameter PageNumber is not valid.');
  const start = (pageNumber - 1) * pageSize;
  return {
    start,
    end: start + pageSize,
    info: { TotalCount: total, PageNumber: pageNumber, PageSize: pageSize, NextToken: '' },
  };
}

function idList(value: string | undefined, name: string): string[] | undefined {
  if (value === undefined) return undefined;
  try {
    const ids = JSON.parse(value) as unknown;
    if (Array.isArray(ids) && ids.every((i) => typeof i === 'string')) return ids;
  } catch {
    // fall through
  }
  throw new CloudApiError(
    400,
    `Invalid${name}.Malformed`,
    `The specified parameter ${name} is not a JSON array of ids.`,
  );
}

function diskView(d: SimDisk, inv: CloudInventory) {
  const at = formatRfc3339Seconds(
    inv.ecsInstance(d.instanceId) ? Date.parse(inv.ecsInstance(d.instanceId)!.createdAt) : 0,
  );
  return {
    DiskId: d.diskId,
    RegionId: d.regionId,
    ZoneId: d.zoneId,
    DiskName: '',
    Description: '',
    Type: d.type,
    Category: d.category,
    Size: d.size,
    Status: 'In_use',
    InstanceId: d.instanceId,
    Device: d.device,
    Portable: d.type === 'data',
    DeleteWithInstance: d.type === 'system',
    EnableAutoSnapshot: true,
    CreationTime: at,
    AttachedTime: at,
    DiskChargeType: 'PostPaid',
    Encrypted: false,
    PerformanceLevel: 'PL0',
    OperationLocks: { OperationLock: [] },
    MountInstances: { MountInstance: [{ InstanceId: d.instanceId, Device: d.device, AttachedTime: at }] },
    Tags: { Tag: [] },
  };
}

function snapshotView(s: SimSnapshot, inv: CloudInventory) {
  const { status, progress } = inv.snapshotStatus(s);
  return {
    SnapshotId: s.snapshotId,
    SnapshotName: s.name,
    Description: s.description,
    Status: status,
    Progress: `${progress}%`,
    SourceDiskId: s.diskId,
    SourceDiskType: s.diskType === 'system' ? 'System' : 'Data',
    SourceDiskSize: String(s.diskSize),
    Category: 'standard',
    CreationTime: formatRfc3339Seconds(s.createdAt),
    Tags: { Tag: Object.entries(s.tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })) },
  };
}

function describeDisks(inv: CloudInventory, p: Record<string, string>) {
  if (!p.RegionId) throw new CloudApiError(400, 'MissingRegionId', 'RegionId is mandatory for this action.');
  const ids = idList(p.DiskIds, 'DiskIds');
  const type = p.DiskType ?? 'all';
  if (!['all', 'system', 'data'].includes(type))
    throw new CloudApiError(
      400,
      'InvalidDiskType.ValueNotSupported',
      'The specified DiskType is not supported.',
    );
  const disks = inv
    .disks()
    .filter(
      (d) =>
        d.cloud === 'ecs' &&
        d.regionId === p.RegionId &&
        (p.InstanceId === undefined || d.instanceId === p.InstanceId) &&
        (ids === undefined || ids.includes(d.diskId)) &&
        (type === 'all' || d.type === type),
    );
  const { start, end, info } = page(p, disks.length);
  return { ...info, Disks: { Disk: disks.slice(start, end).map((d) => diskView(d, inv)) } };
}

function createSnapshot(inv: CloudInventory, p: Record<string, string>) {
  if (!p.DiskId) throw missing('DiskId');
  const name = p.SnapshotName;
  if (name !== undefined && (!SNAPSHOT_NAME.test(name) || /^(https?:\/\/|auto)/i.test(name)))
    throw new CloudApiError(400, 'InvalidSnapshotName.Malformed', 'Specified snapshot name is not valid.');
  const description = p.Description ?? '';
  if (description && (description.length < 2 || description.length > 256 || /^https?:\/\//.test(description)))
    throw new CloudApiError(400, 'InvalidDescription.Malformed', 'Specified description is not valid.');
  const tags = tagsOf(p);
  const token = p.ClientToken;
  if (token !== undefined && (token.length > 64 || !/^[\x20-\x7e]+$/.test(token)))
    throw new CloudApiError(400, 'InvalidClientToken.Malformed', 'The specified ClientToken is not valid.');
  if (token) {
    const earlier = inv.snapshotByToken(token);
    if (earlier) {
      if (earlier.diskId !== p.DiskId)
        throw new CloudApiError(
          400,
          'IdempotentParameterMismatch',
          'The request uses the same client token as a previous, but non-identical request.',
        );
      return { SnapshotId: earlier.snapshotId };
    }
  }
  const disk = inv.disks().find((d) => d.cloud === 'ecs' && d.diskId === p.DiskId);
  if (!disk) throw new CloudApiError(404, 'InvalidDiskId.NotFound', 'The specified disk does not exist.');
  const s = inv.createSnapshot(disk, { name: name ?? '', description, tags, clientToken: token });
  return { SnapshotId: s.snapshotId };
}

function describeSnapshots(inv: CloudInventory, p: Record<string, string>) {
  if (!p.RegionId) throw new CloudApiError(400, 'MissingRegionId', 'RegionId is mandatory for this action.');
  const ids = idList(p.SnapshotIds, 'SnapshotIds');
  const all = inv
    .listSnapshots()
    .filter(
      (s) =>
        s.cloud === 'ecs' &&
        s.regionId === p.RegionId &&
        (p.InstanceId === undefined || s.instanceId === p.InstanceId) &&
        (p.DiskId === undefined || s.diskId === p.DiskId) &&
        (ids === undefined || ids.includes(s.snapshotId)) &&
        (p.SnapshotName === undefined || s.name === p.SnapshotName) &&
        (p.Status === undefined || p.Status === 'all' || inv.snapshotStatus(s).status === p.Status),
    );
  const { start, end, info } = page(p, all.length);
  return { ...info, Snapshots: { Snapshot: all.slice(start, end).map((s) => snapshotView(s, inv)) } };
}

const ACTIONS: Record<string, (inv: CloudInventory, p: Record<string, string>) => object> = {
  DescribeDisks: describeDisks,
  CreateSnapshot: createSnapshot,
  DescribeSnapshots: describeSnapshots,
};

/** One ECS API call, as received on the wire; never throws. */
export function ecsCall(inv: CloudInventory, req: SignedRequest): ApiAnswer {
  const RequestId = randomUUID().toUpperCase();
  try {
    const p = params(req);
    const secretOf = (id: string) => inv.secretOf('ecs', id);
    const auth = String(req.headers.authorization ?? '');
    const problem = auth.startsWith('ACS3-')
      ? verifyAcs3(req, secretOf)
      : p.Signature !== undefined
        ? verifyAcsRpc(req.method, p, secretOf)
        : {
            code: 'MissingSignature',
            message:
              'The input parameter "Signature" that is mandatory for processing this request is not supplied.',
          };
    if (problem)
      throw new CloudApiError(
        problem.code === 'InvalidAccessKeyId.NotFound' ? 404 : 400,
        problem.code,
        problem.message,
      );
    const action = String(req.headers['x-acs-action'] ?? p.Action ?? '');
    const version = String(req.headers['x-acs-version'] ?? p.Version ?? '');
    if (version !== ECS_VERSION)
      throw new CloudApiError(400, 'InvalidVersion', 'Specified parameter Version is not valid.');
    const handler = ACTIONS[action];
    if (!handler)
      throw new CloudApiError(
        404,
        'InvalidAction.NotFound',
        'Specified api is not found, please check your url and method.',
      );
    const fault = inv.faultFor('ecs', action);
    if (fault) throw new CloudApiError(...FAULTS[fault]);
    return { status: 200, body: { RequestId, ...handler(inv, p) } };
  } catch (err) {
    if (!(err instanceof CloudApiError)) throw err;
    return {
      status: err.status,
      body: {
        RequestId,
        HostId: HOST_ID,
        Code: err.code,
        Message: err.message,
        Recommend: `https://api.aliyun.com/troubleshoot?q=${err.code}`,
      },
    };
  }
}
