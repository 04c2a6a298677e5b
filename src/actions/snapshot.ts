// `snapshot`: snapshot every disk of the event's instance (metadata-apis.md §4.4), as the original
// Function Compute handler did after an ECS failure reboot, through the official Alibaba SDK:
// DescribeDisks for the instance (all pages), then CreateSnapshot per disk, named
// `<prefix>-<eventId>-<diskId>`, tagged forewarn:event and forewarn:rule. The ClientToken is
// derived from the step's idempotency key and the disk, so a retry after a partial failure gets
// the same snapshot back from ECS instead of a second one. Optionally waits (DescribeSnapshots)
// until every snapshot is accomplished. The snapshot ids are the step's output.
// Providers: alibaba (here), aws (snapshot-aws.ts), azure (snapshot-azure.ts).
import { createHash } from 'node:crypto';
import type { Action, ActionContext, ActionResult } from './action.js';
import { ActionConfigError } from './action.js';
import {
  checkCredentials,
  checkEndpoint,
  checkInstanceFields,
  checkWaitFields,
  CloudCallError,
  cloudError,
  instanceIdFor,
} from './cloud-common.js';

const FIELDS = new Set([
  'provider',
  'region',
  'endpoint',
  'credentials',
  'instanceId',
  'instances',
  'prefix',
  'diskType',
  'tags',
  'retentionDays',
  'wait',
  'pollInterval',
  'subscriptionId',
  'resourceGroup',
  'incremental',
]);
const AZURE_ONLY = ['subscriptionId', 'resourceGroup', 'incremental'];
const SUBSCRIPTION = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const RESOURCE_GROUP = /^[-\w._()]{1,90}$/;
const AZURE_VM = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ECS_INSTANCE = /^i-[0-9a-z]+$/;
const AWS_INSTANCE = /^i-[0-9a-f]{8,17}$/;
const PREFIX = /^[A-Za-z][A-Za-z0-9:_-]{0,39}$/;
const REGION = /^[a-z]{2}-[a-z0-9-]+$/;

function fail(msg: string): never {
  throw new ActionConfigError(`snapshot: ${msg}`);
}

/** `<prefix>-<eventId>-<diskId>`, kept within ECS's SnapshotName rules (letters, digits, `:_-`, ≤128). */
export function snapshotName(prefix: string, eventId: string, diskId: string): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9:_-]+/g, '-');
  const tail = `-${clean(diskId)}`;
  return `${prefix}-${clean(eventId)}`.slice(0, 128 - tail.length) + tail;
}

/** ≤64 ASCII chars, the same for every attempt of this step on this disk. */
export function clientToken(idempotencyKey: string, diskId: string): string {
  return createHash('sha256').update(`${idempotencyKey}/${diskId}`).digest('hex').slice(0, 40);
}

export interface Made {
  diskId: string;
  diskType: string;
  snapshotId: string;
  name: string;
  status?: string;
}

function validateAzure(params: Record<string, unknown>): void {
  if (params.region !== undefined) fail('region: not for azure (snapshots go where the VM is)');
  if (params.credentials !== undefined)
    fail('credentials: not for azure (AZURE_ACCESS_TOKEN or AZURE_CLIENT_SECRET, see docs/actions.md)');
  if (params.retentionDays !== undefined) fail('retentionDays: not for azure');
  const sub = params.subscriptionId;
  if (sub !== undefined && (typeof sub !== 'string' || !SUBSCRIPTION.test(sub)))
    fail('subscriptionId: a subscription id (a GUID); default AZURE_SUBSCRIPTION_ID');
  if (typeof params.resourceGroup !== 'string' || !RESOURCE_GROUP.test(params.resourceGroup))
    fail('resourceGroup: required for azure, the VM’s resource group');
  if (params.incremental !== undefined && typeof params.incremental !== 'boolean')
    fail('incremental: true or false');
}

async function runOnAzure(ctx: ActionContext, params: Record<string, unknown>): Promise<ActionResult> {
  // The agent on an Azure VM is named by the VM's name; `instanceId`/`instances` can say otherwise.
  const vmName = instanceIdFor(ctx, params, AZURE_VM) ?? ctx.vm;
  const subscriptionId = (params.subscriptionId as string | undefined) ?? process.env.AZURE_SUBSCRIPTION_ID;
  const fixed = { provider: 'azure', vm: vmName, resourceGroup: params.resourceGroup as string };
  if (!AZURE_VM.test(vmName))
    return { ok: false, retryable: false, detail: `snapshot: ${vmName} is not an Azure VM name` };
  if (!subscriptionId || !SUBSCRIPTION.test(subscriptionId))
    return { ok: false, retryable: false, detail: 'snapshot: set subscriptionId or AZURE_SUBSCRIPTION_ID' };
  const made: Made[] = [];
  const target = {
    vmName,
    subscriptionId,
    resourceGroup: fixed.resourceGroup,
    prefix: (params.prefix as string | undefined) ?? 'forewarn',
  };
  try {
    await (await import('./snapshot-azure.js')).snapshotOnAzure(ctx, params, target, made);
  } catch (err) {
    if (err instanceof ActionConfigError)
      return { ok: false, retryable: false, detail: err.message, output: { ...fixed, snapshots: made } };
    const e = err instanceof CloudCallError ? err : cloudError('snapshot', err);
    return {
      ok: false,
      retryable: e.retryable,
      detail: e.message,
      output: { ...fixed, snapshots: made, ...(e.code ? { code: e.code } : {}) },
    };
  }
  return {
    ok: true,
    detail: `${made.length} snapshot${made.length === 1 ? '' : 's'} of ${vmName}: ${made.map((m) => m.name).join(', ')}`,
    output: { ...fixed, snapshots: made },
  };
}

