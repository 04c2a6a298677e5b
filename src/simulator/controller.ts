// The cloud's maintenance controller: a repository of maintenance activities that lives as long
// as they do. Each VM's metadata server only renders what this controller holds for that VM.
// Time is real epoch ms; the time scale shrinks every cloud duration when an activity is created.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { parseDuration, TimeFormatError, toIso } from '../core/time.js';
import { CLOUD_EVENT_TYPES, timingOf, type SimProvider } from './cloud-types.js';
import { Fleet, SimError, type Targets } from './fleet.js';
import { HOST_FAILURE_DESCRIPTION } from './timing.js';

export type ActivityStatus = 'Scheduled' | 'Started' | 'Completed' | 'Canceled';
export type EventSource = 'Platform' | 'User';
/** `any`: one approval counts for every VM in Resources (Azure docs). `all`: each resource must approve. */
export type ApprovalMode = 'any' | 'all';

export interface Activity {
  eventId: string;
  /** The cloud of every VM in `resources`; each metadata server renders only its own cloud's. */
  provider: SimProvider;
  /** The cloud's own word: Azure EventType, AWS event code, GCP maintenance kind, … (cloud-types.ts). */
  type: string;
  source: EventSource;
  description: string;
  resources: string[];
  /** VMs whose document shows the event: the resources and their availability-set siblings. */
  audience: string[];
  status: ActivityStatus;
  createdAt: number;
  notBefore: number;
  durationSeconds: number;
  startedForMs: number;
  startedAt?: number;
  endedAt?: number;
  approvalMode: ApprovalMode;
  approvedBy: string[];
  history: { at: string; status: ActivityStatus; reason: string }[];
}

export interface ScheduleInput {
  type: string;
  targets: Targets;
  /** Cloud time until NotBefore (scaled); default per type. Ignored when `notBefore` is given. */
  notice?: string | number;
  /** Absolute NotBefore, ISO 8601. */
  notBefore?: string;
  /** DurationInSeconds; default per type. */
  durationSeconds?: number;
  /** Cloud time the event stays Started before it disappears (scaled). */
  startedFor?: string | number;
  source?: EventSource;
  description?: string;
  /** `Started` publishes it already started, as Azure does on an actual host failure. */
  status?: 'Scheduled' | 'Started';
  approval?: ApprovalMode;
}

export interface Approval {
  at: string;
  vm: string;
  eventId: string;
  /** `not-affected`: mode `all`, from an audience VM outside Resources; recorded, but it does not count. */
  result: 'approved' | 'already-approved' | 'not-affected' | 'unknown-event' | 'not-scheduled' | 'rejected';
}

export interface ControllerOptions {
  now?: () => number;
  /** Cloud durations are divided by this: 60 turns a 15 min notice into 15 s. */
  timeScale?: number;
  /** Arm a timer so events start and end on time without anyone polling. */
  autoAdvance?: boolean;
  defaultApproval?: ApprovalMode;
  /** How many finished activities to keep for listing. */
  keepFinished?: number;
}

export class Controller extends EventEmitter {
  readonly now: () => number;
  readonly fleet: Fleet;
  private scale: number;
  private readonly activities = new Map<string, Activity>();
  private readonly incarnations = new Map<string, number>();
  private approvalLog: Approval[] = [];
  private timer?: NodeJS.Timeout;
  private readonly autoAdvance: boolean;
  private readonly defaultApproval: ApprovalMode;
  private readonly keepFinished: number;

  constructor(options: ControllerOptions = {}) {
    super();
    this.now = options.now ?? Date.now;
    this.fleet = new Fleet(this.now);
    this.scale = validScale(options.timeScale ?? 1);
    this.autoAdvance = options.autoAdvance ?? true;
    this.defaultApproval = options.defaultApproval ?? 'any';
    this.keepFinished = options.keepFinished ?? 1000;
    this.setMaxListeners(0); // one listener per hanging long-poll
  }

  get timeScale(): number {
    return this.scale;
  }

  set timeScale(value: number) {
    this.scale = validScale(value);
  }

  /** Converts a cloud duration to real milliseconds under the current time scale. */
  scaled(duration: string | number, field: string): number {
    try {
      return parseDuration(duration) / this.scale;
    } catch (err) {
      if (err instanceof TimeFormatError) throw new SimError(400, `${field}: ${err.message}`);
      throw err;
    }
  }

  incarnation(vm: string): number {
    return this.incarnations.get(vm) ?? 1;
  }

