// The store for several hub replicas: one PostgreSQL schema that every replica shares through a
// connection pool. Each write method is one transaction, with the same semantics as the SQLite
// store; what differs is what sharing needs: ingest serialises per event (advisory locks), steps
// and commands are claimed with SKIP LOCKED, planning is done by one replica at a time (a lease),
// and every replica hears what the others changed (LISTEN/NOTIFY, see onChange).
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { ingestBatch } from './postgres-ingest.js';
import { ChangeListener } from './postgres-listen.js';
import { PostgresBudgets } from './postgres-budgets.js';
import { jsonText, toAudit, toCommand, toEvent, toTransition, toUnplanned, toVm } from './rows.js';
import { migrate } from './postgres-schema.js';
import {
  type AuditEntry,
  type CommandRow,
  type EventFilter,
  type EventRow,
  type Heartbeat,
  type IncomingTransition,
  type IngestResult,
  type Store,
  type StoreChange,
  type TransitionRow,
  type VmRow,
} from './store.js';

export interface PostgresOptions {
  /** postgres://user:pass@host:5432/db */
  url: string;
  /** Schema that holds the tables (created if missing). Default `forewarn`. */
  schema?: string;
  /** Connections per hub. Default 10. */
  poolSize?: number;
  /** How long one replica keeps the planning lease without renewing it. Default 15 s. */
  plannerLeaseMs?: number;
  /** Told about a lost LISTEN connection (it is re-opened). */
  onListenError?: (err: Error) => void;
}

// int8 (ids, COUNT) as numbers: ids stay far below 2^53.
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as never,
};

/**
 * Events with the provider's raw document, kept once: in the data of the transition that last
 * updated the event (the newest one of its kind), as in the SQLite store. Older rows have it in
 * `events.raw`.
 */
const EVENTS = `SELECT events.*, (SELECT (t.data::json -> 'raw')::text FROM transitions t
  WHERE t.event_key = events.key AND t.transition = events.last_transition ORDER BY t.id DESC LIMIT 1)
  AS raw_latest FROM events`;

export class PostgresStore extends PostgresBudgets implements Store {
  /** This hub's identity in leases it holds. */
  private readonly holder = randomUUID();

  private constructor(
    pool: pg.Pool,
    readonly schema: string,
    private readonly listener: ChangeListener,
    private readonly plannerLeaseMs: number,
  ) {
    super(pool, `forewarn_${schema}`);
  }

  /** Connects, brings the schema up to date and starts listening. */
  static async open(o: PostgresOptions): Promise<PostgresStore> {
    const schema = o.schema ?? 'forewarn';
    const connection: pg.ClientConfig = {
      connectionString: o.url,
      options: `-c search_path=${schema}`,
      types,
    };
    const pool = new pg.Pool({ ...connection, max: o.poolSize ?? 10 });
    // An idle client's error (the server restarted) must not crash the hub; the pool replaces it.
    pool.on('error', () => undefined);
    const listener = new ChangeListener(connection, `forewarn_${schema}`, o.onListenError);
    try {
      await migrate(pool, schema);
      await listener.start();
    } catch (err) {
      await listener.close();
      await pool.end();
      const where = new URL(o.url);
      throw new Error(
        `postgres ${where.host}${where.pathname} (schema ${schema}): ${(err as Error).message}`,
        { cause: err },
      );
    }
    return new PostgresStore(pool, schema, listener, o.plannerLeaseMs ?? 15_000);
  }

  onChange(listener: (change: StoreChange) => void): () => void {
    return this.listener.add(listener);
  }

  async ingest(batch: IncomingTransition[], receivedAt: string): Promise<IngestResult[]> {
    if (batch.length === 0) return [];
    return this.tx(async (c) => {
      const results = await ingestBatch(c, batch, receivedAt);
      if (results.some((r) => r.outcome === 'new')) await this.notify({ kind: 'transition' }, c);
      return results;
    });
  }

  async heartbeat(
    vm: string,
    p: { identity: Record<string, unknown>; agentVersion?: string; health?: unknown },
    at: string,
  ): Promise<void> {
    await this.heartbeats([{ vm, payload: p }], at);
  }

  /** One multi-row upsert; a VM twice in a batch keeps its last heartbeat (an upsert may touch a row once). */
  async heartbeats(batch: Heartbeat[], at: string): Promise<void> {
    const last = [...new Map(batch.map((h) => [h.vm, h])).values()];
    if (last.length === 0) return;
    const args: unknown[] = [at]; // $1
    const rows = last.map((h) => {
      args.push(
        h.vm,
        JSON.stringify(h.payload.identity),
        h.payload.agentVersion ?? null,
        jsonText(h.payload.health),
      );
      const n = args.length;
      return `($${n - 3}, $${n - 2}, $${n - 1}, $1, $${n}, $1)`;
    });
    await this.q(
      `INSERT INTO vms (name, identity, agent_version, last_heartbeat_at, health, first_seen_at) VALUES ${rows.join(', ')}
       ON CONFLICT (name) DO UPDATE SET identity = excluded.identity, agent_version = excluded.agent_version,
         last_heartbeat_at = excluded.last_heartbeat_at, health = excluded.health`,
      args,
    );
  }

