// The Alibaba half of the `snapshot` action (snapshot.ts): the official ECS SDK, loaded only when a
// step snapshots on Alibaba.
import EcsModule, * as $Ecs from '@alicloud/ecs20140526';
import * as $Core from '@alicloud/openapi-core';
import { parseDuration } from '../core/time.js';
import type { ActionContext } from './action.js';
import { call, CloudCallError, cloudCredentials, pollUntil } from './cloud-common.js';
import { clientToken, snapshotName, type Made } from './snapshot.js';

// The package is CommonJS with its client as `exports.default`: Node's ESM import gives the
// exports object, bundlers' interop (vitest) the client itself.
type EcsClass = typeof EcsModule.default;
export const EcsClient: EcsClass =
  typeof (EcsModule as { default?: unknown }).default === 'function'
    ? EcsModule.default
    : (EcsModule as unknown as EcsClass);

function ecsClient(params: Record<string, unknown>, region: string, timeoutMs: number) {
  const key = cloudCredentials('alibaba', params.credentials);
  const config = new $Core.$OpenApiUtil.Config({
    accessKeyId: key.id,
    accessKeySecret: key.secret,
    regionId: region,
    readTimeout: timeoutMs,
    connectTimeout: Math.min(timeoutMs, 10_000),
  });
  if (typeof params.endpoint === 'string') {
    const url = new URL(params.endpoint);
    config.endpoint = url.host;
    config.protocol = url.protocol.replace(':', '');
  }
  return new EcsClient(config);
}

type Ecs = InstanceType<typeof EcsClient>;

async function instanceDisks(ecs: Ecs, region: string, instanceId: string, diskType: string) {
  const disks: { diskId: string; type: string }[] = [];
  for (let page = 1; page <= 100; page++) {
    const res = await call('DescribeDisks', () =>
      ecs.describeDisks(
        new $Ecs.DescribeDisksRequest({
          regionId: region,
          instanceId,
          diskType,
          pageNumber: page,
          pageSize: 100,
        }),
      ),
    );
    const list = res.body?.disks?.disk ?? [];
    for (const d of list) if (d.diskId) disks.push({ diskId: d.diskId, type: d.type ?? '' });
    if (list.length === 0 || disks.length >= (res.body?.totalCount ?? 0)) break;
  }
  // System disk first: the one to restore from when the reboot was the disk's fault.
  return disks.sort((a, b) => (a.type === b.type ? 0 : a.type === 'system' ? -1 : 1));
}

async function waitForSnapshots(
  ecs: Ecs,
  ctx: ActionContext,
  region: string,
  made: Made[],
  intervalMs: number,
) {
  const ids = made.map((m) => m.snapshotId);
  await pollUntil(ctx, intervalMs, 'the snapshots to complete', async () => {
    const res = await call('DescribeSnapshots', () =>
      ecs.describeSnapshots(
        new $Ecs.DescribeSnapshotsRequest({
          regionId: region,
          snapshotIds: JSON.stringify(ids),
          pageSize: 100,
        }),
      ),
    );
    const status = new Map((res.body?.snapshots?.snapshot ?? []).map((s) => [s.snapshotId, s.status]));
    for (const m of made) m.status = status.get(m.snapshotId) ?? m.status;
    if (made.some((m) => m.status === 'failed'))
      throw new CloudCallError('DescribeSnapshots: a snapshot failed', false, 'SnapshotFailed');
    return made.every((m) => m.status === 'accomplished') || undefined;
  });
}

/** Alibaba ECS: DescribeDisks, then CreateSnapshot per disk with a ClientToken; throws CloudCallError. */
export async function snapshotOnAlibaba(
  ctx: ActionContext,
  params: Record<string, unknown>,
  target: { instanceId: string; region: string; prefix: string },
  made: Made[],
): Promise<void> {
  const { instanceId, region, prefix } = target;
  const ecs = ecsClient(params, region, 30_000);
  const disks = await instanceDisks(
    ecs,
    region,
    instanceId,
    (params.diskType as string | undefined) ?? 'all',
  );
  if (disks.length === 0)
    throw new CloudCallError(`DescribeDisks: ${instanceId} has no disks in ${region}`, false);
  const tags = {
    ...((params.tags as Record<string, string> | undefined) ?? {}),
    'forewarn:event': ctx.event.eventId,
    'forewarn:rule': ctx.rule,
  };
  for (const disk of disks) {
    const name = snapshotName(prefix, ctx.event.eventId, disk.diskId);
    const res = await call('CreateSnapshot', () =>
      ecs.createSnapshot(
        new $Ecs.CreateSnapshotRequest({
          diskId: disk.diskId,
          snapshotName: name,
          description: `forewarn: ${ctx.event.type} event ${ctx.event.eventId}, rule ${ctx.rule}`.slice(
            0,
            256,
          ),
          retentionDays: params.retentionDays as number | undefined,
          clientToken: clientToken(ctx.idempotencyKey, disk.diskId),
          tag: Object.entries(tags).map(([key, value]) => new $Ecs.CreateSnapshotRequestTag({ key, value })),
        }),
      ),
    );
    const snapshotId = res.body?.snapshotId;
    if (!snapshotId) throw new CloudCallError('CreateSnapshot: the answer has no SnapshotId', true);
    made.push({ diskId: disk.diskId, diskType: disk.type, snapshotId, name });
    ctx.log.info({ instanceId, diskId: disk.diskId, snapshotId }, 'snapshot created');
  }
  if (params.wait === true) {
    const interval = parseDuration((params.pollInterval as string | undefined) ?? '5s');
    await waitForSnapshots(ecs, ctx, region, made, interval);
  }
}
