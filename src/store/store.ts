// The hub's storage interface: SQLite (sqlite.ts) for one hub, PostgreSQL (postgres.ts) for replicas.
// Every method is async so both fit; each write method is one transaction.
import type { MaintenanceEvent, Transition } from '../core/event.js';

/** A transition as the hub received it, before dedup. */
export interface IncomingTransition {
  /** CloudEvent source + id: the publisher's idempotency key. */
  ceSource: string;
  ceId: string;
  transition: Transition;
  /** The VM that reported it (the agent's VM, or the publisher's subject). */
  reporter: string;
  mine: boolean;
  observedAt: string;
  event: MaintenanceEvent;
  /** How it arrived: cloudevents-structured | cloudevents-binary | cloudevents-batch | event-grid. */
  via: string;
  /** For `rescheduled`: NotBefore before the move (tells A→B apart from C→B). */
  previousNotBefore?: string;
}

/**
 * `new`: first time seen. `duplicate`: this source+id was stored before (a retry).
 * `merged`: another VM already reported the same platform transition (Azure shows an event to
 * every VM of an availability set); recorded as a sighting, not a new transition.
 */
export type IngestOutcome = 'new' | 'duplicate' | 'merged';

export interface IngestResult {
  outcome: IngestOutcome;
  /** The stored transition's row id (new or the one it merged into). */
  transitionId: number;
  eventKey: string;
}

export interface EventRow {
  key: string;
  provider: string;
  eventId: string;
  type: string;
  status: string;
  notBefore?: string;
  durationSeconds?: number;
  description?: string;
  origin: string;
  resources: string[];
  reporters: string[];
  firstSeenAt: string;
  updatedAt: string;
  lastTransition: Transition;
  raw: unknown;
}

export interface TransitionRow {
  id: number;
  eventKey: string;
  transition: Transition;
  ceSource: string;
  ceId: string;
  reporter: string;
  observedAt: string;
  receivedAt: string;
  via: string;
  sightings: { reporter: string; ceSource: string; receivedAt: string }[];
}

export interface VmRow {
  name: string;
  identity: Record<string, unknown>;
  agentVersion?: string;
  lastHeartbeatAt?: string;
  health?: unknown;
  firstSeenAt: string;
}

export interface CommandRow {
  id: string;
  vm: string;
  type: 'approve' | 'run-hook';
  eventId?: string;
  hook?: string;
  createdAt: string;
  deliveredAt?: string;
  deliveries: number;
  completedAt?: string;
  result?: { ok: boolean; detail: string; output?: unknown };
  origin: string;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  subject: string;
  detail: unknown;
}

export interface EventFilter {
  status?: string;
  vm?: string;
  type?: string;
  provider?: string;
  since?: string;
  until?: string;
  limit?: number;
  offset?: number;
}

export interface Heartbeat {
  vm: string;
  payload: { identity: Record<string, unknown>; agentVersion?: string; health?: unknown };
}