  async listEvents(f: EventFilter): Promise<{ events: EventRow[]; total: number }> {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (sql: (n: string) => string, value: unknown) => {
      args.push(value);
      where.push(sql(`$${args.length}`));
    };
    if (f.status) add((n) => `status = ${n}`, f.status);
    if (f.type) add((n) => `type = ${n}`, f.type);
    if (f.provider) add((n) => `provider = ${n}`, f.provider);
    if (f.vm) add((n) => `resources::jsonb @> jsonb_build_array(${n}::text)`, f.vm);
    if (f.since) add((n) => `updated_at >= ${n}`, f.since);
    if (f.until) add((n) => `updated_at < ${n}`, f.until);
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    // The total and the page from one moment.
    return this.tx(async (c) => {
      const [count] = await this.q(`SELECT COUNT(*) AS n FROM events ${clause}`, args, c);
      const rows = await this.q(
        `${EVENTS} ${clause} ORDER BY updated_at DESC, key LIMIT $${args.length + 1} OFFSET $${args.length + 2}`,
        [...args, f.limit ?? 100, f.offset ?? 0],
        c,
      );
      return { events: rows.map(toEvent), total: count!.n as number };
    }, true);
  }

  async getEvent(key: string) {
    return this.tx((c) => this.eventWithHistory(c, key), true);
  }

  private async eventWithHistory(c: pg.PoolClient, key: string) {
    const [row] = await this.q(`${EVENTS} WHERE key = $1`, [key], c);
    if (!row) return undefined;
    const sightings = new Map<number, TransitionRow['sightings']>();
    for (const s of await this.q(
      `SELECT r.transition_id, r.reporter, r.ce_source, r.received_at FROM receipts r
       JOIN transitions t ON t.id = r.transition_id WHERE t.event_key = $1 ORDER BY r.received_at, r.transition_id`,
      [key],
      c,
    )) {
      const list = sightings.get(s.transition_id as number) ?? [];
      list.push({
        reporter: s.reporter as string,
        ceSource: s.ce_source as string,
        receivedAt: s.received_at as string,
      });
      sightings.set(s.transition_id as number, list);
    }
    const transitions = (
      await this.q('SELECT * FROM transitions WHERE event_key = $1 ORDER BY id', [key], c)
    ).map((r) => toTransition(r, sightings.get(r.id as number) ?? []));
    const event = toEvent(row);
    const commands = (
      await this.q('SELECT * FROM commands WHERE event_id = $1 ORDER BY created_at', [event.eventId], c)
    ).map(toCommand);
    return { event, transitions, commands };
  }

  async getVm(name: string): Promise<VmRow | undefined> {
    const [r] = await this.q('SELECT * FROM vms WHERE name = $1', [name]);
    return r ? toVm(r) : undefined;
  }

  async getEventRow(key: string): Promise<EventRow | undefined> {
    const [r] = await this.q(`${EVENTS} WHERE key = $1`, [key]);
    return r ? toEvent(r) : undefined;
  }

  async listVms(): Promise<VmRow[]> {
    return (await this.q('SELECT * FROM vms ORDER BY name')).map(toVm);
  }

  async enqueueCommand(c: Omit<CommandRow, 'createdAt' | 'deliveries'>, at: string): Promise<CommandRow> {
    return this.tx(async (client) => {
      await this.q(
        'INSERT INTO commands (id, vm, type, event_id, hook, origin, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING',
        [c.id, c.vm, c.type, c.eventId ?? null, c.hook ?? null, c.origin, at],
        client,
      );
      // The agent may be long-polling another replica: it wakes on this.
      await this.notify({ kind: 'command', vm: c.vm }, client);
      return toCommand((await this.q('SELECT * FROM commands WHERE id = $1', [c.id], client))[0]!);
    });
  }

  async takeCommands(vm: string, at: string, redeliverAfterMs: number, limit: number): Promise<CommandRow[]> {
    const cutoff = new Date(Date.parse(at) - redeliverAfterMs).toISOString();
    // One statement: two replicas polled by the same agent never hand out the same command twice.
    const rows = await this.q(
      `WITH due AS (SELECT id FROM commands WHERE vm = $1 AND completed_at IS NULL AND (delivered_at IS NULL OR delivered_at < $2)
         ORDER BY created_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
       UPDATE commands SET delivered_at = $4, deliveries = deliveries + 1 FROM due WHERE commands.id = due.id RETURNING commands.*`,
      [vm, cutoff, limit, at],
    );
    return rows
      .map(toCommand)
      .sort((a, b) =>
        a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1,
      );
  }

