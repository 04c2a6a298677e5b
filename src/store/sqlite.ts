// The default store: one SQLite file (better-sqlite3, WAL). Writes are synchronous and each
// method is one transaction, so an acknowledged ingest is on disk.
import { SQLITE_MIGRATIONS } from './migrations.js';
import { openSqlite } from './sqlite-open.js';
import {
  jsonText,
  parseText,
  toAudit,
  toCommand,
  toEvent,
  toTransition,
  toUnplanned,
  toVm,
  type Row,
} from './rows.js';
import { SqliteRuns } from './sqlite-runs.js';
import {
  eventKey,
  platformKey,
  TRANSITION_RANK,
  type AuditEntry,
  type CommandRow,
  type EventFilter,
  type EventRow,
  type Heartbeat,
  type IncomingTransition,
  type IngestResult,
  type Store,
  type TransitionRow,
  type VmRow,
} from './store.js';

/**
 * Events with the provider's raw document. The document is stored once, in the data of the
 * transition that last updated the event (the newest one of its kind: an equal or later kind
 * always updates), not again in the event row: that copy was a sixth of the bytes every ingested
 * event wrote. Rows written before this have it in `events.raw`.
 */
const EVENTS = `SELECT events.*, (SELECT t.data -> '$.raw' FROM transitions t WHERE t.event_key = events.key
  AND t.transition = events.last_transition ORDER BY t.id DESC LIMIT 1) AS raw_latest FROM events`;

export class SqliteStore extends SqliteRuns implements Store {
  /**
   * `full` (default) fsyncs every commit: an acknowledged event survives power loss. `normal`
   * (WAL) survives a killed process but may lose the last commits on power loss, for ~3× the rate.
   */
  constructor(path: string, options: { synchronous?: 'full' | 'normal' } = {}) {
    super(
      openSqlite(path, {
        migrations: SQLITE_MIGRATIONS,
        synchronous: options.synchronous,
        foreignKeys: true,
      }),
    );
  }

