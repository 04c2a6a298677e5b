// Which maintenance activities each simulated cloud has, and their default timing. An activity's
// `type` is the cloud's own word (Azure EventType, AWS event code, …); the controller checks it
// against the provider of the VMs it targets. Durations are real-cloud; the controller scales them.
import { AZURE_EVENT_TYPES } from './azure-versions.js';
import { DEFAULT_TIMING, type TypeTiming } from './timing.js';

export const SIM_PROVIDERS = ['azure', 'aws', 'gcp', 'alibaba', 'tencent'] as const;
export type SimProvider = (typeof SIM_PROVIDERS)[number];

const MIN = 60_000;
const HOUR = 60 * MIN;

/** AWS (metadata-apis.md §2): scheduled-event codes, spot interruption actions, rebalance. */
const AWS: Record<string, TypeTiming> = {
  'system-reboot': {
    noticeMs: 14 * 24 * HOUR,
    durationSeconds: -1,
    startedForMs: 2 * HOUR,
    description: 'scheduled reboot',
  },
  'instance-reboot': {
    noticeMs: 14 * 24 * HOUR,
    durationSeconds: -1,
    startedForMs: 2 * HOUR,
    description: 'scheduled reboot',
  },
  'system-maintenance': {
    noticeMs: 14 * 24 * HOUR,
    durationSeconds: -1,
    startedForMs: 2 * HOUR,
    description: 'scheduled system maintenance',
  },
  'instance-retirement': {
    noticeMs: 14 * 24 * HOUR,
    durationSeconds: -1,
    startedForMs: 2 * HOUR,
    description: 'The instance is running on degraded hardware',
  },
  'instance-stop': {
    noticeMs: 14 * 24 * HOUR,
    durationSeconds: -1,
    startedForMs: 2 * HOUR,
    description: 'scheduled stop',
  },
  'spot-terminate': {
    noticeMs: 2 * MIN,
    durationSeconds: -1,
    startedForMs: 2 * MIN,
    description: 'Spot interruption: terminate',
  },
  'spot-stop': {
    noticeMs: 2 * MIN,
    durationSeconds: -1,
    startedForMs: 2 * MIN,
    description: 'Spot interruption: stop',
  },
  // Hibernation starts at once: the notice comes without the two-minute lead (§2.4).
  'spot-hibernate': {
    noticeMs: 0,
    durationSeconds: -1,
    startedForMs: 2 * MIN,
    description: 'Spot interruption: hibernate',
  },
  // A signal, not an action: noticeTime is when it was emitted; it stays until the instance goes.
  rebalance: {
    noticeMs: 0,
    durationSeconds: -1,
    startedForMs: 24 * HOUR,
    description: 'EC2 instance rebalance recommendation',
  },
};

/** GCP (§3): maintenance-event values, preemption, the upcoming-maintenance window. */
const GCP: Record<string, TypeTiming> = {
  migrate: {
    noticeMs: MIN,
    durationSeconds: -1,
    startedForMs: 5 * MIN,
    description: 'MIGRATE_ON_HOST_MAINTENANCE',
  },
  terminate: {
    noticeMs: MIN,
    durationSeconds: -1,
    startedForMs: 10 * MIN,
    description: 'TERMINATE_ON_HOST_MAINTENANCE',
  },
  preempt: { noticeMs: 30_000, durationSeconds: -1, startedForMs: 2 * MIN, description: 'Preempted' },
  'upcoming-maintenance': {
    noticeMs: 7 * 24 * HOUR,
    durationSeconds: 7200,
    startedForMs: 2 * HOUR,
    description: 'PLANNED_UPDATE',
  },
};

/**
 * Alibaba (§4.1, §4.2): spot reclamation, five minutes ahead, and ECS system events. System events
 * have no metadata path: the simulator raises them as CloudMonitor pushes (cloud-pushes.ts). The
 * failure kinds have no notice (Executing at once); the planned ones' notice is not in the
 * reference (UNVERIFIED): a day.
 */
const ALIBABA: Record<string, TypeTiming> = {
  'SystemMaintenance.Reboot': {
    noticeMs: 24 * HOUR,
    durationSeconds: -1,
    startedForMs: 10 * MIN,
    description: 'Instance:SystemMaintenance.Reboot',
  },
  'SystemMaintenance.Redeploy': {
    noticeMs: 24 * HOUR,
    durationSeconds: -1,
    startedForMs: 20 * MIN,
    description: 'Instance:SystemMaintenance.Redeploy',
  },
  'SystemFailure.Reboot': {
    noticeMs: 0,
    durationSeconds: -1,
    startedForMs: 2 * MIN,
    description: 'Instance:SystemFailure.Reboot',
    publishedStarted: true,
  },
  'InstanceFailure.Reboot': {
    noticeMs: 0,
    durationSeconds: -1,
    startedForMs: 2 * MIN,
    description: 'Instance:InstanceFailure.Reboot',
    publishedStarted: true,
  },
  'spot-termination': {
    noticeMs: 5 * MIN,
    durationSeconds: -1,
    startedForMs: 2 * MIN,
    description: 'Spot instance reclamation',
  },
};

/** Tencent (§5.1): spot reclamation; the lead time is UNVERIFIED, two minutes chosen. */
const TENCENT: Record<string, TypeTiming> = {
  'spot-termination': {
    noticeMs: 2 * MIN,
    durationSeconds: -1,
    startedForMs: 2 * MIN,
    description: 'Spot instance reclamation',
  },
};

const TIMINGS: Record<SimProvider, Record<string, TypeTiming>> = {
  azure: DEFAULT_TIMING,
  aws: AWS,
  gcp: GCP,
  alibaba: ALIBABA,
  tencent: TENCENT,
};

export const CLOUD_EVENT_TYPES: Record<SimProvider, readonly string[]> = {
  azure: AZURE_EVENT_TYPES,
  aws: Object.keys(AWS),
  gcp: Object.keys(GCP),
  alibaba: Object.keys(ALIBABA),
  tencent: Object.keys(TENCENT),
};

/** Every type of every cloud, for the control API's schema. */
export const ALL_EVENT_TYPES: readonly string[] = [...new Set(Object.values(CLOUD_EVENT_TYPES).flat())];

export function timingOf(provider: SimProvider, type: string): TypeTiming | undefined {
  return Object.hasOwn(TIMINGS[provider], type) ? TIMINGS[provider][type] : undefined;
}