export const snapshotAction: Action = {
  kind: 'snapshot',
  validate(params) {
    for (const k of Object.keys(params)) if (!FIELDS.has(k)) fail(`unknown field ${k}`);
    const provider = params.provider ?? 'alibaba';
    if (provider !== 'alibaba' && provider !== 'aws' && provider !== 'azure')
      fail(`provider must be alibaba, aws or azure, not ${JSON.stringify(provider)}`);
    if (provider === 'azure') validateAzure(params);
    else for (const k of AZURE_ONLY) if (params[k] !== undefined) fail(`${k}: only for provider azure`);
    if (params.region !== undefined && (typeof params.region !== 'string' || !REGION.test(params.region)))
      fail('region: a region id such as cn-hangzhou or us-east-1');
    if (provider === 'aws') {
      if (params.diskType === 'system')
        fail('diskType: all or data on aws (CreateSnapshots can only leave out the boot volume)');
      if (params.retentionDays !== undefined) fail('retentionDays: not for aws (use a lifecycle policy)');
    }
    checkEndpoint(params.endpoint, 'snapshot.endpoint');
    checkCredentials(params.credentials, 'snapshot.credentials');
    checkInstanceFields(params, 'snapshot');
    if (params.prefix !== undefined && (typeof params.prefix !== 'string' || !PREFIX.test(params.prefix)))
      fail('prefix: 1–40 characters, starting with a letter, then letters, digits, ":", "_" or "-"');
    if (typeof params.prefix === 'string' && /^(auto|http)/i.test(params.prefix))
      fail('prefix: ECS refuses snapshot names starting with "auto" or "http"');
    if (params.diskType !== undefined && !['all', 'system', 'data'].includes(params.diskType as string))
      fail('diskType: all, system or data');
    if (params.tags !== undefined) {
      const t = params.tags as Record<string, unknown>;
      if (!t || typeof t !== 'object' || Array.isArray(t)) fail('tags: a map of tag keys to values');
      if (Object.keys(t).length > 18)
        fail('tags: at most 18 (ECS allows 20, two are forewarn:event and forewarn:rule)');
      for (const [k, v] of Object.entries(t))
        if (typeof v !== 'string' || /^(aliyun|acs:|aws:)/i.test(k))
          fail(`tags.${k}: a string, and keys cannot start with aliyun, acs: or aws:`);
    }
    const days = params.retentionDays;
    if (days !== undefined && (!Number.isInteger(days) || (days as number) < 1 || (days as number) > 65536))
      fail('retentionDays: an integer from 1 to 65536');
    checkWaitFields(params, 'snapshot');
  },

  async run(ctx, params): Promise<ActionResult> {
    const provider = (params.provider as string | undefined) ?? 'alibaba';
    if (provider === 'azure') return runOnAzure(ctx, params);
    const pattern = provider === 'aws' ? AWS_INSTANCE : ECS_INSTANCE;
    const instanceId = instanceIdFor(ctx, params, pattern);
    if (!instanceId || !pattern.test(instanceId))
      return {
        ok: false,
        retryable: false,
        detail: `snapshot: no ${provider === 'aws' ? 'EC2' : 'ECS'} instance id (i-…) for VM ${ctx.vm}: set instanceId or instances`,
      };
    // A CloudMonitor notification carries regionId, an EventBridge event region.
    const raw = ctx.event.raw as { regionId?: unknown; region?: unknown } | undefined;
    const fromEvent = provider === 'aws' ? raw?.region : raw?.regionId;
    const region =
      (params.region as string | undefined) ?? (typeof fromEvent === 'string' ? fromEvent : undefined);
    if (!region) return { ok: false, retryable: false, detail: 'snapshot: no region: set region' };
    const target = { instanceId, region, prefix: (params.prefix as string | undefined) ?? 'forewarn' };
    const made: Made[] = [];
    const output = () => ({ provider, region, instanceId, snapshots: made });
    try {
      // Each cloud's SDK is loaded on first use: together they cost a hub ~130 MB and 1.5 s at start.
      if (provider === 'aws')
        await (await import('./snapshot-aws.js')).snapshotOnAws(ctx, params, target, made);
      else await (await import('./snapshot-alibaba.js')).snapshotOnAlibaba(ctx, params, target, made);
    } catch (err) {
      if (err instanceof ActionConfigError)
        return { ok: false, retryable: false, detail: err.message, output: output() };
      const e = err instanceof CloudCallError ? err : cloudError('snapshot', err);
      return {
        ok: false,
        retryable: e.retryable,
        detail: e.message,
        ...(e.retryAfterMs ? { retryAfterMs: e.retryAfterMs } : {}),
        output: { ...output(), ...(e.code ? { code: e.code } : {}) },
      };
    }
    const waited = params.wait === true ? ', all complete' : '';
    return {
      ok: true,
      detail: `${made.length} snapshot${made.length === 1 ? '' : 's'} of ${instanceId}: ${made.map((m) => m.snapshotId).join(', ')}${waited}`,
      output: output(),
    };
  },
};