  async ingest(batch: IncomingTransition[], receivedAt: string): Promise<IngestResult[]> {
    const db = this.db;
    const receipt = this.sql(
      'SELECT transition_id, event_key FROM receipts JOIN transitions ON transitions.id = receipts.transition_id WHERE receipts.ce_source = ? AND receipts.ce_id = ?',
    );
    const byPlatform = this.sql('SELECT id FROM transitions WHERE platform_key = ?');
    const insertReceipt = this.sql(
      'INSERT INTO receipts (ce_source, ce_id, transition_id, reporter, received_at) VALUES (?, ?, ?, ?, ?)',
    );
    const insertTransition = this.sql(
      'INSERT INTO transitions (event_key, platform_key, transition, ce_source, ce_id, reporter, observed_at, received_at, via, data, mine) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const getEvent = this.sql(
      'SELECT status, last_transition, not_before, reporters, resources FROM events WHERE key = ?',
    );
    const lastReschedule = this.sql(
      `SELECT id FROM transitions WHERE event_key = ? AND transition = 'rescheduled' ORDER BY id DESC LIMIT 1`,
    );
    const insertEvent = this.sql(
      `INSERT INTO events (key, provider, event_id, type, status, not_before, duration_seconds, description, origin, resources, reporters, raw, first_seen_at, updated_at, last_transition)
       VALUES (@key, @provider, @eventId, @type, @status, @notBefore, @durationSeconds, @description, @origin, @resources, @reporters, @raw, @at, @at, @transition)`,
    );
    const updateEvent = this.sql(
      `UPDATE events SET type = @type, status = @status, not_before = @notBefore, duration_seconds = @durationSeconds, description = @description,
       origin = @origin, resources = @resources, reporters = @reporters, raw = @raw, updated_at = @at, last_transition = @transition WHERE key = @key`,
    );
    const touchReporters = this.sql('UPDATE events SET reporters = ? WHERE key = ?');

    return db.transaction(() => {
      const results: IngestResult[] = [];
      for (const t of batch) {
        const key = eventKey(t.event.provider, t.event.eventId);
        const seen = receipt.get(t.ceSource, t.ceId) as
          { transition_id: number; event_key: string } | undefined;
        if (seen) {
          results.push({ outcome: 'duplicate', transitionId: seen.transition_id, eventKey: seen.event_key });
          continue;
        }
        const existing = getEvent.get(key) as Row | undefined;
        const reporters = new Set(parseText<string[]>(existing?.reporters) ?? []);
        reporters.add(t.reporter);
        // The same move reported by another VM: the event already stands at this NotBefore after a reschedule.
        const sameMove =
          t.transition === 'rescheduled' &&
          existing?.last_transition === 'rescheduled' &&
          existing.not_before === (t.event.notBefore ?? null)
            ? (lastReschedule.get(key) as { id: number } | undefined)
            : undefined;
        const same = sameMove ?? (byPlatform.get(platformKey(t)) as { id: number } | undefined);
        if (same) {
          insertReceipt.run(t.ceSource, t.ceId, same.id, t.reporter, receivedAt);
          touchReporters.run(JSON.stringify([...reporters]), key);
          results.push({ outcome: 'merged', transitionId: same.id, eventKey: key });
          continue;
        }
        // The event row first: transitions reference it.
        const params = {
          key,
          provider: t.event.provider,
          eventId: t.event.eventId,
          type: t.event.type,
          status: t.event.status,
          notBefore: t.event.notBefore ?? null,
          durationSeconds: t.event.durationSeconds ?? null,
          description: t.event.description ?? null,
          origin: t.event.origin,
          resources: JSON.stringify(t.event.resources),
          reporters: JSON.stringify([...reporters]),
          raw: null, // kept once, in the transition's data (see EVENTS)
          at: receivedAt,
          transition: t.transition,
        };
        if (!existing) insertEvent.run(params);
        else if (
          (TRANSITION_RANK[t.transition] ?? 0) >= (TRANSITION_RANK[existing.last_transition as string] ?? 0)
        )
          updateEvent.run(params);
        else touchReporters.run(JSON.stringify([...reporters]), key); // a late, older transition: history only
        const id = Number(
          insertTransition.run(
            key,
            platformKey(t),
            t.transition,
            t.ceSource,
            t.ceId,
            t.reporter,
            t.observedAt,
            receivedAt,
            t.via,
            JSON.stringify(t.event),
            t.mine ? 1 : 0,
          ).lastInsertRowid,
        );
        insertReceipt.run(t.ceSource, t.ceId, id, t.reporter, receivedAt);
        results.push({ outcome: 'new', transitionId: id, eventKey: key });
      }
      return results;
    })();
  }

  async heartbeat(
    vm: string,
    p: { identity: Record<string, unknown>; agentVersion?: string; health?: unknown },
    at: string,
  ): Promise<void> {
    this.sql(
      `INSERT INTO vms (name, identity, agent_version, last_heartbeat_at, health, first_seen_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(name) DO UPDATE SET identity = excluded.identity, agent_version = excluded.agent_version,
         last_heartbeat_at = excluded.last_heartbeat_at, health = excluded.health`,
    ).run(vm, JSON.stringify(p.identity), p.agentVersion ?? null, at, jsonText(p.health), at);
  }

  async heartbeats(batch: Heartbeat[], at: string): Promise<void> {
    this.db.transaction(() => {
      for (const h of batch) void this.heartbeat(h.vm, h.payload, at);
    })();
  }

