// The shapes of the dashboard's aggregate read endpoints (routes-dashboard.ts), shared with the
// front end (src/web), which imports them as types only. No runtime code here.

export interface TimelineEvent {
  key: string;
  eventId: string;
  provider: string;
  type: string;
  status: string;
  origin: string;
  /** When the disruption may begin; absent once started or when the provider gives no time. */
  notBefore?: string;
  /** notBefore (or now, once started) + the announced duration; absent when the duration is unknown. */
  expectedEnd?: string;
  durationSeconds?: number;
  description?: string;
}

export interface TimelineRow {
  /** The VM's name, or the pool's (grouped by pool; VMs without a pool keep their own row). */
  label: string;
  kind: 'vm' | 'pool';
  /** A VM row's pool (its `pool` tag). */
  pool?: string;
  /** The VMs whose events the row shows. */
  vms: string[];
  events: TimelineEvent[];
}

export interface AgentProblem {
  vm: string;
  lastHeartbeatAt?: string;
  stale: boolean;
  /** Metadata sources whose last polls failed, with the error. */
  failing: { source: string; consecutiveFailures: number; lastError?: string }[];
}

export interface Overview {
  now: string;
  counts: {
    scheduled: number;
    started: number;
    /** Disruptive steps waiting although due: pool full, outside their rule's window, or blocked. */
    held: number;
    /** Steps that failed at least once and wait for a retry. */
    failing: number;
    deadLettered: number;
    /** True when a count stopped at the scan limit (shown as "N+"). */
    capped: boolean;
  };
  timeline: { rows: TimelineRow[]; totalRows: number; offset: number; events: number; group: 'vm' | 'pool' };
  agents: { total: number; stale: number; failing: number; problems: AgentProblem[] };
}

/** GET /api/v1/pools (the Overview's pool capacity panel reads it as it is). */
export interface PoolsAnswer {
  pools: {
    name: string;
    maxUnavailable: number | string;
    max: number;
    inUse: { pool: string; vm: string; eventKey: string; acquiredAt: string; expiresAt: string }[];
    held: HeldStep[];
  }[];
  /** Held by a rule's window or blockers, on VMs of no pool. */
  outsidePools: HeldStep[];
}

export interface HeldStep {
  vm: string;
  eventKey: string;
  step: string;
  rule: string;
  reason: string;
  nextCheck: string;
}

export interface EventSummary {
  key: string;
  provider: string;
  eventId: string;
  type: string;
  status: string;
  origin: string;
  notBefore?: string;
  durationSeconds?: number;
  description?: string;
  resources: string[];
  reporters: string[];
  firstSeenAt: string;
  updatedAt: string;
  lastTransition: string;
}

export interface AttemptView {
  n: number;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  ok: boolean;
  status?: number;
  /** The action's detail and the start of its output, at most 500 characters. */
  excerpt: string;
}

export interface StepView {
  id: number;
  name: string;
  action: string;
  status: string;
  attempts: AttemptView[];
  dueAt: string;
  deadline?: string;
  deadReason?: string;
  lastError?: string;
  finishedAt?: string;
}

export interface RunView {
  key: string;
  rule: string;
  vm: string;
  phase: string;
  createdAt: string;
  steps: StepView[];
}

export interface TimelineItem {
  at: string;
  kind: 'transition' | 'match' | 'attempt' | 'command' | 'audit';
  title: string;
  detail?: string;
  /** ok | failed | info: the dot's colour. */
  tone: 'ok' | 'failed' | 'info';
}

export interface EventDetail {
  event: EventSummary & { raw: unknown };
  runs: RunView[];
  commands: {
    id: string;
    vm: string;
    type: string;
    createdAt: string;
    completedAt?: string;
    ok?: boolean;
    detail?: string;
  }[];
  timeline: TimelineItem[];
}

export interface RuleView {
  name: string;
  description?: string;
  source?: 'file' | 'api';
  match: unknown;
  /** Steps without their parameters: those may hold URLs with credentials. */
  steps: { name: string; action: string; timing?: unknown }[];
  undo: { name: string; action: string }[];
  counts: { matched: number; evaluated: number };
}
