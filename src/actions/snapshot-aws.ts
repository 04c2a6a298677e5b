// `snapshot` on AWS, through @aws-sdk/client-ec2: one CreateSnapshots call snapshots every EBS
// volume of the instance at the same moment (crash-consistent; `diskType: data` leaves the boot
// volume out). CreateSnapshots has no client token, so the step's idempotency key is a tag
// (`forewarn:run`), and a retry first looks for snapshots carrying it: a call that reached AWS but
// whose answer was lost is not repeated. Optionally waits until every snapshot is `completed`.
import { createHash } from 'node:crypto';
import {
  CreateSnapshotsCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  type Snapshot,
} from '@aws-sdk/client-ec2';
import { parseDuration } from '../core/time.js';
import { redact } from '../hub/redact.js';
import type { ActionContext } from './action.js';
import { call, CloudCallError, cloudCredentials, pollUntil, retryableCode } from './cloud-common.js';

export interface AwsMade {
  diskId: string;
  snapshotId: string;
  name: string;
  status?: string;
}

/** The tag value that marks this step's snapshots, the same on every attempt. */
export function runTag(idempotencyKey: string): string {
  return createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 40);
}

/** An AWS SDK error → its code, and whether a retry can help. */
function awsError(name: string, err: unknown): CloudCallError {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  // An answer from AWS names its error; without one (no status) it is a network error.
  const code = status !== undefined ? e.name : undefined;
  return new CloudCallError(
    `${name}: ${code ? `${code}: ` : ''}${redact((e.message ?? String(err)).slice(0, 300))}`,
    retryableCode(code, status),
    code,
  );
}

const send = <T>(name: string, fn: () => Promise<T>) => call(name, fn, awsError);

function ec2Client(params: Record<string, unknown>, region: string): EC2Client {
  const key = cloudCredentials('aws', params.credentials);
  return new EC2Client({
    region,
    ...(typeof params.endpoint === 'string' ? { endpoint: params.endpoint } : {}),
    credentials: { accessKeyId: key.id, secretAccessKey: key.secret },
    // The executor retries, with backoff that fits the step's deadline.
    maxAttempts: 1,
  });
}

const view = (s: Snapshot, name: string): AwsMade => ({
  diskId: s.VolumeId ?? '',
  snapshotId: s.SnapshotId ?? '',
  name,
  status: s.State,
});

/** Snapshots every volume of `instanceId`; pushes what it made (or found) into `made`. */
export async function snapshotOnAws(
  ctx: ActionContext,
  params: Record<string, unknown>,
  target: { instanceId: string; region: string; prefix: string },
  made: AwsMade[],
): Promise<void> {
  const ec2 = ec2Client(params, target.region);
  try {
    const run = runTag(ctx.idempotencyKey);
    const name = `${target.prefix}-${ctx.event.eventId}`.slice(0, 255);
    const earlier = await send('DescribeSnapshots', () =>
      ec2.send(
        new DescribeSnapshotsCommand({
          OwnerIds: ['self'],
          Filters: [{ Name: 'tag:forewarn:run', Values: [run] }],
        }),
      ),
    );
    let snapshots = earlier.Snapshots ?? [];
    if (snapshots.length === 0) {
      const tags = {
        ...((params.tags as Record<string, string> | undefined) ?? {}),
        Name: name,
        'forewarn:event': ctx.event.eventId,
        'forewarn:rule': ctx.rule,
        'forewarn:run': run,
      };
      const res = await send('CreateSnapshots', () =>
        ec2.send(
          new CreateSnapshotsCommand({
            InstanceSpecification: {
              InstanceId: target.instanceId,
              ExcludeBootVolume: params.diskType === 'data',
            },
            Description: `forewarn: ${ctx.event.type} event ${ctx.event.eventId}, rule ${ctx.rule}`.slice(
              0,
              255,
            ),
            TagSpecifications: [
              {
                ResourceType: 'snapshot',
                Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
              },
            ],
          }),
        ),
      );
      snapshots = (res.Snapshots ?? []) as Snapshot[];
    }
    made.push(...snapshots.map((s) => view(s, name)));
    if (made.length === 0)
      throw new CloudCallError(`CreateSnapshots: ${target.instanceId} has no volumes`, false);
    if (params.wait !== true) return;
    const interval = parseDuration((params.pollInterval as string | undefined) ?? '5s');
    await pollUntil(ctx, interval, 'the snapshots to complete', async () => {
      const res = await send('DescribeSnapshots', () =>
        ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: made.map((m) => m.snapshotId) })),
      );
      const state = new Map((res.Snapshots ?? []).map((s) => [s.SnapshotId, s.State]));
      for (const m of made) m.status = state.get(m.snapshotId) ?? m.status;
      if (made.some((m) => m.status === 'error'))
        throw new CloudCallError('DescribeSnapshots: a snapshot failed', false, 'SnapshotError');
      return made.every((m) => m.status === 'completed') || undefined;
    });
  } finally {
    ec2.destroy();
  }
}
