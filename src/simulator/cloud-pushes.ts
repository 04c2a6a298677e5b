// The clouds' event buses: as an activity moves, the simulator posts what the cloud would push to
// a configured endpoint (a forewarn hub's /api/v1/push/<format>): Alibaba CloudMonitor ECS system
// events (current format), AWS EventBridge Spot interruption warnings, rebalance recommendations
// and AWS Health scheduled changes. Each push is logged with its answer; a failed one is retried
// twice, then given up (as a cloud's bus would, within its retry policy).
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatAlibabaEventTime, formatRfc1123, formatRfc3339Seconds, toIso } from '../core/time.js';
import { alibabaInstanceId } from './alibaba-metadata.js';
import { awsInstanceId } from './aws-metadata.js';
import type { Activity, ActivityStatus, Controller } from './controller.js';

export const PUSH_FORMATS = ['aws', 'alibaba'] as const;
export type PushFormat = (typeof PUSH_FORMATS)[number];

export interface PushTarget {
  url: string;
  /** Sent as X-Forewarn-Push-Secret; never shown by the control API. */
  secret: string;
  /** Alibaba: push the older CloudMonitor format, as the original Function Compute handler read it. */
  legacy?: boolean;
}

export interface PushRecord {
  at: string;
  format: PushFormat;
  eventId: string;
  kind: string;
  status?: number;
  error?: string;
  attempts: number;
}

const ACCOUNT = '123456789012';
const ALIYUN_USER = '1690700000000030';
const FAILURES = ['SystemFailure.Reboot', 'InstanceFailure.Reboot'];
const ALIBABA_STATUS: Record<ActivityStatus, string> = {
  Scheduled: 'Scheduled',
  Started: 'Executing',
  Completed: 'Executed',
  Canceled: 'Canceled',
};
const HEALTH_CODES: Record<string, string> = {
  'system-reboot': 'AWS_EC2_SYSTEM_REBOOT_MAINTENANCE_SCHEDULED',
  'instance-reboot': 'AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED',
  'system-maintenance': 'AWS_EC2_SYSTEM_MAINTENANCE_SCHEDULED',
  'instance-retirement': 'AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED',
  'instance-stop': 'AWS_EC2_INSTANCE_STOP_SCHEDULED',
};

/**
 * The older CloudMonitor shape (metadata-apis.md §4.2, "legacy variant"): a top-level `status`, the
 * instance as `content.ecsInstanceId` / `ecsInstanceName`, no `ver`, `id`, `userId` or `eventTime`.
 */
function legacyAlibaba(body: unknown): unknown {
  const { ver: _v, id: _i, userId: _u, eventTime: _t, content, ...rest } = body as Record<string, unknown>;
  const { instanceId, eventStatus, publishTime: _p, ...c } = content as Record<string, string>;
  return {
    ...rest,
    status: eventStatus,
    content: { ...c, ecsInstanceId: instanceId, ecsInstanceName: rest.instanceName },
  };
}

