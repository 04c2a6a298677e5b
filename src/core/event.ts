// The provider-neutral model every source produces and everything downstream consumes.

export const PROVIDERS = ['azure', 'azure-legacy', 'aws', 'gcp', 'alibaba', 'tencent'] as const;
export type Provider = (typeof PROVIDERS)[number];

/**
 * Where an event can come from in the hub: the clouds, and the hub's own timer triggers
 * (`schedule`, src/hub/scheduler.ts). Agents and pushes may publish only for the clouds.
 */
export const SCHEDULE_PROVIDER = 'schedule';
export const EVENT_PROVIDERS = [...PROVIDERS, SCHEDULE_PROVIDER] as const;
export type EventProvider = (typeof EVENT_PROVIDERS)[number];

/** Normalised maintenance types; the provider's own word stays in `raw`. */
export const EVENT_TYPES = [
  'freeze',
  'reboot',
  'redeploy',
  'preempt',
  'terminate',
  'live-migrate',
  'stop',
  'retire',
  'reimage',
  'system-maintenance',
  'rebalance',
  /** A type the source does not know yet: kept, never dropped; the provider's word is in `raw`. */
  'other',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const EVENT_STATUSES = ['scheduled', 'started', 'completed', 'canceled'] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

/** What the tracker emits when a document differs from the previous one. */
export const TRANSITIONS = ['scheduled', 'rescheduled', 'started', 'completed', 'canceled'] as const;
export type Transition = (typeof TRANSITIONS)[number];

export type Origin = 'platform' | 'user';

export interface MaintenanceEvent {
  provider: EventProvider;
  /** The provider's id (Azure EventId); stable from scheduled to started. */
  eventId: string;
  /** The VM that observed the event. */
  vm: string;
  type: EventType;
  status: EventStatus;
  /** ISO 8601 UTC; absent once started or when the provider gives no time. */
  notBefore?: string;
  /** -1 unknown, 0 no impact (Azure semantics). */
  durationSeconds?: number;
  description?: string;
  origin: Origin;
  /** VM names the event affects; may include siblings of `vm`. */
  resources: string[];
  /** The provider's own document for this event, untouched. */
  raw: unknown;
}

const AZURE_TYPES: Record<string, EventType> = {
  Freeze: 'freeze',
  Pause: 'freeze', // 2016 preview name for Freeze
  Reboot: 'reboot',
  Redeploy: 'redeploy',
  Preempt: 'preempt',
  Terminate: 'terminate',
};

/** Maps an Azure EventType to ours; undefined for types we do not know. */
export function normaliseAzureType(azureType: string): EventType | undefined {
  return AZURE_TYPES[azureType];
}

/** True when `event.resources` names `vm`, i.e. the event concerns this VM and not only a sibling. */
export function concernsVm(event: Pick<MaintenanceEvent, 'resources'>, vm: string): boolean {
  const bare = vm.replace(/^_/, '');
  return event.resources.some((r) => r.replace(/^_/, '').toLowerCase() === bare.toLowerCase());
}
