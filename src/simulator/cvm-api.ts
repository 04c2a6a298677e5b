// Tencent Cloud CVM API 3.0 (version 2017-03-12; metadata-apis.md §5.2) as the official SDK calls
// it: POST JSON with X-TC-Action/-Version/-Region/-Timestamp, signed TC3-HMAC-SHA256.
// ResetInstance reinstalls an instance (same image unless ImageId says otherwise) and is recorded;
// DescribeInstances shows LatestOperation/LatestOperationState for progress. Errors come, as from
// Tencent, with HTTP 200 and {"Response":{"Error":{"Code","Message"},"RequestId"}}; only a broken
// front (the `unavailable` fault) answers a bare 503.
import { randomUUID } from 'node:crypto';
import type { CloudFaultKind, CloudInventory } from './cloud-inventory.js';
import { simRegion } from './cloud-inventory.js';
import { verifyTc3, type SignedRequest } from './cloud-signatures.js';
import type { ApiAnswer } from './ecs-api.js';
import { tencentInstanceId } from './tencent-metadata.js';
import { CloudApiError } from './cloud-api-error.js';

export const CVM_VERSION = '2017-03-12';

/** Tencent Cloud answers errors with HTTP 200 and the error in the body. */
const cvmError = (code: string, message: string) => new CloudApiError(200, code, message);

const FAULTS: Record<Exclude<CloudFaultKind, 'unavailable'>, [string, string]> = {
  throttle: ['RequestLimitExceeded', 'Your current request times exceeds the limit. Please try again later.'],
  'internal-error': ['InternalError', 'An internal error has occurred. Retry your request.'],
  forbidden: [
    'UnauthorizedOperation',
    'You are not authorized to perform this operation. Check your CAM policies.',
  ],
};

const INSTANCE_ID = /^ins-[a-z0-9]{8}$/;
const IMAGE_ID = /^img-[a-z0-9]{8}$/;

function body(req: SignedRequest): Record<string, unknown> {
  try {
    const parsed = JSON.parse(req.body || '{}') as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw cvmError('InvalidParameter', 'The request body is not a JSON object.');
}

function instanceOf(inv: CloudInventory, id: unknown, region: string) {
  if (typeof id !== 'string' || !INSTANCE_ID.test(id))
    throw cvmError('InvalidInstanceId.Malformed', `The instance ID \`${String(id)}\` is malformed.`);
  const vm = inv.cvmInstance(id);
  if (!vm || simRegion(vm) !== region)
    throw cvmError('InvalidInstanceId.NotFound', `The instance \`${id}\` does not exist.`);
  return vm;
}

function resetInstance(inv: CloudInventory, b: Record<string, unknown>, region: string, requestId: string) {
  if (b.InstanceId === undefined)
    throw cvmError('MissingParameter', 'The request is missing a required parameter `InstanceId`.');
  const vm = instanceOf(inv, b.InstanceId, region);
  if (b.ImageId !== undefined && (typeof b.ImageId !== 'string' || !IMAGE_ID.test(b.ImageId)))
    throw cvmError('InvalidImageId.Malformed', `The image ID \`${String(b.ImageId)}\` is malformed.`);
  const last = inv.latestReset(vm);
  if (last && inv.resetState(last) === 'OPERATING')
    throw cvmError(
      'OperationDenied.InstanceOperationInProgress',
      'The instance has an operation in progress.',
    );
  inv.resetInstance(vm, region, b.ImageId as string | undefined, requestId);
  return {};
}

function describeInstances(inv: CloudInventory, b: Record<string, unknown>, region: string) {
  const ids = b.InstanceIds;
  if (ids !== undefined && (!Array.isArray(ids) || ids.length > 100))
    throw cvmError('InvalidParameterValue', 'InstanceIds must be a list of at most 100 ids.');
  // A malformed id is an error; a well-formed unknown one is simply not in the answer.
  for (const id of (ids as unknown[] | undefined) ?? [])
    if (typeof id !== 'string' || !INSTANCE_ID.test(id))
      throw cvmError('InvalidInstanceId.Malformed', `The instance ID \`${String(id)}\` is malformed.`);
  const vms = inv
    .cvmInstances()
    .filter((vm) => simRegion(vm) === region && (!ids || (ids as string[]).includes(tencentInstanceId(vm))));
  return {
    TotalCount: vms.length,
    InstanceSet: vms.map((vm) => {
      const r = inv.latestReset(vm);
      const state = r ? inv.resetState(r) : undefined;
      return {
        InstanceId: tencentInstanceId(vm),
        InstanceName: vm.name,
        InstanceState: state === 'OPERATING' ? 'REBOOTING' : 'RUNNING',
        ImageId: inv.imageOf(vm),
        Placement: { Zone: `${region}-${vm.zone ?? '2'}`, ProjectId: 0 },
        PrivateIpAddresses: [vm.privateIp],
        CreatedTime: vm.createdAt,
        LatestOperation: r ? 'ResetInstance' : null,
        LatestOperationState: state ?? null,
        LatestOperationRequestId: r?.requestId ?? null,
      };
    }),
  };
}

/** One CVM API call, as received on the wire; never throws. */
export function cvmCall(inv: CloudInventory, req: SignedRequest, nowMs: number): ApiAnswer {
  const RequestId = randomUUID();
  try {
    if (req.method !== 'POST')
      throw cvmError('UnsupportedProtocol', 'Only POST with a JSON body is supported here.');
    const problem = verifyTc3(req, 'cvm', (id) => inv.secretOf('cvm', id), nowMs);
    if (problem) throw cvmError(problem.code, problem.message);
    const action = String(req.headers['x-tc-action'] ?? '');
    if (String(req.headers['x-tc-version'] ?? '') !== CVM_VERSION)
      throw cvmError('NoSuchVersion', 'The API version does not exist.');
    const region = String(req.headers['x-tc-region'] ?? '');
    if (action !== 'ResetInstance' && action !== 'DescribeInstances')
      throw cvmError('InvalidAction', `The API \`${action}\` does not exist.`);
    if (!region) throw cvmError('MissingParameter', 'The request is missing a required parameter `Region`.');
    const fault = inv.faultFor('cvm', action);
    if (fault === 'unavailable') return { status: 503, body: 'Service Unavailable' };
    if (fault) throw cvmError(...FAULTS[fault]);
    const b = body(req);
    const result =
      action === 'ResetInstance'
        ? resetInstance(inv, b, region, RequestId)
        : describeInstances(inv, b, region);
    return { status: 200, body: { Response: { ...result, RequestId } } };
  } catch (err) {
    if (!(err instanceof CloudApiError)) throw err;
    return {
      status: 200,
      body: { Response: { Error: { Code: err.code, Message: err.message }, RequestId } },
    };
  }
}