  async completeCommand(
    vm: string,
    id: string,
    result: CommandRow['result'],
    at: string,
  ): Promise<CommandRow | undefined> {
    // The first result wins: a re-sent result for a command the agent ran once changes nothing.
    await this.q(
      'UPDATE commands SET completed_at = $3, result = $4 WHERE id = $1 AND vm = $2 AND completed_at IS NULL',
      [id, vm, at, jsonText(result)],
    );
    const [row] = await this.q('SELECT * FROM commands WHERE id = $1 AND vm = $2', [id, vm]);
    return row ? toCommand(row) : undefined;
  }

  async getCommand(id: string): Promise<CommandRow | undefined> {
    const [row] = await this.q('SELECT * FROM commands WHERE id = $1', [id]);
    return row ? toCommand(row) : undefined;
  }

  /**
   * Planning is done by one replica at a time, in transition order (a cancel is never planned
   * before the schedule it cancels): the replica holding the planner lease gets the unplanned
   * transitions, the others an empty list. The lease is renewed on every call and lapses
   * `plannerLeaseMs` after its holder's last call, so a dead planner is replaced.
   */
  async unplanned(limit: number) {
    if (!(await this.holdLease('planner', this.holder, this.plannerLeaseMs))) return [];
    const rows = await this.q('SELECT * FROM transitions WHERE planned_at IS NULL ORDER BY id LIMIT $1', [
      limit,
    ]);
    return rows.map(toUnplanned);
  }

  async markPlanned(transitionIds: number[], at: string): Promise<void> {
    if (transitionIds.length === 0) return;
    await this.tx(async (c) => {
      await this.q(
        'UPDATE transitions SET planned_at = $1 WHERE id = ANY($2::bigint[])',
        [at, transitionIds],
        c,
      );
      // Runs written by this pass are ready: executors on every replica look now.
      await this.notify({ kind: 'steps' }, c);
    });
  }

  async apiRules() {
    return (await this.q(`SELECT * FROM rules WHERE source = 'api' ORDER BY name`)).map((r) => ({
      name: r.name as string,
      definition: JSON.parse(r.definition as string) as unknown,
      updatedAt: r.updated_at as string,
    }));
  }

  async putRule(name: string, definition: unknown, at: string): Promise<void> {
    await this.tx(async (c) => {
      await this.q(
        `INSERT INTO rules (name, definition, source, updated_at) VALUES ($1, $2, 'api', $3)
         ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at`,
        [name, JSON.stringify(definition), at],
        c,
      );
      await this.notify({ kind: 'rules' }, c);
    });
  }

  async deleteRule(name: string): Promise<boolean> {
    return this.tx(async (c) => {
      const gone = await this.q(
        `DELETE FROM rules WHERE name = $1 AND source = 'api' RETURNING name`,
        [name],
        c,
      );
      if (gone.length) await this.notify({ kind: 'rules' }, c);
      return gone.length > 0;
    });
  }

  async scheduleCursor(rule: string): Promise<string | undefined> {
    const rows = await this.q('SELECT slot FROM schedule_cursors WHERE rule = $1', [rule]);
    return rows[0]?.slot as string | undefined;
  }

  async advanceSchedule(rule: string, slot: string, at: string): Promise<void> {
    await this.q(
      `INSERT INTO schedule_cursors (rule, slot, updated_at) VALUES ($1, $2, $3) ON CONFLICT (rule) DO UPDATE
       SET slot = GREATEST(schedule_cursors.slot, excluded.slot), updated_at = excluded.updated_at`,
      [rule, slot, at],
    );
  }

  /** On the database's clock; the planner lease (`unplanned`) is one of these too. */
  async holdLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const held = await this.q(
      `INSERT INTO leases (name, holder, until) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
         WHERE leases.holder = excluded.holder OR leases.until < now()
       RETURNING holder`,
      [name, holder, ttlMs],
    );
    return held.length > 0;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.q('DELETE FROM leases WHERE name = $1 AND holder = $2', [name, holder]);
  }

  async audit(e: Omit<AuditEntry, 'id'>): Promise<void> {
    await this.q('INSERT INTO audit (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)', [
      e.at,
      e.actor,
      e.action,
      e.subject,
      jsonText(e.detail),
    ]);
  }

  async auditLog(subject?: string, limit = 200): Promise<AuditEntry[]> {
    const rows = subject
      ? await this.q('SELECT * FROM audit WHERE subject = $1 ORDER BY id DESC LIMIT $2', [subject, limit])
      : await this.q('SELECT * FROM audit ORDER BY id DESC LIMIT $1', [limit]);
    return rows.map(toAudit);
  }

  async prune(before: string): Promise<number> {
    const rows = await this.q(
      `DELETE FROM events WHERE status IN ('completed', 'canceled') AND updated_at < $1 RETURNING key`,
      [before],
    );
    return rows.length;
  }

  async close(): Promise<void> {
    await this.q(`DELETE FROM leases WHERE holder = $1`, [this.holder]).catch(() => undefined);
    await this.listener.close();
    await this.pool.end();
  }
}
