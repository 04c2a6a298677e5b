// Aggregates the dashboard's pages need, computed from the Store interface alone (so SQLite and
// PostgreSQL serve them alike). Upcoming events are read once and kept until the bus says
// something changed: ten dashboards open on a 10,000-event store cost one scan, not ten.
import type { EventRow, Store, VmRow } from '../store/store.js';
import { redact } from './redact.js';
import type {
  AgentProblem,
  EventDetail,
  EventSummary,
  Overview,
  RunView,
  TimelineEvent,
  TimelineItem,
  TimelineRow,
} from './dashboard-types.js';

/** The most rows a scan or count reads before saying "N+". */
export const SCAN_LIMIT = 50_000;
const MAX_AGE_MS = 30_000;

export function summary(e: EventRow): EventSummary {
  return {
    key: e.key,
    provider: e.provider,
    eventId: e.eventId,
    type: e.type,
    status: e.status,
    origin: e.origin,
    notBefore: e.notBefore,
    durationSeconds: e.durationSeconds,
    description: e.description,
    resources: e.resources,
    reporters: e.reporters,
    firstSeenAt: e.firstSeenAt,
    updatedAt: e.updatedAt,
    lastTransition: e.lastTransition,
  };
}

/**
 * Every event matching `filter`, up to SCAN_LIMIT, in one query when the store allows (pages with
 * offsets cost SQLite a sort and a count each: 10,000 rows took 360 ms in pages of 1,000, 150 ms
 * in one).
 */
export async function scanEvents(
  store: Store,
  filter: Parameters<Store['listEvents']>[0],
  keep: (e: EventRow) => boolean = () => true,
): Promise<{ events: EventRow[]; total: number; capped: boolean }> {
  const page = await store.listEvents({ ...filter, limit: SCAN_LIMIT, offset: 0 });
  return { events: page.events.filter(keep), total: page.total, capped: page.total > SCAN_LIMIT };
}

function timelineEvent(e: EventRow, now: number): TimelineEvent {
  const start = e.notBefore ? Date.parse(e.notBefore) : now;
  const end =
    e.durationSeconds !== undefined && e.durationSeconds >= 0 ? start + e.durationSeconds * 1000 : undefined;
  return {
    key: e.key,
    eventId: e.eventId,
    provider: e.provider,
    type: e.type,
    status: e.status,
    origin: e.origin,
    notBefore: e.notBefore,
    expectedEnd: end === undefined ? undefined : new Date(end).toISOString(),
    durationSeconds: e.durationSeconds,
    description: e.description,
  };
}

/**
 * One row per affected VM (or per pool, from the VMs' `pool` tag), soonest first; started events
 * count as "now". An event that affects several VMs of a pool is one bar on the pool's row.
 */
export function timelineRows(
  events: EventRow[],
  vms: Map<string, VmRow>,
  now: number,
  group: 'vm' | 'pool' = 'vm',
): TimelineRow[] {
  const rows = new Map<string, TimelineRow & { keys: Set<string> }>();
  for (const e of events) {
    const te = timelineEvent(e, now);
    const affected = e.resources.length ? e.resources : e.reporters.slice(0, 1);
    for (const vm of affected) {
      const tags = vms.get(vm)?.identity.tags as Record<string, unknown> | undefined;
      const pool = typeof tags?.pool === 'string' ? tags.pool : undefined;
      const byPool = group === 'pool' && pool !== undefined;
      const id = byPool ? `pool:${pool}` : `vm:${vm}`;
      let row = rows.get(id);
      if (!row) {
        row = byPool
          ? { label: pool!, kind: 'pool', vms: [], events: [], keys: new Set() }
          : { label: vm, kind: 'vm', pool, vms: [], events: [], keys: new Set() };
        rows.set(id, row);
      }
      if (!row.vms.includes(vm)) row.vms.push(vm);
      if (!row.keys.has(e.key)) {
        row.keys.add(e.key);
        row.events.push(te);
      }
    }
  }
  const startOf = (e: TimelineEvent) => (e.notBefore ? Date.parse(e.notBefore) : now);
  const list = [...rows.values()].map(({ keys: _k, ...row }): TimelineRow => row);
  for (const r of list) r.events.sort((a, b) => startOf(a) - startOf(b));
  return list.sort((a, b) => startOf(a.events[0]!) - startOf(b.events[0]!) || a.label.localeCompare(b.label));
}