  /**
   * Creates one activity per broadcast group (availability set / scale set / lone VM), as Azure
   * publishes per group. Terminate is per VM: each scale-set instance approves only its own.
   * Everything is validated before any state changes.
   */
  schedule(input: ScheduleInput): Activity[] {
    const vms = this.fleet.resolve(input.targets);
    const provider = vms[0]!.provider;
    const other = vms.find((vm) => vm.provider !== provider);
    if (other) {
      throw new SimError(
        400,
        `targets: they span clouds (${vms[0]!.name} is ${provider}, ${other.name} is ${other.provider}); one cloud per event`,
      );
    }
    const type = input.type;
    const timing = timingOf(provider, type);
    if (!timing) {
      throw new SimError(
        400,
        `type: unknown event type ${JSON.stringify(type)} for ${provider} VMs; one of ${CLOUD_EVENT_TYPES[provider].join(', ')}`,
      );
    }
    const now = this.now();
    let notBefore: number;
    if (input.notBefore !== undefined) {
      notBefore = isoTime(input.notBefore);
    } else {
      notBefore =
        now +
        (input.notice === undefined ? timing.noticeMs / this.scale : this.scaled(input.notice, 'notice'));
    }
    const startedForMs =
      input.startedFor === undefined
        ? timing.startedForMs / this.scale
        : this.scaled(input.startedFor, 'startedFor');
    const duration = input.durationSeconds ?? timing.durationSeconds;
    if (!Number.isInteger(duration) || duration < -1) {
      throw new SimError(400, 'durationSeconds: must be an integer >= -1 (-1 unknown, 0 no impact)');
    }
    const hostFailure = input.status === 'Started' || timing.publishedStarted === true;
    // A host failure has no notice: it is published already started, so NotBefore is now.
    if (hostFailure) notBefore = now;
    const source = input.source ?? 'Platform';
    const description =
      input.description ??
      (hostFailure && provider === 'azure'
        ? HOST_FAILURE_DESCRIPTION
        : source === 'User'
          ? (timing.userDescription ?? timing.description)
          : timing.description);
    const groups = new Map<string, typeof vms>();
    for (const vm of vms) {
      const key = type === 'Terminate' ? `vm:${vm.name}` : Fleet.groupOf(vm);
      groups.set(key, [...(groups.get(key) ?? []), vm]);
    }
    const created: Activity[] = [];
    for (const members of groups.values()) {
      const activity: Activity = {
        eventId: newEventId(provider),
        provider,
        type,
        source,
        description,
        resources: members.map((vm) => vm.name),
        audience: this.fleet.audienceOf(members),
        status: hostFailure ? 'Started' : 'Scheduled',
        createdAt: now,
        notBefore,
        durationSeconds: duration,
        startedForMs,
        startedAt: hostFailure ? now : undefined,
        approvalMode: input.approval ?? this.defaultApproval,
        approvedBy: [],
        history: [],
      };
      this.activities.set(activity.eventId, activity);
      this.record(activity, activity.status, hostFailure ? 'host failure' : 'published');
      this.bump(activity);
      created.push(activity);
    }
    this.changed();
    return created;
  }

  /** A portal/CLI restart or redeploy: a User event for that VM alone, waiting like any other. */
  userAction(
    vmName: string,
    type: 'Reboot' | 'Redeploy',
    notice?: string | number,
    approval?: ApprovalMode,
  ): Activity {
    const [activity] = this.schedule({ type, targets: { vms: [vmName] }, source: 'User', notice, approval });
    return activity!;
  }

  get(eventId: string): Activity {
    const a = this.activities.get(eventId) ?? this.activities.get(eventId.toUpperCase());
    if (!a) throw new SimError(404, `unknown event ${JSON.stringify(eventId)}`);
    return a;
  }

  list(filter: { status?: ActivityStatus; vm?: string } = {}): Activity[] {
    this.advance();
    return [...this.activities.values()].filter(
      (a) => (!filter.status || a.status === filter.status) && (!filter.vm || a.audience.includes(filter.vm)),
    );
  }

  start(eventId: string, reason = 'started by control API'): Activity {
    const a = this.get(eventId);
    this.advance();
    if (a.status !== 'Scheduled') throw new SimError(409, `event ${a.eventId} is ${a.status}, not Scheduled`);
    this.transition(a, 'Started', reason);
    this.changed();
    return a;
  }

