// AWS EC2 Query API (version 2016-11-15) as @aws-sdk/client-ec2 calls it: a form-encoded POST to
// `/`, signed with Signature Version 4 (service ec2), answered in XML. CreateSnapshots snapshots
// every volume of an instance at once (crash-consistent, optionally without the boot volume, tags
// from TagSpecification), DescribeSnapshots lists them (SnapshotId.N, Filter.N tag:KEY / volume-id).
// Errors: <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>.
import { randomUUID } from 'node:crypto';
import type { CloudFaultKind, CloudInventory, SimSnapshot } from './cloud-inventory.js';
import { verifySigV4, type SignedRequest } from './cloud-signatures.js';
import type { ApiAnswer } from './ecs-api.js';
import { CloudApiError } from './cloud-api-error.js';

export const EC2_VERSION = '2016-11-15';
const OWNER = '123456789012';
const XMLNS = `http://ec2.amazonaws.com/doc/${EC2_VERSION}/`;

// EC2 answers throttling with 503 RequestLimitExceeded (UNVERIFIED here: some docs show 400).
const FAULTS: Record<CloudFaultKind, [number, string, string]> = {
  throttle: [503, 'RequestLimitExceeded', 'Request limit exceeded.'],
  'internal-error': [500, 'InternalError', 'An internal error has occurred.'],
  unavailable: [503, 'Unavailable', 'The server is overloaded and cannot handle the request.'],
  forbidden: [403, 'UnauthorizedOperation', 'You are not authorized to perform this operation.'],
};

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** `Prefix.N.Field` members of a form, in N order. */
function members(p: Map<string, string>, prefix: string): Map<string, string>[] {
  const found = new Map<number, Map<string, string>>();
  for (const [k, v] of p) {
    const m = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(\\d+)(?:\\.(.+))?$`).exec(k);
    if (!m) continue;
    const n = Number(m[1]);
    if (!found.has(n)) found.set(n, new Map());
    found.get(n)!.set(m[2] ?? '', v);
  }
  return [...found.entries()].sort(([a], [b]) => a - b).map(([, v]) => v);
}

function tagSpecs(p: Map<string, string>): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const spec of members(p, 'TagSpecification')) {
    if (spec.get('ResourceType') !== 'snapshot')
      throw new CloudApiError(
        400,
        'InvalidParameterValue',
        'TagSpecification ResourceType must be snapshot here.',
      );
    for (const [k, v] of spec) {
      const m = /^Tag\.(\d+)\.Key$/.exec(k);
      if (!m) continue;
      if (v.startsWith('aws:'))
        throw new CloudApiError(400, 'InvalidParameterValue', 'Tag keys cannot start with aws:.');
      tags[v] = spec.get(`Tag.${m[1]}.Value`) ?? '';
    }
  }
  return tags;
}

function snapshotXml(s: SimSnapshot, inv: CloudInventory): string {
  const { status, progress } = inv.snapshotStatus(s);
  const tags = Object.entries(s.tags)
    .map(([k, v]) => `<item><key>${esc(k)}</key><value>${esc(v)}</value></item>`)
    .join('');
  return (
    `<item><snapshotId>${s.snapshotId}</snapshotId><volumeId>${s.diskId}</volumeId>` +
    // DescribeSnapshots says <status> where CreateSnapshots says <state>.
    `<status>${status === 'accomplished' ? 'completed' : 'pending'}</status>` +
    `<startTime>${new Date(s.createdAt).toISOString()}</startTime><progress>${progress}%</progress>` +
    `<ownerId>${OWNER}</ownerId><volumeSize>${s.diskSize}</volumeSize><description>${esc(s.description)}</description>` +
    `<encrypted>false</encrypted><storageTier>standard</storageTier><tagSet>${tags}</tagSet></item>`
  );
}

function createSnapshots(inv: CloudInventory, p: Map<string, string>, region: string): string {
  const id = p.get('InstanceSpecification.InstanceId');
  if (!id)
    throw new CloudApiError(
      400,
      'MissingParameter',
      'The request must contain the parameter InstanceSpecification.InstanceId',
    );
  const vm = inv.ec2Instance(id);
  if (!vm || inv.disksOf(vm)[0]?.regionId !== region)
    throw new CloudApiError(400, 'InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
  const description = p.get('Description') ?? '';
  if (description.length > 255)
    throw new CloudApiError(400, 'InvalidParameterValue', 'Description is too long.');
  const tags = tagSpecs(p);
  const skipBoot = p.get('InstanceSpecification.ExcludeBootVolume') === 'true';
  const volumes = inv.disksOf(vm).filter((d) => !(skipBoot && d.type === 'system'));
  const made = volumes.map((d) => inv.createSnapshot(d, { name: tags.Name ?? '', description, tags }));
  const items = made
    .map(
      (s) =>
        `<item><snapshotId>${s.snapshotId}</snapshotId><volumeId>${s.diskId}</volumeId><state>pending</state>` +
        `<startTime>${new Date(s.createdAt).toISOString()}</startTime><progress></progress><ownerId>${OWNER}</ownerId>` +
        `<volumeSize>${s.diskSize}</volumeSize><description>${esc(description)}</description>` +
        `<tagSet>${Object.entries(tags)
          .map(([k, v]) => `<item><key>${esc(k)}</key><value>${esc(v)}</value></item>`)
          .join('')}</tagSet></item>`,
    )
    .join('');
  return `<snapshotSet>${items}</snapshotSet>`;
}

function describeSnapshots(inv: CloudInventory, p: Map<string, string>, region: string): string {
  const ids = members(p, 'SnapshotId').map((m) => m.get('')!);
  const filters = members(p, 'Filter').map((f) => ({
    name: f.get('Name') ?? '',
    values: [...f.entries()].filter(([k]) => /^Value\.\d+$/.test(k)).map(([, v]) => v),
  }));
  const all = inv.listSnapshots().filter((s) => s.cloud === 'ec2' && s.regionId === region);
  for (const id of ids)
    if (!all.some((s) => s.snapshotId === id))
      throw new CloudApiError(400, 'InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
  const match = (s: SimSnapshot) =>
    (ids.length === 0 || ids.includes(s.snapshotId)) &&
    filters.every((f) => {
      if (f.name.startsWith('tag:')) return f.values.includes(s.tags[f.name.slice(4)] ?? '\u0000');
      if (f.name === 'volume-id') return f.values.includes(s.diskId);
      if (f.name === 'status')
        return f.values.includes(inv.snapshotStatus(s).status === 'accomplished' ? 'completed' : 'pending');
      throw new CloudApiError(400, 'InvalidParameterValue', `The filter '${f.name}' is invalid`);
    });
  return `<snapshotSet>${all
    .filter(match)
    .map((s) => snapshotXml(s, inv))
    .join('')}</snapshotSet>`;
}

const ACTIONS: Record<string, (inv: CloudInventory, p: Map<string, string>, region: string) => string> = {
  CreateSnapshots: createSnapshots,
  DescribeSnapshots: describeSnapshots,
};

/** One EC2 API call, as received on the wire; never throws. */
export function ec2Call(inv: CloudInventory, req: SignedRequest, nowMs: number): ApiAnswer & { xml: true } {
  const requestId = randomUUID();
  try {
    const problem = verifySigV4(req, 'ec2', (id) => inv.secretOf('ec2', id), nowMs);
    if (problem)
      throw new CloudApiError(
        problem.code === 'AuthFailure' ? 401 : problem.code === 'SignatureDoesNotMatch' ? 403 : 400,
        problem.code,
        problem.message,
      );
    const p = new Map(new URLSearchParams(req.body));
    const action = p.get('Action') ?? '';
    if (p.get('Version') !== EC2_VERSION)
      throw new CloudApiError(400, 'InvalidParameterValue', 'Version must be 2016-11-15.');
    const handler = ACTIONS[action];
    if (!handler)
      throw new CloudApiError(
        400,
        'InvalidAction',
        `The action ${action} is not valid for this web service.`,
      );
    const region = /Credential=[^/]+\/\d{8}\/([a-z0-9-]+)\//.exec(String(req.headers.authorization))![1]!;
    const fault = inv.faultFor('ec2', action);
    if (fault) throw new CloudApiError(...FAULTS[fault]);
    const inner = handler(inv, p, region);
    return {
      status: 200,
      xml: true,
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${XMLNS}"><requestId>${requestId}</requestId>${inner}</${action}Response>`,
    };
  } catch (err) {
    if (!(err instanceof CloudApiError)) throw err;
    return {
      status: err.status,
      xml: true,
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${err.code}</Code><Message>${esc(err.message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`,
    };
  }
}
