// Rows as the Store interface returns them, for both stores: the SQLite and PostgreSQL schemas use
// the same column names, and JSON columns are TEXT in both, so a provider's document comes back byte
// for byte as it was stored. Booleans are 0/1 in SQLite and true/false in PostgreSQL.
import type { Transition } from '../core/event.js';
import type {
  AttemptRow,
  AuditEntry,
  CommandRow,
  EventRow,
  IncomingTransition,
  RunRow,
  SlotRow,
  StepRow,
  StepStatus,
  TransitionRow,
  VmRow,
} from './store.js';

export type Row = Record<string, unknown>;
export const opt = <T>(v: unknown): T | undefined => (v === null || v === undefined ? undefined : (v as T));
export const jsonText = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
export const parseText = <T>(v: unknown): T | undefined =>
  typeof v === 'string' ? (JSON.parse(v) as T) : undefined;
/** A boolean column: 1 in SQLite, true in PostgreSQL. */
export const flag = (v: unknown): boolean => v === true || v === 1;

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
    raw: parseText(r.raw ?? r.raw_latest), // raw_latest: the stores keep the document in the transition
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
    mine: flag(r.mine),
    observedAt: r.observed_at as string,
    event: JSON.parse(r.data as string) as IncomingTransition['event'],
    via: r.via as string,
    transitionId: r.id as number,
    eventKey: r.event_key as string,
    receivedAt: r.received_at as string,
  };
}

export function toStep(r: Row): StepRow {
  return {
    id: r.id as number,
    runKey: r.run_key as string,
    idx: r.idx as number,
    name: r.name as string,
    action: r.action as string,
    params: JSON.parse(r.params as string) as Record<string, unknown>,
    leadMs: opt(r.lead_ms),
    timeoutMs: r.timeout_ms as number,
    maxAttempts: r.max_attempts as number,
    maxBackoffMs: r.max_backoff_ms as number,
    runAfterDeadline: flag(r.run_after_deadline),
    status: r.status as StepStatus,
    dueAt: r.due_at as string,
    deadline: opt(r.deadline),
    attempts: r.attempts as number,
    leaseUntil: opt(r.lease_until),
    lastError: opt(r.last_error),
    deadReason: opt(r.dead_reason),
    idempotencyKey: r.idempotency_key as string,
    disruptive: flag(r.disruptive),
    heldReason: opt(r.held_reason),
    updatedAt: r.updated_at as string,
    finishedAt: opt(r.finished_at),
  };
}

/** A step joined with its run's rule, event, VM and phase (listSteps, getStep). */
export const toStepWithRun = (r: Row) => ({
  ...toStep(r),
  rule: r.rule as string,
  eventKey: r.event_key as string,
  vm: r.vm as string,
  phase: r.phase as string,
});

/** `parsed`: runs of one trigger share one snapshot text; parse it once per batch of rows. */
export function toRun(r: Row, parsed?: Map<string, unknown>): RunRow {
  const text = typeof r.snapshot === 'string' ? r.snapshot : undefined;
  let snapshot = text === undefined ? undefined : parsed?.get(text);
  if (text !== undefined && snapshot === undefined) {
    snapshot = JSON.parse(text);
    parsed?.set(text, snapshot);
  }
  return {
    key: r.key as string,
    rule: r.rule as string,
    eventKey: r.event_key as string,
    vm: r.vm as string,
    phase: r.phase as 'do' | 'undo',
    triggerTransitionId: r.trigger_transition_id as number,
    createdAt: r.created_at as string,
    snapshot: snapshot as RunRow['snapshot'],
  };
}

export function toSlot(r: Row): SlotRow {
  return {
    pool: r.pool as string,
    vm: r.vm as string,
    eventKey: r.event_key as string,
    acquiredAt: r.acquired_at as string,
    expiresAt: r.expires_at as string,
  };
}

export function toAttempt(r: Row): AttemptRow {
  return {
    id: r.id as number,
    stepId: r.step_id as number,
    n: r.n as number,
    startedAt: r.started_at as string,
    finishedAt: r.finished_at as string,
    ok: flag(r.ok),
    retryable: r.retryable === null || r.retryable === undefined ? undefined : flag(r.retryable),
    status: opt(r.status),
    detail: r.detail as string,
    output: parseText(r.output),
  };
}

export function toAudit(r: Row): AuditEntry {
  return {
    id: r.id as number,
    at: r.at as string,
    actor: r.actor as string,
    action: r.action as string,
    subject: r.subject as string,
    detail: parseText(r.detail),
  };
}