interface SourceHealth {
  source?: string;
  consecutiveFailures?: number;
  lastError?: string;
  lastLatencyMs?: number;
}

export function agentProblem(vm: VmRow, now: number, staleAfterMs: number): AgentProblem {
  const stale = !vm.lastHeartbeatAt || now - Date.parse(vm.lastHeartbeatAt) > staleAfterMs;
  const sources = ((vm.health as { sources?: SourceHealth[] } | undefined)?.sources ?? []).filter(
    (s) => (s.consecutiveFailures ?? 0) > 0,
  );
  return {
    vm: vm.name,
    lastHeartbeatAt: vm.lastHeartbeatAt,
    stale,
    failing: sources.map((s) => ({
      source: String(s.source ?? '?'),
      consecutiveFailures: s.consecutiveFailures ?? 0,
      lastError: redact(s.lastError?.slice(0, 300)),
    })),
  };
}

/** What the overview reads from the store, kept until something changes. */
interface Upcoming {
  rows: Record<'vm' | 'pool', TimelineRow[]>;
  failing: number;
  held: number;
  dead: number;
  events: number;
  scheduled: number;
  started: number;
  capped: boolean;
}

export class DashboardData {
  private upcoming?: Promise<Upcoming>;
  private readAt = 0;

  constructor(
    private readonly store: Store,
    private readonly staleAfterMs: number,
  ) {}

  /** Something changed (a transition, an attempt): the next overview reads the store again. */
  invalidate(): void {
    this.upcoming = undefined;
  }

  private async readUpcoming(now: number): Promise<Upcoming> {
    const [scheduled, started, vmList, dead, pending] = await Promise.all([
      scanEvents(this.store, { status: 'scheduled' }),
      scanEvents(this.store, { status: 'started' }),
      this.store.listVms(),
      this.store.listSteps({ status: 'dead', limit: SCAN_LIMIT }),
      this.store.listSteps({ status: 'pending', limit: SCAN_LIMIT }),
    ]);
    const events = [...scheduled.events, ...started.events];
    const vms = new Map(vmList.map((v) => [v.name, v]));
    return {
      // Rows are laid out once per change, not per request (started events sort as "now" of then).
      rows: { vm: timelineRows(events, vms, now, 'vm'), pool: timelineRows(events, vms, now, 'pool') },
      events: events.length,
      scheduled: scheduled.total,
      started: started.total,
      failing: pending.filter((st) => st.lastError).length,
      held: pending.filter((st) => st.heldReason).length,
      dead: dead.length,
      capped: scheduled.capped || started.capped || dead.length >= SCAN_LIMIT || pending.length >= SCAN_LIMIT,
    };
  }

  async overview(
    now: number,
    page: { rows: number; offset: number; vm?: string; group?: 'vm' | 'pool' },
  ): Promise<Overview> {
    const group = page.group ?? 'vm';
    // Also re-read now and then: a VM's pool comes from heartbeats, which do not invalidate.
    if (now - this.readAt > MAX_AGE_MS) this.upcoming = undefined;
    if (!this.upcoming) this.readAt = now;
    const upcoming = (this.upcoming ??= this.readUpcoming(now).catch((err) => {
      this.upcoming = undefined;
      throw err;
    }));
    const [u, vmList] = await Promise.all([upcoming, this.store.listVms()]);
    let rows = u.rows[group];
    if (page.vm) {
      const needle = page.vm.toLowerCase();
      rows = rows.filter(
        (r) => r.label.toLowerCase().includes(needle) || r.vms.some((v) => v.toLowerCase().includes(needle)),
      );
    }
    const agents = vmList.map((v) => agentProblem(v, now, this.staleAfterMs));
    const problems = agents.filter((a) => a.stale || a.failing.length);
    return {
      now: new Date(now).toISOString(),
      counts: {
        scheduled: u.scheduled,
        started: u.started,
        held: u.held,
        failing: u.failing,
        deadLettered: u.dead,
        capped: u.capped,
      },
      timeline: {
        rows: rows.slice(page.offset, page.offset + page.rows),
        totalRows: rows.length,
        offset: page.offset,
        events: u.events,
        group,
      },
      agents: {
        total: agents.length,
        stale: agents.filter((a) => a.stale).length,
        failing: agents.filter((a) => a.failing.length).length,
        problems: problems.slice(0, 50),
      },
    };
  }

