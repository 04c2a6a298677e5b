// SQLite schema, one entry per version; applied in order inside a transaction, tracked by user_version.
export const SQLITE_MIGRATIONS: string[] = [
  `CREATE TABLE events (
     key TEXT PRIMARY KEY, provider TEXT NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL, status TEXT NOT NULL,
     not_before TEXT, duration_seconds INTEGER, description TEXT, origin TEXT NOT NULL, resources TEXT NOT NULL,
     reporters TEXT NOT NULL, raw TEXT, first_seen_at TEXT NOT NULL, updated_at TEXT NOT NULL, last_transition TEXT NOT NULL);
   CREATE INDEX events_status ON events (status, updated_at);
   CREATE INDEX events_updated ON events (updated_at);
   CREATE TABLE transitions (
     id INTEGER PRIMARY KEY AUTOINCREMENT, event_key TEXT NOT NULL REFERENCES events(key) ON DELETE CASCADE,
     platform_key TEXT NOT NULL UNIQUE, transition TEXT NOT NULL, ce_source TEXT NOT NULL, ce_id TEXT NOT NULL,
     reporter TEXT NOT NULL, observed_at TEXT NOT NULL, received_at TEXT NOT NULL, via TEXT NOT NULL, data TEXT NOT NULL,
     mine INTEGER NOT NULL DEFAULT 0, planned_at TEXT);
   CREATE INDEX transitions_event ON transitions (event_key, id);
   CREATE INDEX transitions_unplanned ON transitions (planned_at, id);
   CREATE TABLE receipts (
     ce_source TEXT NOT NULL, ce_id TEXT NOT NULL, transition_id INTEGER NOT NULL REFERENCES transitions(id) ON DELETE CASCADE,
     reporter TEXT NOT NULL, received_at TEXT NOT NULL, PRIMARY KEY (ce_source, ce_id));
   CREATE INDEX receipts_transition ON receipts (transition_id);
   CREATE TABLE vms (
     name TEXT PRIMARY KEY, identity TEXT NOT NULL, agent_version TEXT, last_heartbeat_at TEXT, health TEXT, first_seen_at TEXT NOT NULL);
   CREATE TABLE commands (
     id TEXT PRIMARY KEY, vm TEXT NOT NULL, type TEXT NOT NULL, event_id TEXT, hook TEXT, origin TEXT NOT NULL,
     created_at TEXT NOT NULL, delivered_at TEXT, deliveries INTEGER NOT NULL DEFAULT 0, completed_at TEXT, result TEXT);
   CREATE INDEX commands_pending ON commands (vm, completed_at, created_at);
   CREATE TABLE audit (
     id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT);
   CREATE INDEX audit_subject ON audit (subject, id);
   -- The audit history is append-only: the database itself refuses edits.
   CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;`,
  `CREATE TABLE runs (
     key TEXT PRIMARY KEY, rule TEXT NOT NULL, event_key TEXT NOT NULL, vm TEXT NOT NULL, phase TEXT NOT NULL,
     trigger_transition_id INTEGER NOT NULL, created_at TEXT NOT NULL);
   CREATE INDEX runs_event ON runs (event_key, vm, phase);
   CREATE TABLE steps (
     id INTEGER PRIMARY KEY AUTOINCREMENT, run_key TEXT NOT NULL REFERENCES runs(key) ON DELETE CASCADE, idx INTEGER NOT NULL,
     name TEXT NOT NULL, action TEXT NOT NULL, params TEXT NOT NULL, lead_ms INTEGER, timeout_ms INTEGER NOT NULL,
     max_attempts INTEGER NOT NULL, max_backoff_ms INTEGER NOT NULL, run_after_deadline INTEGER NOT NULL,
     status TEXT NOT NULL, due_at TEXT NOT NULL, deadline TEXT, attempts INTEGER NOT NULL DEFAULT 0, lease_until TEXT,
     last_error TEXT, dead_reason TEXT, idempotency_key TEXT NOT NULL UNIQUE, updated_at TEXT NOT NULL, finished_at TEXT,
     UNIQUE (run_key, idx));
   CREATE INDEX steps_due ON steps (status, due_at);
   CREATE TABLE attempts (
     id INTEGER PRIMARY KEY AUTOINCREMENT, step_id INTEGER NOT NULL REFERENCES steps(id) ON DELETE CASCADE, n INTEGER NOT NULL,
     started_at TEXT NOT NULL, finished_at TEXT NOT NULL, ok INTEGER NOT NULL, retryable INTEGER, status INTEGER,
     detail TEXT NOT NULL, output TEXT);
   CREATE INDEX attempts_step ON attempts (step_id, n);`,
  `CREATE TABLE rules (name TEXT PRIMARY KEY, definition TEXT NOT NULL, source TEXT NOT NULL, updated_at TEXT NOT NULL);`,
  // The event as it stood when the rule matched: actions send the same body on every retry.
  `ALTER TABLE runs ADD COLUMN snapshot TEXT;`,
  `CREATE INDEX commands_event ON commands (event_id);`,
  // One snapshot per triggering transition, shared by the runs it started (three rules, one copy).
  `CREATE TABLE run_snapshots (transition_id INTEGER PRIMARY KEY, snapshot TEXT NOT NULL);`,
  // Pool budgets: a disruptive step holds a slot of its VM's pool until the event is over.
  `ALTER TABLE steps ADD COLUMN disruptive INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE steps ADD COLUMN held_reason TEXT;
   CREATE TABLE pool_slots (
     pool TEXT NOT NULL, vm TEXT NOT NULL, event_key TEXT NOT NULL, acquired_at TEXT NOT NULL, expires_at TEXT NOT NULL,
     PRIMARY KEY (pool, vm, event_key));
   CREATE INDEX pool_slots_event ON pool_slots (event_key, vm);`,
  // Planning progress as one cursor: the planner plans transitions in id order, so "planned" is
  // "id <= cursor". Was a planned_at update per transition (and an index entry moved each time).
  `CREATE TABLE plan_cursor (id INTEGER NOT NULL);
   INSERT INTO plan_cursor (id) SELECT COALESCE(
     (SELECT MIN(id) - 1 FROM transitions WHERE planned_at IS NULL), (SELECT MAX(id) FROM transitions), 0);
   DROP INDEX transitions_unplanned;`,
  // Timer triggers: per rule, the newest slot fired or skipped, so a restarted hub knows what it missed.
  `CREATE TABLE schedule_cursors (rule TEXT PRIMARY KEY, slot TEXT NOT NULL, updated_at TEXT NOT NULL);`,
  // Named leases (one hub at a time consumes the NATS stream). `until` is epoch ms of the hub's clock.
  `CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until INTEGER NOT NULL);`,
];
