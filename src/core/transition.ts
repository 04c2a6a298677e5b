// A transition is what the agent reports: one step in an event's life, with a stable id that
// is the idempotency key everywhere downstream. Mapped to CloudEvents 1.0 and Event Grid here.
import type { MaintenanceEvent, Transition } from './event.js';

export interface TransitionRecord {
  /** Stable across restarts and retries: provider/eventId/transition[/generation][/change]. */
  id: string;
  transition: Transition;
  /** The event as it stands after the transition. */
  event: MaintenanceEvent;
  /** Whether the event's Resources include the observing VM (false: a sibling's event). */
  mine: boolean;
  observedAt: string;
  /** `completed` inferred: a Scheduled event vanished after its NotBefore while we were not looking. */
  inferred?: boolean;
  previousNotBefore?: string;
}

export const CLOUDEVENT_TYPE_PREFIX = 'forewarn.maintenance.';

/** The CloudEvents `source` of a VM: a URI-reference naming it. */
export function vmSource(vm: string): string {
  return `/forewarn/vms/${encodeURIComponent(vm)}`;
}

/** CloudEvents 1.0 JSON (structured form). Built by hand: the agent must stay small, and the
 * hub validates everything it receives with the official SDK anyway. */
export interface CloudEventJson {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  data: Record<string, unknown>;
}

export function toCloudEvent(t: TransitionRecord): CloudEventJson {
  return {
    specversion: '1.0',
    id: t.id,
    source: vmSource(t.event.vm),
    type: `${CLOUDEVENT_TYPE_PREFIX}${t.transition}`,
    subject: `${t.event.provider}/${t.event.eventId}`,
    time: t.observedAt,
    datacontenttype: 'application/json',
    data: {
      ...t.event,
      mine: t.mine,
      ...(t.inferred ? { inferred: true } : {}),
      ...(t.previousNotBefore ? { previousNotBefore: t.previousNotBefore } : {}),
    },
  };
}

/** Event Grid schema (delivery-semantics.md §1): what an Event Grid topic accepts. */
export interface EventGridEvent {
  id: string;
  subject: string;
  eventType: string;
  eventTime: string;
  data: Record<string, unknown>;
  dataVersion: string;
}

export function toEventGridEvent(t: TransitionRecord): EventGridEvent {
  const ce = toCloudEvent(t);
  return {
    id: t.id,
    subject: `${ce.source}/events/${t.event.provider}/${t.event.eventId}`,
    eventType: ce.type,
    eventTime: t.observedAt,
    data: ce.data,
    dataVersion: '1.0',
  };
}
