// The store for several hub replicas: one PostgreSQL schema that every replica shares through a
// connection pool. Each write method is one transaction, with the same semantics as the SQLite
// store; what differs is what sharing needs: ingest serialises per event (advisory locks), steps
// and commands are claimed with SKIP LOCKED, planning is done by one replica at a time (a lease),
// and every replica hears what the others changed (LISTEN/NOTIFY, see onChange).
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { ChangeListener } from './postgres-listen.js';
import { PostgresRuns, jsonText, parseText } from './postgres-runs.js';
import { toCommand, toEvent, toTransition, toUnplanned, toVm, type Row } from './postgres-rows.js';
import { migrate } from './postgres-schema.js';
import {
  eventKey,
  type AuditEntry,
  type CommandRow,
  type EventFilter,
  type EventRow,
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

/** Same as the SQLite store: the same platform transition from several VMs shares this key. */
function platformKey(t: IncomingTransition): string {
  const base = `${eventKey(t.event.provider, t.event.eventId)}|${t.transition}`;
  if (t.transition === 'scheduled') return `${base}|${t.event.notBefore ?? ''}`;
  if (t.transition === 'rescheduled') return `${base}|${t.event.notBefore ?? ''}|${t.ceSource}|${t.ceId}`;
  return base;
}

/** Later transitions win, except that an event never goes back from a final state. */
const RANK: Record<string, number> = { scheduled: 0, rescheduled: 0, started: 1, completed: 2, canceled: 2 };

// int8 (ids, COUNT) as numbers: ids stay far below 2^53.
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as never,
};