export interface Store extends RunStore {
  /**
   * True when the store itself applies writes one at a time in call order (SQLite's writer
   * thread): callers may keep several group commits in flight instead of one.
   */
  readonly ordersWrites?: boolean;
  /** Stores a batch atomically; outcomes are in input order. */
  ingest(batch: IncomingTransition[], receivedAt: string): Promise<IngestResult[]>;
  heartbeat(
    vm: string,
    payload: { identity: Record<string, unknown>; agentVersion?: string; health?: unknown },
    at: string,
  ): Promise<void>;
  /** Many VMs' heartbeats in one transaction (the hub groups those that arrive together). */
  heartbeats(batch: Heartbeat[], at: string): Promise<void>;
  listEvents(filter: EventFilter): Promise<{ events: EventRow[]; total: number }>;
  getEvent(
    key: string,
  ): Promise<{ event: EventRow; transitions: TransitionRow[]; commands: CommandRow[] } | undefined>;
  listVms(): Promise<VmRow[]>;
  getVm(name: string): Promise<VmRow | undefined>;
  /** The event row alone (no history): what the planner needs per transition. */
  getEventRow(key: string): Promise<EventRow | undefined>;
  enqueueCommand(command: Omit<CommandRow, 'createdAt' | 'deliveries'>, at: string): Promise<CommandRow>;
  /** Commands not yet completed for `vm`, oldest first; marks them delivered. Redelivered after `redeliverAfterMs`. */
  takeCommands(vm: string, at: string, redeliverAfterMs: number, limit: number): Promise<CommandRow[]>;
  completeCommand(
    vm: string,
    id: string,
    result: CommandRow['result'],
    at: string,
  ): Promise<CommandRow | undefined>;
  getCommand(id: string): Promise<CommandRow | undefined>;
  /** Stored transitions the planner has not finished with (it crashed, or is behind). */
  unplanned(
    limit: number,
  ): Promise<(IncomingTransition & { transitionId: number; eventKey: string; receivedAt: string })[]>;
  /**
   * The planner is done with these: the lowest unplanned transitions, in id order, as `unplanned`
   * returns them (a store may keep a cursor rather than a mark per transition).
   */
  markPlanned(transitionIds: number[], at: string): Promise<void>;
  /** Rules added through the API (file rules live in the config). */
  apiRules(): Promise<{ name: string; definition: unknown; updatedAt: string }[]>;
  putRule(name: string, definition: unknown, at: string): Promise<void>;
  deleteRule(name: string): Promise<boolean>;
  /** Timer triggers: the newest slot of a rule that was fired or skipped (ISO), if any yet. */
  scheduleCursor(rule: string): Promise<string | undefined>;
  /** Moves a rule's cursor forward to `slot` (never back; replicas may race), creating it. */
  advanceSchedule(rule: string, slot: string, at: string): Promise<void>;
  /**
   * A named lease one hub holds at a time (e.g. consuming the NATS stream, so transitions are
   * stored in stream order): taken when free or lapsed, renewed by its holder; true while
   * `holder` has it. It lapses `ttlMs` after the holder's last call.
   */
  holdLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives a lease up at once (a clean stop), if `holder` has it. */
  releaseLease(name: string, holder: string): Promise<void>;
  audit(entry: Omit<AuditEntry, 'id'>): Promise<void>;
  auditLog(subject?: string, limit?: number): Promise<AuditEntry[]>;
  /** Deletes finished events (and their history) last updated before `before`; returns how many. */
  prune(before: string): Promise<number>;
  /**
   * A store that several hubs share (PostgreSQL) tells each of them what any of them changed, so
   * planning, command long-polls, the executor and dashboards react on every replica. A store one
   * hub owns (SQLite) has no such method: that hub's own in-process events say it all.
   */
  onChange?(listener: (change: StoreChange) => void): () => void;
  close(): Promise<void>;
}

/** What changed in a shared store: new transitions, new/redriven steps, a finished step, a command, rules. */
export interface StoreChange {
  kind: 'transition' | 'steps' | 'step' | 'command' | 'rules';
  /** For `command`: the VM whose agent should look. */
  vm?: string;
}

/** The platform identity of an event, the same whichever VM reported it. */
export function eventKey(provider: string, eventId: string): string {
  return `${provider}/${eventId.toLowerCase()}`;
}

/**
 * The same platform transition reported by several VMs shares this key (both stores dedupe on it).
 * Reschedules can revisit a time (A → B → C → B): each move is its own transition. Several VMs
 * reporting the same move are merged by content (see the stores' ingest), not by this key.
 */
export function platformKey(t: IncomingTransition): string {
  const base = `${eventKey(t.event.provider, t.event.eventId)}|${t.transition}`;
  if (t.transition === 'scheduled') return `${base}|${t.event.notBefore ?? ''}`;
  if (t.transition === 'rescheduled') return `${base}|${t.event.notBefore ?? ''}|${t.ceSource}|${t.ceId}`;
  return base;
}

/** Later transitions win, except that an event never goes back from a final state. */
export const TRANSITION_RANK: Record<string, number> = {
  scheduled: 0,
  rescheduled: 0,
  started: 1,
  completed: 2,
  canceled: 2,
};

export type StepStatus = 'pending' | 'running' | 'succeeded' | 'dead' | 'skipped';

export interface RunRow {
  key: string;
  rule: string;
  eventKey: string;
  vm: string;
  /** `notice`: a lifecycle notice's one-step run (src/hub/notices.ts). */
  phase: 'do' | 'undo' | 'notice';
  triggerTransitionId: number;
  createdAt: string;
  /** The event when the rule matched; actions see this, so retries send identical bodies. */
  snapshot?: EventRow;
}

export interface StepRow {
  id: number;
  runKey: string;
  idx: number;
  name: string;
  action: string;
  params: Record<string, unknown>;
  /** Lead before NotBefore in ms; undefined = immediate. */
  leadMs?: number;
  timeoutMs: number;
  maxAttempts: number;
  maxBackoffMs: number;
  runAfterDeadline: boolean;
  status: StepStatus;
  dueAt: string;
  deadline?: string;
  attempts: number;
  leaseUntil?: string;
  lastError?: string;
  deadReason?: string;
  /** Stable across retries, redrives and hub restarts; sent to receivers. */
  idempotencyKey: string;
  /** Takes the VM out of service: runs only with a slot of its pool's budget. */
  disruptive: boolean;
  /** Why the step waits although due (its pool is full); cleared when it runs. */
  heldReason?: string;
  updatedAt: string;
  finishedAt?: string;
}

export interface AttemptRow {
  id: number;
  stepId: number;
  n: number;
  startedAt: string;
  finishedAt: string;
  ok: boolean;
  retryable?: boolean;
  status?: number;
  detail: string;
  output?: unknown;
}