export class CloudPusher {
  private targets: Partial<Record<PushFormat, PushTarget>> = {};
  private records: PushRecord[] = [];
  /** The status each activity was last pushed with: a push per change, not per history line. */
  private readonly pushed = new Map<string, ActivityStatus>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly controller: Controller,
    private readonly retryMs = 500,
  ) {
    controller.on('activity', (a: Activity) => this.onActivity(a));
  }

  set(format: PushFormat, target: PushTarget | undefined): void {
    if (target) this.targets[format] = { ...target };
    else delete this.targets[format];
  }

  /** Targets without their secrets, and the log, newest last. */
  view() {
    return {
      targets: Object.fromEntries(
        Object.entries(this.targets).map(([f, t]) => [
          f,
          { url: t.url, ...(t.legacy ? { legacy: true } : {}) },
        ]),
      ),
      pushes: [...this.records],
    };
  }

  /** Forgets the log and what was pushed (POST /sim/reset); the targets are config and stay. */
  reset(): void {
    this.records = [];
    this.pushed.clear();
  }

  /** Resolves when every push so far has been answered or given up (tests). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  private onActivity(a: Activity): void {
    if (this.pushed.get(a.eventId) === a.status) return;
    const message = this.render(a);
    if (!message) return;
    this.pushed.set(a.eventId, a.status);
    const target = this.targets[message.format];
    if (!target) return;
    const body = message.format === 'alibaba' && target.legacy ? legacyAlibaba(message.body) : message.body;
    const p = this.send(message.format, target, a.eventId, message.kind, body).finally(() =>
      this.inFlight.delete(p),
    );
    this.inFlight.add(p);
  }

  /** What the cloud's bus says about this activity now, if anything. */
  private render(a: Activity): { format: PushFormat; kind: string; body: unknown } | undefined {
    const vm = this.controller.fleet.get(a.resources[0] ?? '');
    if (!vm) return undefined;
    const now = this.controller.now();
    if (a.provider === 'alibaba' && a.type !== 'spot-termination') {
      // Failure events have no Scheduled state (§4.2 appendix).
      if (FAILURES.includes(a.type) && a.status === 'Scheduled') return undefined;
      const iid = alibabaInstanceId(vm);
      const status = ALIBABA_STATUS[a.status];
      const content: Record<string, string> = {
        eventId: a.eventId,
        publishTime: formatRfc3339Seconds(a.createdAt),
        instanceId: iid,
        eventType: a.type,
        eventStatus: status,
      };
      if (!FAILURES.includes(a.type)) content.notBefore = formatRfc3339Seconds(a.notBefore);
      if (a.startedAt !== undefined) content.executeStartTime = formatRfc3339Seconds(a.startedAt);
      if (a.endedAt !== undefined && a.status === 'Completed')
        content.executeFinishTime = formatRfc3339Seconds(a.endedAt);
      return {
        format: 'alibaba',
        kind: `Instance:${a.type}:${status}`,
        body: {
          ver: '1.0',
          id: randomUUID().toUpperCase(),
          product: 'ECS',
          resourceId: `acs:ecs:cn-hangzhou:${ALIYUN_USER}:instance/${iid}`,
          level: FAILURES.includes(a.type) ? 'CRITICAL' : 'WARN',
          name: `Instance:${a.type}:${status}`,
          userId: ALIYUN_USER,
          eventTime: formatAlibabaEventTime(now),
          regionId: 'cn-hangzhou',
          instanceName: vm.name,
          content,
        },
      };
    }
    if (a.provider !== 'aws') return undefined;
    const iid = awsInstanceId(vm);
    const envelope = (detailType: string, source: string, detail: Record<string, unknown>) => ({
      version: '0',
      id: randomUUID(),
      'detail-type': detailType,
      source,
      account: ACCOUNT,
      time: formatRfc3339Seconds(now),
      region: 'us-east-1',
      resources: [`arn:aws:ec2:us-east-1:${ACCOUNT}:instance/${iid}`],
      detail,
    });
    if (a.type.startsWith('spot-')) {
      if (a.status !== 'Scheduled' && a.status !== 'Started') return undefined;
      if (this.pushed.has(a.eventId)) return undefined; // one warning per interruption
      const detail = { 'instance-id': iid, 'instance-action': a.type.slice('spot-'.length) };
      return {
        format: 'aws',
        kind: 'EC2 Spot Instance Interruption Warning',
        body: envelope('EC2 Spot Instance Interruption Warning', 'aws.ec2', detail),
      };
    }
    if (a.type === 'rebalance') {
      if (this.pushed.has(a.eventId)) return undefined;
      return {
        format: 'aws',
        kind: 'EC2 Instance Rebalance Recommendation',
        body: envelope('EC2 Instance Rebalance Recommendation', 'aws.ec2', { 'instance-id': iid }),
      };
    }
    const code = HEALTH_CODES[a.type];
    if (!code) return undefined;
    const statusCode = a.status === 'Scheduled' ? 'upcoming' : a.status === 'Started' ? 'open' : 'closed';
    return {
      format: 'aws',
      kind: `AWS Health Event ${code} ${statusCode}`,
      body: envelope('AWS Health Event', 'aws.health', {
        eventArn: `arn:aws:health:us-east-1::event/EC2/${code}/${a.eventId}`,
        service: 'EC2',
        eventTypeCode: code,
        eventTypeCategory: 'scheduledChange',
        startTime: formatRfc1123(a.notBefore),
        endTime: formatRfc1123(a.notBefore + a.startedForMs),
        lastUpdatedTime: formatRfc1123(now),
        statusCode,
        eventDescription: [{ language: 'en_US', latestDescription: a.description }],
        affectedEntities: [{ entityValue: iid }],
      }),
    };
  }

  private async send(format: PushFormat, target: PushTarget, eventId: string, kind: string, body: unknown) {
    const record: PushRecord = { at: toIso(this.controller.now()), format, eventId, kind, attempts: 0 };
    this.records.push(record);
    if (this.records.length > 1000) this.records.splice(0, this.records.length - 1000);
    for (let attempt = 0; attempt < 3; attempt++) {
      record.attempts = attempt + 1;
      try {
        const res = await fetch(target.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forewarn-push-secret': target.secret },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        });
        record.status = res.status;
        record.error = res.ok ? undefined : (await res.text()).slice(0, 300);
        // 4xx is the receiver's final word; only 5xx and network errors are worth another try.
        if (res.status < 500) return;
      } catch (err) {
        record.error = (err as Error).message;
      }
      await sleep(this.retryMs * 2 ** attempt);
    }
  }
}
