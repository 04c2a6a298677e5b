// The agent's durable state on local disk (SQLite, WAL, synchronous=FULL): each source's tracker
// state and the outbox of transitions not yet delivered, written in ONE transaction per poll, so
// a crash, a kill -9 or the reboot the event causes neither repeats nor loses a transition.
import type Database from 'better-sqlite3';
import { openSqlite } from '../store/sqlite-open.js';
import type { Transition } from '../core/event.js';
import type { TransitionRecord } from '../core/transition.js';
import { emptyState, type TrackerState } from './tracker.js';

export interface OutboxRow {
  seq: number;
  record: TransitionRecord;
  attempts: number;
}

/** Dropped first when the outbox is full; `started` and `completed` last (issue #3). */
const DROP_ORDER: Transition[] = ['rescheduled', 'scheduled', 'canceled', 'started', 'completed'];

const MIGRATIONS = [
  `CREATE TABLE tracker_state (source TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at TEXT NOT NULL);
   CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, transition TEXT NOT NULL,
     mine INTEGER NOT NULL, record TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL);
   CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
   CREATE TABLE actions (key TEXT PRIMARY KEY, at TEXT NOT NULL, outcome TEXT NOT NULL);
   CREATE TABLE local_tasks (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, sink TEXT NOT NULL,
     record TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL);`,
];

export interface LocalTask {
  seq: number;
  sink: string;
  record: TransitionRecord;
  attempts: number;
}

export class AgentJournal {
  private readonly db: Database.Database;

  constructor(
    path: string,
    private readonly outboxLimit = 10_000,
  ) {
    // FULL: a committed poll survives power loss, which is what a Reboot event is.
    this.db = openSqlite(path, { migrations: MIGRATIONS });
  }

  trackerState(source: string): TrackerState {
    const row = this.db.prepare('SELECT state FROM tracker_state WHERE source = ?').get(source) as
      { state: string } | undefined;
    return row ? (JSON.parse(row.state) as TrackerState) : emptyState();
  }

  /** Stores the tracker's new state and enqueues its transitions atomically. Returns how many were dropped. */
  commit(
    source: string,
    state: TrackerState,
    transitions: TransitionRecord[],
    localTasks: { sink: string; record: TransitionRecord }[] = [],
  ): number {
    const now = new Date().toISOString();
    let dropped = 0;
    this.db.transaction(() => {
      this.db
        .prepare(
          'INSERT INTO tracker_state (source, state, updated_at) VALUES (?, ?, ?) ON CONFLICT(source) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at',
        )
        .run(source, JSON.stringify(state), now);
      const insert = this.db.prepare(
        'INSERT INTO outbox (id, transition, mine, record, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING',
      );
      for (const t of transitions) insert.run(t.id, t.transition, t.mine ? 1 : 0, JSON.stringify(t), now);
      const task = this.db.prepare(
        'INSERT INTO local_tasks (key, sink, record, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO NOTHING',
      );
      for (const t of localTasks) task.run(`${t.sink}:${t.record.id}`, t.sink, JSON.stringify(t.record), now);
      dropped = this.enforceLimit();
    })();
    return dropped;
  }

  /** Drops the least useful rows over the limit: sibling events first, then by DROP_ORDER, oldest first. */
  private enforceLimit(): number {
    const over = this.outboxSize() - this.outboxLimit;
    if (over <= 0) return 0;
    const order = DROP_ORDER.map((t, i) => `WHEN '${t}' THEN ${i}`).join(' ');
    const victims = this.db
      .prepare(
        `SELECT seq, transition FROM outbox ORDER BY mine ASC, CASE transition ${order} END ASC, seq ASC LIMIT ?`,
      )
      .all(over) as { seq: number; transition: string }[];
    const del = this.db.prepare('DELETE FROM outbox WHERE seq = ?');
    for (const v of victims) {
      del.run(v.seq);
      this.increment(`dropped.${v.transition}`);
    }
    return victims.length;
  }

  /** The oldest undelivered transitions, in order. */
  peek(limit: number): OutboxRow[] {
    return (
      this.db.prepare('SELECT seq, record, attempts FROM outbox ORDER BY seq ASC LIMIT ?').all(limit) as {
        seq: number;
        record: string;
        attempts: number;
      }[]
    ).map((r) => ({ seq: r.seq, record: JSON.parse(r.record) as TransitionRecord, attempts: r.attempts }));
  }

  ack(seqs: number[]): void {
    const del = this.db.prepare('DELETE FROM outbox WHERE seq = ?');
    this.db.transaction(() => {
      for (const s of seqs) del.run(s);
      this.increment('delivered', seqs.length);
    })();
  }

  markAttempt(seqs: number[]): void {
    const upd = this.db.prepare('UPDATE outbox SET attempts = attempts + 1 WHERE seq = ?');
    this.db.transaction(() => seqs.forEach((s) => upd.run(s)))();
  }

  /** Local work (syslog lines, hooks) committed with its transition: run at least once. */
  peekTasks(limit: number): LocalTask[] {
    return (
      this.db
        .prepare('SELECT seq, sink, record, attempts FROM local_tasks ORDER BY seq ASC LIMIT ?')
        .all(limit) as {
        seq: number;
        sink: string;
        record: string;
        attempts: number;
      }[]
    ).map((r) => ({
      seq: r.seq,
      sink: r.sink,
      record: JSON.parse(r.record) as TransitionRecord,
      attempts: r.attempts,
    }));
  }

  finishTask(seq: number): void {
    this.db.prepare('DELETE FROM local_tasks WHERE seq = ?').run(seq);
  }

  failTask(seq: number): void {
    this.db.prepare('UPDATE local_tasks SET attempts = attempts + 1 WHERE seq = ?').run(seq);
  }

  outboxSize(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n;
  }

  increment(name: string, by = 1): void {
    this.db
      .prepare(
        'INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value',
      )
      .run(name, by);
  }

  counters(): Record<string, number> {
    const rows = this.db.prepare('SELECT name, value FROM counters').all() as {
      name: string;
      value: number;
    }[];
    return Object.fromEntries(rows.map((r) => [r.name, r.value]));
  }

  /** Remembers a done action (hook run, approval, command) so a restart does not redo it. */
  recordAction(key: string, outcome: unknown): void {
    this.db
      .prepare(
        'INSERT INTO actions (key, at, outcome) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET at = excluded.at, outcome = excluded.outcome',
      )
      .run(key, new Date().toISOString(), JSON.stringify(outcome));
  }

  action(key: string): unknown {
    const row = this.db.prepare('SELECT outcome FROM actions WHERE key = ?').get(key) as
      { outcome: string } | undefined;
    return row ? JSON.parse(row.outcome) : undefined;
  }

  close(): void {
    this.db.close();
  }
}