export type NewStep = Omit<
  StepRow,
  | 'id'
  | 'runKey'
  | 'status'
  | 'attempts'
  | 'updatedAt'
  | 'leaseUntil'
  | 'lastError'
  | 'deadReason'
  | 'finishedAt'
  | 'heldReason'
>;

export interface StepOutcome {
  status: 'succeeded' | 'pending' | 'dead';
  dueAt?: string;
  lastError?: string;
  deadReason?: string;
}

export interface PlannedRun {
  run: RunRow;
  steps: NewStep[];
  audit?: Omit<AuditEntry, 'id'>;
}

export interface FinishedAttempt {
  stepId: number;
  attempt: Omit<AttemptRow, 'id' | 'stepId'>;
  outcome: StepOutcome;
}

export type ClaimedStep = StepRow & { run?: RunRow };

/** A VM's slot in a pool's budget, held for one event from its first disruptive step to its end. */
export interface SlotRow {
  pool: string;
  vm: string;
  eventKey: string;
  acquiredAt: string;
  expiresAt: string;
}

export type SlotAnswer = { ok: true; slot: SlotRow } | { ok: false; holders: SlotRow[] };

/** Durable runs and steps: the planner writes them, the executor claims and finishes them. */
export interface RunStore {
  /** Creates a run with its steps; false (and nothing written) if the run key exists. */
  /** With `audit`, the audit entry is written in the same transaction (one commit per run). */
  createRun(run: RunRow, steps: NewStep[], audit?: Omit<AuditEntry, 'id'>): Promise<boolean>;
  /**
   * One planning pass in one commit: several runs (each written once, as `createRun`) and the
   * transitions it finished with marked planned. Per run, whether it was new.
   */
  commitPlan(runs: PlannedRun[], planned: number[], at: string): Promise<boolean[]>;
  runsForEvent(eventKey: string, filter?: { vm?: string; phase?: 'do' | 'undo' }): Promise<RunRow[]>;
  getRun(key: string): Promise<RunRow | undefined>;
  stepsOfRun(runKey: string): Promise<StepRow[]>;
  /** Moves the due time and deadline of a run's pending lead-timed steps (event rescheduled). */
  retimePending(runKey: string, notBefore: string | undefined, now: string): Promise<number>;
  /** Marks pending steps of a run skipped (event canceled before they ran). */
  skipPending(runKey: string, reason: string, now: string): Promise<number>;
  /**
   * Leases due, runnable steps (the previous step of the run succeeded) for their timeout plus
   * `leaseMs`, each with its run (so the executor needs no read per step).
   */
  claimDue(now: string, leaseMs: number, limit: number): Promise<ClaimedStep[]>;
  /** Records one attempt and the step's new state in one transaction. */
  finishAttempt(
    stepId: number,
    attempt: Omit<AttemptRow, 'id' | 'stepId'>,
    outcome: StepOutcome,
    now: string,
  ): Promise<void>;
  /** Several attempts finished together, in one commit (the executor's group commit). */
  finishAttempts(items: FinishedAttempt[], now: string): Promise<void>;
  /** Running steps whose lease ran out (their hub died) go back to pending; returns how many. */
  reapExpired(now: string): Promise<number>;
  getStep(
    id: number,
  ): Promise<(StepRow & { rule: string; eventKey: string; vm: string; phase: string }) | undefined>;
  listSteps(filter: {
    status?: StepStatus;
    eventKey?: string;
    limit?: number;
    offset?: number;
  }): Promise<(StepRow & { rule: string; eventKey: string; vm: string; phase: string })[]>;
  attemptsOf(stepId: number): Promise<AttemptRow[]>;
  /** Dead steps back to pending now, attempts reset; all dead steps when `ids` is undefined. */
  redrive(ids: number[] | undefined, now: string): Promise<number>;
  /** Next due time of any pending step, for the executor's timer. */
  nextDue(): Promise<string | undefined>;
  /**
   * Takes a slot of `pool` for (vm, event) if fewer than `max` unexpired slots are held, or
   * renews the one it holds; otherwise answers who holds them. Atomic.
   */
  acquireSlot(
    slot: { pool: string; vm: string; eventKey: string },
    max: number,
    now: string,
    expiresAt: string,
  ): Promise<SlotAnswer>;
  /** Frees the slots an event holds (for one VM or all, in one pool or all); returns how many. */
  releaseSlots(eventKey: string, vm?: string, pool?: string): Promise<number>;
  /** Unexpired slots, by pool. */
  listSlots(now: string, pool?: string): Promise<SlotRow[]>;
  /** A claimed step goes back to pending until `dueAt` without counting an attempt (held by budget). */
  holdStep(stepId: number, dueAt: string, reason: string, now: string): Promise<void>;
}