  async listEvents(f: EventFilter): Promise<{ events: EventRow[]; total: number }> {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      where.push(sql);
      args.push(value);
    };
    if (f.status) add('status = ?', f.status);
    if (f.type) add('type = ?', f.type);
    if (f.provider) add('provider = ?', f.provider);
    if (f.vm) add('EXISTS (SELECT 1 FROM json_each(events.resources) WHERE value = ?)', f.vm);
    if (f.since) add('updated_at >= ?', f.since);
    if (f.until) add('updated_at < ?', f.until);
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.sql(`SELECT COUNT(*) AS n FROM events ${clause}`).get(...args) as { n: number }).n;
    const rows = this.sql(`${EVENTS} ${clause} ORDER BY updated_at DESC, key LIMIT ? OFFSET ?`).all(
      ...args,
      f.limit ?? 100,
      f.offset ?? 0,
    ) as Row[];
    return { events: rows.map(toEvent), total };
  }

  async getEvent(key: string) {
    const row = this.sql(`${EVENTS} WHERE key = ?`).get(key) as Row | undefined;
    if (!row) return undefined;
    // Every sighting of the event in one query, grouped by transition (not one query per transition).
    const sightings = new Map<number, TransitionRow['sightings']>();
    for (const s of this.sql(
      `SELECT receipts.transition_id, receipts.reporter, receipts.ce_source, receipts.received_at FROM receipts
       JOIN transitions ON transitions.id = receipts.transition_id WHERE transitions.event_key = ?
       ORDER BY receipts.received_at`,
    ).all(key) as Row[]) {
      const list = sightings.get(s.transition_id as number) ?? [];
      list.push({
        reporter: s.reporter as string,
        ceSource: s.ce_source as string,
        receivedAt: s.received_at as string,
      });
      sightings.set(s.transition_id as number, list);
    }
    const transitions = (
      this.sql('SELECT * FROM transitions WHERE event_key = ? ORDER BY id').all(key) as Row[]
    ).map((r) => toTransition(r, sightings.get(r.id as number) ?? []));
    const event = toEvent(row);
    const commands = (
      this.sql('SELECT * FROM commands WHERE event_id = ? ORDER BY created_at').all(event.eventId) as Row[]
    ).map(toCommand);
    return { event, transitions, commands };
  }

  async getVm(name: string): Promise<VmRow | undefined> {
    const r = this.sql('SELECT * FROM vms WHERE name = ?').get(name) as Row | undefined;
    return r ? toVm(r) : undefined;
  }

  async getEventRow(key: string): Promise<EventRow | undefined> {
    const row = this.sql(`${EVENTS} WHERE key = ?`).get(key) as Row | undefined;
    return row ? toEvent(row) : undefined;
  }

  async listVms(): Promise<VmRow[]> {
    return (this.sql('SELECT * FROM vms ORDER BY name').all() as Row[]).map(toVm);
  }

  async enqueueCommand(c: Omit<CommandRow, 'createdAt' | 'deliveries'>, at: string): Promise<CommandRow> {
    this.sql(
      'INSERT INTO commands (id, vm, type, event_id, hook, origin, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING',
    ).run(c.id, c.vm, c.type, c.eventId ?? null, c.hook ?? null, c.origin, at);
    return toCommand(this.sql('SELECT * FROM commands WHERE id = ?').get(c.id) as Row);
  }

  async takeCommands(vm: string, at: string, redeliverAfterMs: number, limit: number): Promise<CommandRow[]> {
    const cutoff = new Date(Date.parse(at) - redeliverAfterMs).toISOString();
    return this.db.transaction(() => {
      const rows = this.sql(
        'SELECT * FROM commands WHERE vm = ? AND completed_at IS NULL AND (delivered_at IS NULL OR delivered_at < ?) ORDER BY created_at, id LIMIT ?',
      ).all(vm, cutoff, limit) as Row[];
      const mark = this.sql('UPDATE commands SET delivered_at = ?, deliveries = deliveries + 1 WHERE id = ?');
      for (const r of rows) mark.run(at, r.id);
      return rows.map((r) => ({
        ...toCommand(r),
        deliveredAt: at,
        deliveries: (r.deliveries as number) + 1,
      }));
    })();
  }

  async completeCommand(
    vm: string,
    id: string,
    result: CommandRow['result'],
    at: string,
  ): Promise<CommandRow | undefined> {
    const row = this.sql('SELECT * FROM commands WHERE id = ? AND vm = ?').get(id, vm) as Row | undefined;
    if (!row) return undefined;
    // The first result wins: a re-sent result for a command the agent ran once changes nothing.
    if (row.completed_at === null)
      this.sql('UPDATE commands SET completed_at = ?, result = ? WHERE id = ?').run(at, jsonText(result), id);
    return toCommand(this.sql('SELECT * FROM commands WHERE id = ?').get(id) as Row);
  }

  async getCommand(id: string): Promise<CommandRow | undefined> {
    const row = this.sql('SELECT * FROM commands WHERE id = ?').get(id) as Row | undefined;
    return row ? toCommand(row) : undefined;
  }

  async unplanned(limit: number) {
    const rows = this.sql(
      'SELECT * FROM transitions WHERE id > (SELECT id FROM plan_cursor) ORDER BY id LIMIT ?',
    ).all(limit) as Row[];
    return rows.map(toUnplanned);
  }

  async markPlanned(transitionIds: number[], at: string): Promise<void> {
    await this.commitPlan([], transitionIds, at);
  }

  async apiRules() {
    return (this.sql(`SELECT * FROM rules WHERE source = 'api' ORDER BY name`).all() as Row[]).map((r) => ({
      name: r.name as string,
      definition: JSON.parse(r.definition as string) as unknown,
      updatedAt: r.updated_at as string,
    }));
  }

  async putRule(name: string, definition: unknown, at: string): Promise<void> {
    this.sql(
      `INSERT INTO rules (name, definition, source, updated_at) VALUES (?, ?, 'api', ?) ON CONFLICT(name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at`,
    ).run(name, JSON.stringify(definition), at);
  }

  async deleteRule(name: string): Promise<boolean> {
    return this.sql(`DELETE FROM rules WHERE name = ? AND source = 'api'`).run(name).changes > 0;
  }

  async scheduleCursor(rule: string): Promise<string | undefined> {
    const row = this.sql('SELECT slot FROM schedule_cursors WHERE rule = ?').get(rule) as Row | undefined;
    return row?.slot as string | undefined;
  }

  async advanceSchedule(rule: string, slot: string, at: string): Promise<void> {
    this.sql(
      `INSERT INTO schedule_cursors (rule, slot, updated_at) VALUES (?, ?, ?) ON CONFLICT(rule) DO UPDATE
       SET slot = MAX(slot, excluded.slot), updated_at = excluded.updated_at`,
    ).run(rule, slot, at);
  }

  async holdLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const row = this.sql(
      `INSERT INTO leases (name, holder, until) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE
       SET holder = excluded.holder, until = excluded.until WHERE leases.holder = excluded.holder OR leases.until < ?
       RETURNING holder`,
    ).get(name, holder, now + ttlMs, now);
    return row !== undefined;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    this.sql('DELETE FROM leases WHERE name = ? AND holder = ?').run(name, holder);
  }

  async audit(e: Omit<AuditEntry, 'id'>): Promise<void> {
    this.sql('INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)').run(
      e.at,
      e.actor,
      e.action,
      e.subject,
      jsonText(e.detail),
    );
  }

  async auditLog(subject?: string, limit = 200): Promise<AuditEntry[]> {
    const rows = (
      subject
        ? this.sql('SELECT * FROM audit WHERE subject = ? ORDER BY id DESC LIMIT ?').all(subject, limit)
        : this.sql('SELECT * FROM audit ORDER BY id DESC LIMIT ?').all(limit)
    ) as Row[];
    return rows.map(toAudit);
  }

  async prune(before: string): Promise<number> {
    return this.db.transaction(() => {
      const keys = (
        this.sql(`SELECT key FROM events WHERE status IN ('completed', 'canceled') AND updated_at < ?`).all(
          before,
        ) as Row[]
      ).map((r) => r.key as string);
      const del = this.sql('DELETE FROM events WHERE key = ?');
      for (const k of keys) del.run(k);
      if (keys.length)
        this.sql('DELETE FROM run_snapshots WHERE transition_id NOT IN (SELECT id FROM transitions)').run();
      return keys.length;
    })();
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
