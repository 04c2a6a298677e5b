// PostgreSQL schema, one entry per version, and the migration runner. Several hubs may start at
// once on one database: the runner takes a transaction-scoped advisory lock first, so exactly one
// of them creates the schema and applies what is missing, and the others then find it done.
// Timestamps are ISO 8601 TEXT as in SQLite (they sort as strings, and come back exactly as given).
import type pg from 'pg';

export const POSTGRES_MIGRATIONS: string[] = [
  `CREATE TABLE events (
     key TEXT PRIMARY KEY, provider TEXT NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL, status TEXT NOT NULL,
     not_before TEXT, duration_seconds INTEGER, description TEXT, origin TEXT NOT NULL, resources TEXT NOT NULL,
     reporters TEXT NOT NULL, raw TEXT, first_seen_at TEXT NOT NULL, updated_at TEXT NOT NULL, last_transition TEXT NOT NULL);
   CREATE INDEX events_status ON events (status, updated_at);
   CREATE INDEX events_updated ON events (updated_at);
   CREATE TABLE transitions (
     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_key TEXT NOT NULL REFERENCES events(key) ON DELETE CASCADE,
     platform_key TEXT NOT NULL UNIQUE, transition TEXT NOT NULL, ce_source TEXT NOT NULL, ce_id TEXT NOT NULL,
     reporter TEXT NOT NULL, observed_at TEXT NOT NULL, received_at TEXT NOT NULL, via TEXT NOT NULL, data TEXT NOT NULL,
     mine BOOLEAN NOT NULL DEFAULT FALSE, planned_at TEXT);
   CREATE INDEX transitions_event ON transitions (event_key, id);
   CREATE INDEX transitions_unplanned ON transitions (id) WHERE planned_at IS NULL;
   CREATE TABLE receipts (
     ce_source TEXT NOT NULL, ce_id TEXT NOT NULL, transition_id BIGINT NOT NULL REFERENCES transitions(id) ON DELETE CASCADE,
     reporter TEXT NOT NULL, received_at TEXT NOT NULL, PRIMARY KEY (ce_source, ce_id));
   CREATE INDEX receipts_transition ON receipts (transition_id);
   CREATE TABLE vms (
     name TEXT PRIMARY KEY, identity TEXT NOT NULL, agent_version TEXT, last_heartbeat_at TEXT, health TEXT, first_seen_at TEXT NOT NULL);
   CREATE TABLE commands (
     id TEXT PRIMARY KEY, vm TEXT NOT NULL, type TEXT NOT NULL, event_id TEXT, hook TEXT, origin TEXT NOT NULL,
     created_at TEXT NOT NULL, delivered_at TEXT, deliveries INTEGER NOT NULL DEFAULT 0, completed_at TEXT, result TEXT);
   CREATE INDEX commands_pending ON commands (vm, completed_at, created_at);
   CREATE INDEX commands_event ON commands (event_id);
   CREATE TABLE audit (
     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
     subject TEXT NOT NULL, detail TEXT);
   CREATE INDEX audit_subject ON audit (subject, id);
   -- The audit history is append-only: the database itself refuses edits.
   CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
     $$ BEGIN RAISE EXCEPTION 'audit is append-only'; END $$;
   CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
   CREATE TABLE runs (
     key TEXT PRIMARY KEY, rule TEXT NOT NULL, event_key TEXT NOT NULL, vm TEXT NOT NULL, phase TEXT NOT NULL,
     trigger_transition_id BIGINT NOT NULL, created_at TEXT NOT NULL, snapshot TEXT);
   CREATE INDEX runs_event ON runs (event_key, vm, phase);
   CREATE TABLE steps (
     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, run_key TEXT NOT NULL REFERENCES runs(key) ON DELETE CASCADE,
     idx INTEGER NOT NULL, name TEXT NOT NULL, action TEXT NOT NULL, params TEXT NOT NULL, lead_ms BIGINT,
     timeout_ms BIGINT NOT NULL, max_attempts INTEGER NOT NULL, max_backoff_ms BIGINT NOT NULL,
     run_after_deadline BOOLEAN NOT NULL, status TEXT NOT NULL, due_at TEXT NOT NULL, deadline TEXT,
     attempts INTEGER NOT NULL DEFAULT 0, lease_until TEXT, last_error TEXT, dead_reason TEXT,
     idempotency_key TEXT NOT NULL UNIQUE, updated_at TEXT NOT NULL, finished_at TEXT, UNIQUE (run_key, idx));
   CREATE INDEX steps_due ON steps (status, due_at);
   CREATE TABLE attempts (
     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, step_id BIGINT NOT NULL REFERENCES steps(id) ON DELETE CASCADE,
     n INTEGER NOT NULL, started_at TEXT NOT NULL, finished_at TEXT NOT NULL, ok BOOLEAN NOT NULL, retryable BOOLEAN,
     status INTEGER, detail TEXT NOT NULL, output TEXT);
   CREATE INDEX attempts_step ON attempts (step_id, n);
   CREATE TABLE rules (name TEXT PRIMARY KEY, definition TEXT NOT NULL, source TEXT NOT NULL, updated_at TEXT NOT NULL);
   -- Work that one replica at a time does (planning): who holds it, until when (database clock).
   CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until TIMESTAMPTZ NOT NULL);`,
  // Pool budgets (as SQLite's): a disruptive step holds a slot of its VM's pool until the event is over.
  `ALTER TABLE steps ADD COLUMN disruptive BOOLEAN NOT NULL DEFAULT FALSE;
   ALTER TABLE steps ADD COLUMN held_reason TEXT;
   CREATE TABLE pool_slots (
     pool TEXT NOT NULL, vm TEXT NOT NULL, event_key TEXT NOT NULL, acquired_at TEXT NOT NULL, expires_at TEXT NOT NULL,
     PRIMARY KEY (pool, vm, event_key));
   CREATE INDEX pool_slots_event ON pool_slots (event_key, vm);`,
  // Timer triggers (as SQLite's): per rule, the newest slot fired or skipped; replicas only move it forward.
  `CREATE TABLE schedule_cursors (rule TEXT PRIMARY KEY, slot TEXT NOT NULL, updated_at TEXT NOT NULL);`,
];

// At most 49 characters: the NOTIFY channel is forewarn_<schema>, and identifiers end at 63.
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,48}$/;

/** Brings `schema` up to date; safe when several hubs run it at the same moment. */
export async function migrate(pool: pg.Pool, schema: string): Promise<number> {
  if (!SCHEMA_NAME.test(schema))
    throw new Error(`postgres schema ${JSON.stringify(schema)}: use lower-case letters, digits and _`);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Held to the end of the transaction: concurrent starters wait here, then see the result.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`forewarn_migrations:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(`SET LOCAL search_path TO ${schema}`);
    await client.query(
      'CREATE TABLE IF NOT EXISTS forewarn_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ v: number | null }>(
      'SELECT MAX(version) AS v FROM forewarn_migrations',
    );
    const current = rows[0]?.v ?? 0;
    if (current > POSTGRES_MIGRATIONS.length)
      throw new Error(
        `postgres schema ${schema} is at version ${current}, newer than this hub knows (${POSTGRES_MIGRATIONS.length}): upgrade the hub`,
      );
    for (let v = current; v < POSTGRES_MIGRATIONS.length; v++) {
      await client.query(POSTGRES_MIGRATIONS[v]!);
      await client.query('INSERT INTO forewarn_migrations (version) VALUES ($1)', [v + 1]);
    }
    await client.query('COMMIT');
    return POSTGRES_MIGRATIONS.length - current;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