export class PostgresStore extends PostgresRuns implements Store {
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
      // Replicas ingesting the same event take turns (the rest of the logic is then exactly
      // SQLite's); locks are taken in one order, so two batches never deadlock.
      const keys = [...new Set(batch.map((t) => eventKey(t.event.provider, t.event.eventId)))];
      await c.query(
        `SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest($1::text[]) AS k ORDER BY 1) s`,
        [keys],
      );
      const results: IngestResult[] = [];
      let fresh = false;
      for (const t of batch) {
        const key = eventKey(t.event.provider, t.event.eventId);
        const [seen] = await this.q(
          'SELECT r.transition_id, t.event_key FROM receipts r JOIN transitions t ON t.id = r.transition_id WHERE r.ce_source = $1 AND r.ce_id = $2',
          [t.ceSource, t.ceId],
          c,
        );
        if (seen) {
          results.push({
            outcome: 'duplicate',
            transitionId: seen.transition_id as number,
            eventKey: seen.event_key as string,
          });
          continue;
        }
        const [existing] = await this.q(
          'SELECT status, last_transition, not_before, reporters FROM events WHERE key = $1',
          [key],
          c,
        );
        const reporters = new Set(parseText<string[]>(existing?.reporters) ?? []);
        reporters.add(t.reporter);
        const reportersText = JSON.stringify([...reporters]);
        // The same move reported by another VM: the event already stands at this NotBefore after a reschedule.
        const sameMove =
          t.transition === 'rescheduled' &&
          existing?.last_transition === 'rescheduled' &&
          existing.not_before === (t.event.notBefore ?? null)
            ? (
                await this.q(
                  `SELECT id FROM transitions WHERE event_key = $1 AND transition = 'rescheduled' ORDER BY id DESC LIMIT 1`,
                  [key],
                  c,
                )
              )[0]
            : undefined;
        const same =
          sameMove ??
          (await this.q('SELECT id FROM transitions WHERE platform_key = $1', [platformKey(t)], c))[0];
        if (same) {
          await this.q(
            'INSERT INTO receipts (ce_source, ce_id, transition_id, reporter, received_at) VALUES ($1, $2, $3, $4, $5)',
            [t.ceSource, t.ceId, same.id, t.reporter, receivedAt],
            c,
          );
          await this.q('UPDATE events SET reporters = $1 WHERE key = $2', [reportersText, key], c);
          results.push({ outcome: 'merged', transitionId: same.id as number, eventKey: key });
          continue;
        }
        const e = t.event;
        const values = [
          key,
          e.provider,
          e.eventId,
          e.type,
          e.status,
          e.notBefore ?? null,
          e.durationSeconds ?? null,
          e.description ?? null,
          e.origin,
          JSON.stringify(e.resources),
          reportersText,
          jsonText(e.raw),
          receivedAt,
          t.transition,
        ];
        if (!existing)
          await this.q(
            `INSERT INTO events (key, provider, event_id, type, status, not_before, duration_seconds, description, origin,
               resources, reporters, raw, first_seen_at, updated_at, last_transition)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14)`,
            values,
            c,
          );
        else if ((RANK[t.transition] ?? 0) >= (RANK[existing.last_transition as string] ?? 0))
          await this.q(
            `UPDATE events SET type = $2, status = $3, not_before = $4, duration_seconds = $5, description = $6,
               origin = $7, resources = $8, reporters = $9, raw = $10, updated_at = $11, last_transition = $12
             WHERE key = $1`,
            [key, ...values.slice(3)],
            c,
          );
        // A late, older transition: history only.
        else await this.q('UPDATE events SET reporters = $1 WHERE key = $2', [reportersText, key], c);
        const [inserted] = await this.q(
          `INSERT INTO transitions (event_key, platform_key, transition, ce_source, ce_id, reporter, observed_at, received_at, via, data, mine)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
          [
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
            t.mine,
          ],
          c,
        );
        const id = inserted!.id as number;
        await this.q(
          'INSERT INTO receipts (ce_source, ce_id, transition_id, reporter, received_at) VALUES ($1, $2, $3, $4, $5)',
          [t.ceSource, t.ceId, id, t.reporter, receivedAt],
          c,
        );
        results.push({ outcome: 'new', transitionId: id, eventKey: key });
        fresh = true;
      }
      if (fresh) await this.notify({ kind: 'transition' }, c);
      return results;
    });
  }

  async heartbeat(
    vm: string,
    p: { identity: Record<string, unknown>; agentVersion?: string; health?: unknown },
    at: string,
  ): Promise<void> {
    await this.q(
      `INSERT INTO vms (name, identity, agent_version, last_heartbeat_at, health, first_seen_at) VALUES ($1, $2, $3, $4, $5, $4)
       ON CONFLICT (name) DO UPDATE SET identity = excluded.identity, agent_version = excluded.agent_version,
         last_heartbeat_at = excluded.last_heartbeat_at, health = excluded.health`,
      [vm, JSON.stringify(p.identity), p.agentVersion ?? null, at, jsonText(p.health)],
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
    const [count] = await this.q(`SELECT COUNT(*) AS n FROM events ${clause}`, args);
    const rows = await this.q(
      `SELECT * FROM events ${clause} ORDER BY updated_at DESC, key LIMIT $${args.length + 1} OFFSET $${args.length + 2}`,
      [...args, f.limit ?? 100, f.offset ?? 0],
    );
    return { events: rows.map(toEvent), total: count!.n as number };
  }

  async getEvent(key: string) {
    const [row] = await this.q('SELECT * FROM events WHERE key = $1', [key]);
    if (!row) return undefined;
    const sightings = new Map<number, TransitionRow['sightings']>();
    for (const s of await this.q(
      `SELECT r.transition_id, r.reporter, r.ce_source, r.received_at FROM receipts r
       JOIN transitions t ON t.id = r.transition_id WHERE t.event_key = $1 ORDER BY r.received_at, r.transition_id`,
      [key],
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
      await this.q('SELECT * FROM transitions WHERE event_key = $1 ORDER BY id', [key])
    ).map((r) => toTransition(r, sightings.get(r.id as number) ?? []));
    const event = toEvent(row);
    const commands = (
      await this.q('SELECT * FROM commands WHERE event_id = $1 ORDER BY created_at', [event.eventId])
    ).map(toCommand);
    return { event, transitions, commands };
  }

  async getVm(name: string): Promise<VmRow | undefined> {
    const [r] = await this.q('SELECT * FROM vms WHERE name = $1', [name]);
    return r ? toVm(r) : undefined;
  }

  async getEventRow(key: string): Promise<EventRow | undefined> {
    const [r] = await this.q('SELECT * FROM events WHERE key = $1', [key]);
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
    const held = await this.q(
      `INSERT INTO leases (name, holder, until) VALUES ('planner', $1, now() + $2 * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
         WHERE leases.holder = excluded.holder OR leases.until < now()
       RETURNING holder`,
      [this.holder, this.plannerLeaseMs],
    );
    if (held.length === 0) return [];
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
    return rows.map((r: Row) => ({
      id: r.id as number,
      at: r.at as string,
      actor: r.actor as string,
      action: r.action as string,
      subject: r.subject as string,
      detail: parseText(r.detail),
    }));
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