  complete(eventId: string): Activity {
    const a = this.get(eventId);
    this.advance();
    if (a.status !== 'Started') {
      throw new SimError(
        409,
        `event ${a.eventId} is ${a.status}; only a Started event completes (cancel a Scheduled one)`,
      );
    }
    this.transition(a, 'Completed', 'completed by control API');
    this.changed();
    return a;
  }

  cancel(eventId: string): Activity {
    const a = this.get(eventId);
    this.advance();
    if (a.status !== 'Scheduled')
      throw new SimError(409, `event ${a.eventId} is ${a.status}; only a Scheduled event can be canceled`);
    this.transition(a, 'Canceled', 'canceled by control API');
    this.changed();
    return a;
  }

  reschedule(eventId: string, change: { notice?: string | number; notBefore?: string }): Activity {
    const a = this.get(eventId);
    let notBefore: number;
    if (change.notBefore !== undefined) {
      notBefore = isoTime(change.notBefore);
    } else if (change.notice !== undefined) {
      notBefore = this.now() + this.scaled(change.notice, 'notice');
    } else {
      throw new SimError(400, 'give notice or notBefore');
    }
    this.advance();
    if (a.status !== 'Scheduled') throw new SimError(409, `event ${a.eventId} is ${a.status}, not Scheduled`);
    // Milliseconds are kept, as when scheduling; the document shows whole seconds either way.
    a.notBefore = notBefore;
    this.record(a, a.status, `rescheduled to ${toIso(a.notBefore)}`);
    this.bump(a);
    this.changed();
    return a;
  }

  /**
   * A StartRequests POST from `vm`. Unknown ids are ignored (as Microsoft's mock does; the real
   * answer is undocumented) but recorded, so tests can see what a client tried.
   */
  approve(vm: string, eventIds: string[], options: { strict?: boolean } = {}): Approval[] {
    this.advance();
    if (options.strict) {
      // Strict mode rejects the whole request, approving nothing, if any id is not this VM's to approve.
      const foreign = eventIds.filter((id) => {
        const a = this.activities.get(id) ?? this.activities.get(id.toUpperCase());
        return !a || !a.audience.includes(vm) || a.status === 'Completed' || a.status === 'Canceled';
      });
      if (foreign.length) {
        for (const id of foreign)
          this.approvalLog.push({ at: toIso(this.now()), vm, eventId: id, result: 'rejected' });
        throw new SimError(400, `EventId ${foreign.join(', ')} is not an event this VM can approve`);
      }
    }
    const results: Approval[] = [];
    for (const id of eventIds) {
      const a = this.activities.get(id) ?? this.activities.get(id.toUpperCase());
      let result: Approval['result'];
      if (!a || !a.audience.includes(vm) || a.status === 'Completed' || a.status === 'Canceled') {
        result = 'unknown-event';
      } else if (a.status !== 'Scheduled') {
        result = 'not-scheduled';
      } else if (a.approvalMode === 'all' && !a.resources.includes(vm)) {
        result = 'not-affected';
      } else if (a.approvedBy.includes(vm)) {
        result = 'already-approved';
      } else {
        a.approvedBy.push(vm);
        this.record(a, a.status, `approved by ${vm}`);
        result = a.approvalMode === 'any' && a.approvedBy.length > 1 ? 'already-approved' : 'approved';
      }
      const entry = { at: toIso(this.now()), vm, eventId: a?.eventId ?? id, result };
      this.approvalLog.push(entry);
      results.push(entry);
    }
    this.advance();
    return results;
  }

  approvals(eventId?: string): Approval[] {
    return eventId
      ? this.approvalLog.filter((x) => x.eventId.toUpperCase() === eventId.toUpperCase())
      : [...this.approvalLog];
  }

  /** Events currently in the VM's document (Scheduled or Started, VM in the audience). */
  visibleTo(vm: string): Activity[] {
    this.advance();
    return [...this.activities.values()].filter(
      (a) => (a.status === 'Scheduled' || a.status === 'Started') && a.audience.includes(vm),
    );
  }

  /** Moves every activity whose time has come; called on reads and by the timer. */
  advance(): void {
    const now = this.now();
    let changed = false;
    for (const a of this.activities.values()) {
      if (a.status === 'Scheduled') {
        const approved =
          a.approvalMode === 'any'
            ? a.approvedBy.length > 0
            : a.resources.every((r) => a.approvedBy.includes(r));
        if (approved || now >= a.notBefore) {
          this.transition(a, 'Started', approved ? 'approved' : 'NotBefore reached');
          changed = true;
        }
      }
      if (a.status === 'Started' && a.startedAt !== undefined && now >= a.startedAt + a.startedForMs) {
        this.transition(a, 'Completed', 'impact over');
        changed = true;
      }
    }
    if (changed) this.changed();
  }