  async eventDetail(key: string): Promise<EventDetail | undefined> {
    const found = await this.store.getEvent(key);
    if (!found) return undefined;
    const timeline: TimelineItem[] = [];
    for (const t of found.transitions) {
      const others = t.sightings.filter((s) => s.reporter !== t.reporter).map((s) => s.reporter);
      timeline.push({
        at: t.receivedAt,
        kind: 'transition',
        title: `${t.transition}`,
        detail: `reported by ${t.reporter} via ${t.via}${others.length ? `; also seen by ${[...new Set(others)].join(', ')}` : ''}`,
        tone: 'info',
      });
    }
    const runs: RunView[] = [];
    for (const run of await this.store.runsForEvent(key)) {
      timeline.push({
        at: run.createdAt,
        kind: 'match',
        title: `rule ${run.rule} matched (${run.phase})`,
        detail: `for ${run.vm}`,
        tone: 'info',
      });
      const steps = await this.store.stepsOfRun(run.key);
      const view: RunView = { ...run, steps: [] };
      delete (view as { snapshot?: unknown }).snapshot;
      delete (view as { triggerTransitionId?: unknown }).triggerTransitionId;
      for (const s of steps) {
        const attempts = (await this.store.attemptsOf(s.id)).map((a) => {
          const output = a.output === undefined ? '' : ` ${JSON.stringify(a.output)}`;
          return {
            n: a.n,
            startedAt: a.startedAt,
            finishedAt: a.finishedAt,
            durationMs: Date.parse(a.finishedAt) - Date.parse(a.startedAt),
            ok: a.ok,
            status: a.status,
            excerpt: redact(`${a.detail}${output}`.slice(0, 500)),
          };
        });
        for (const a of attempts)
          timeline.push({
            at: a.finishedAt,
            kind: 'attempt',
            title: `${run.rule}/${s.name} (${s.action}) attempt ${a.n}: ${a.ok ? 'succeeded' : 'failed'}`,
            detail: `${a.durationMs} ms${a.status ? `, HTTP ${a.status}` : ''}: ${a.excerpt}`,
            tone: a.ok ? 'ok' : 'failed',
          });
        view.steps.push({
          id: s.id,
          name: s.name,
          action: s.action,
          status: s.status,
          attempts,
          dueAt: s.dueAt,
          deadline: s.deadline,
          deadReason: s.deadReason,
          lastError: redact(s.lastError?.slice(0, 500)),
          finishedAt: s.finishedAt,
        });
      }
      runs.push(view);
    }
    const commands = found.commands.map((c) => ({
      id: c.id,
      vm: c.vm,
      type: c.type,
      createdAt: c.createdAt,
      completedAt: c.completedAt,
      ok: c.result?.ok,
      detail: redact(c.result?.detail.slice(0, 500)),
    }));
    for (const c of commands) {
      timeline.push({
        at: c.createdAt,
        kind: 'command',
        title: `command ${c.type} queued for ${c.vm}`,
        tone: 'info',
      });
      if (c.completedAt)
        timeline.push({
          at: c.completedAt,
          kind: 'command',
          title: `command ${c.type} on ${c.vm}: ${c.ok ? 'done' : 'failed'}`,
          detail: c.detail,
          tone: c.ok ? 'ok' : 'failed',
        });
    }
    timeline.sort((a, b) => a.at.localeCompare(b.at));
    return { event: { ...summary(found.event), raw: found.event.raw }, runs, commands, timeline };
  }
}
