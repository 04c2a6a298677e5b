// Rows of the PostgreSQL store as the Store interface returns them. JSON columns are TEXT (as in
// SQLite), so a provider's document comes back byte for byte as it was stored.
import type { Transition } from '../core/event.js';
import { parseText } from './postgres-runs.js';
import type { CommandRow, EventRow, IncomingTransition, TransitionRow, VmRow } from './store.js';

export type Row = Record<string, unknown>;
export const opt = <T>(v: unknown): T | undefined => (v === null || v === undefined ? undefined : (v as T));

export function toEvent(r: Row): EventRow {
  return {
    key: r.key as string,
    provider: r.provider as string,
    eventId: r.event_id as string,
    type: r.type as string,
    status: r.status as string,
    notBefore: opt(r.not_before),
    durationSeconds: opt(r.duration_seconds),
    description: opt(r.description),
    origin: r.origin as string,
    resources: parseText<string[]>(r.resources) ?? [],
    reporters: parseText<string[]>(r.reporters) ?? [],
    firstSeenAt: r.first_seen_at as string,
    updatedAt: r.updated_at as string,
    lastTransition: r.last_transition as Transition,
    raw: parseText(r.raw),
  };
}

export function toVm(r: Row): VmRow {
  return {
    name: r.name as string,
    identity: parseText<Record<string, unknown>>(r.identity) ?? {},
    agentVersion: opt(r.agent_version),
    lastHeartbeatAt: opt(r.last_heartbeat_at),
    health: parseText(r.health),
    firstSeenAt: r.first_seen_at as string,
  };
}

export function toCommand(r: Row): CommandRow {
  return {
    id: r.id as string,
    vm: r.vm as string,
    type: r.type as CommandRow['type'],
    eventId: opt(r.event_id),
    hook: opt(r.hook),
    origin: r.origin as string,
    createdAt: r.created_at as string,
    deliveredAt: opt(r.delivered_at),
    deliveries: r.deliveries as number,
    completedAt: opt(r.completed_at),
    result: parseText(r.result),
  };
}

export function toTransition(r: Row, sightings: TransitionRow['sightings']): TransitionRow {
  return {
    id: r.id as number,
    eventKey: r.event_key as string,
    transition: r.transition as Transition,
    ceSource: r.ce_source as string,
    ceId: r.ce_id as string,
    reporter: r.reporter as string,
    observedAt: r.observed_at as string,
    receivedAt: r.received_at as string,
    via: r.via as string,
    sightings,
  };
}

export function toUnplanned(r: Row) {
  return {
    ceSource: r.ce_source as string,
    ceId: r.ce_id as string,
    transition: r.transition as Transition,
    reporter: r.reporter as string,
    mine: r.mine === true,
    observedAt: r.observed_at as string,
    event: JSON.parse(r.data as string) as IncomingTransition['event'],
    via: r.via as string,
    transitionId: r.id as number,
    eventKey: r.event_key as string,
    receivedAt: r.received_at as string,
  };
}