  /** Drops every activity and approval. Incarnations keep counting up: a real VM never sees them go back. */
  reset(options: { fleet?: boolean } = {}): void {
    for (const a of this.activities.values())
      if (a.status === 'Scheduled' || a.status === 'Started') this.bump(a);
    this.activities.clear();
    this.approvalLog = [];
    if (options.fleet) this.fleet.clear();
    this.changed();
  }

  /**
   * Removes the VM from every activity. An active activity whose Resources or audience shrank changes
   * the document of everyone still in its audience, so their incarnations go up; one left with no
   * resources ends.
   */
  removeVm(name: string): void {
    this.fleet.remove(name);
    for (const a of this.activities.values()) {
      if (!a.audience.includes(name) && !a.resources.includes(name)) continue;
      a.audience = a.audience.filter((n) => n !== name);
      a.resources = a.resources.filter((n) => n !== name);
      if (a.status !== 'Scheduled' && a.status !== 'Started') continue;
      if (a.resources.length === 0) {
        this.transition(a, a.status === 'Scheduled' ? 'Canceled' : 'Completed', `VM ${name} deleted`);
      } else {
        this.record(a, a.status, `VM ${name} deleted`);
        this.bump(a);
      }
    }
    this.advance();
    this.changed();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private transition(a: Activity, status: ActivityStatus, reason: string): void {
    const now = this.now();
    a.status = status;
    if (status === 'Started') a.startedAt = now;
    if (status === 'Completed' || status === 'Canceled') a.endedAt = now;
    this.record(a, status, reason);
    this.bump(a);
  }

  private record(a: Activity, status: ActivityStatus, reason: string): void {
    a.history.push({ at: toIso(this.now()), status, reason });
    this.emit('activity', a, reason);
  }

  /** Every change to an activity changes the document of every VM that sees it. */
  private bump(a: Activity): void {
    for (const vm of a.audience) this.incarnations.set(vm, this.incarnation(vm) + 1);
  }

  /** Emits `changed` after every change, so long-polls (GCP wait_for_change) re-render. */
  private changed(): void {
    this.emit('changed');
    this.prune();
    if (this.autoAdvance) this.arm();
  }

  private prune(): void {
    const finished = [...this.activities.values()].filter(
      (a) => a.status === 'Completed' || a.status === 'Canceled',
    );
    for (const a of finished.slice(0, Math.max(0, finished.length - this.keepFinished)))
      this.activities.delete(a.eventId);
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    let due = Infinity;
    for (const a of this.activities.values()) {
      if (a.status === 'Scheduled') due = Math.min(due, a.notBefore);
      if (a.status === 'Started' && a.startedAt !== undefined)
        due = Math.min(due, a.startedAt + a.startedForMs);
    }
    if (due === Infinity) return;
    // setTimeout caps at 2^31-1 ms; re-arming on wake handles longer waits.
    const wait = Math.min(Math.max(0, due - this.now()), 2 ** 31 - 1);
    this.timer = setTimeout(() => {
      this.advance();
      this.arm();
    }, wait);
    this.timer.unref();
  }
}

/** Each cloud's id style: Azure upper-case GUIDs, AWS `instance-event-<17 hex>`, Alibaba `e-…`. */
function newEventId(provider: SimProvider): string {
  const hex = randomUUID().replace(/-/g, '');
  if (provider === 'aws') return `instance-event-${hex.slice(0, 17)}`;
  if (provider === 'alibaba') return `e-bp1${hex.slice(0, 17)}`;
  if (provider === 'azure') return randomUUID().toUpperCase();
  return `${provider}-${hex.slice(0, 20)}`;
}

/** An absolute `notBefore`: ISO 8601 with a date and a time. */
function isoTime(value: string): number {
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(ms))
    throw new SimError(400, `notBefore: ${JSON.stringify(value)} is not an ISO 8601 time`);
  return ms;
}

function validScale(value: number): number {
  if (!Number.isFinite(value) || value <= 0 || value > 100_000) {
    throw new SimError(400, 'timeScale: must be a number above 0 and at most 100000');
  }
  return value;
}
