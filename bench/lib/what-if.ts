// What-if experiments for the hub benchmarks: patches applied to one SqliteStore instance, from
// the bench, to estimate what a change in src/ would buy before anyone makes it. Off by default;
// results of a run that used any are written under a different name (…-whatif-…).
//
//   sync-normal  PRAGMA synchronous = NORMAL (WAL: survives kill -9, not power loss); src uses FULL.
//   stmt-cache   db.prepare() memoised per SQL text: the store prepares every statement per call.
//   plan-once    one planning pass per ingest instead of one per new transition: the hub queues a
//                pass per 'transition' event, and each pass after the first finds nothing left but
//                still queries for it (emulated: unplanned() answers [] without a query when
//                nothing was ingested since it last found none).
//   plan-txn     the planner's work for each batch of ≤ 200 unplanned transitions in one transaction
//                (one commit instead of one per run, per audit entry and per markPlanned).
import type { SqliteStore } from '../../src/store/sqlite.js';

export const WHAT_IFS = ['sync-normal', 'stmt-cache', 'plan-once', 'plan-txn'] as const;
export type WhatIf = (typeof WHAT_IFS)[number];

export function parseWhatIfs(value: string | undefined): WhatIf[] {
  const list = (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const w of list)
    if (!(WHAT_IFS as readonly string[]).includes(w))
      throw new Error(`unknown what-if ${w}; known: ${WHAT_IFS.join(', ')}`);
  return list as WhatIf[];
}

export function applyWhatIfs(store: SqliteStore, whatIfs: readonly WhatIf[]): void {
  const db = store.db;
  if (whatIfs.includes('sync-normal')) db.pragma('synchronous = NORMAL');
  if (whatIfs.includes('stmt-cache')) {
    const prepare = db.prepare.bind(db);
    const cache = new Map<string, ReturnType<typeof prepare>>();
    (db as { prepare: typeof prepare }).prepare = ((sql: string) => {
      let s = cache.get(sql);
      if (!s) cache.set(sql, (s = prepare(sql)));
      return s;
    }) as typeof prepare;
  }
  if (whatIfs.includes('plan-once')) {
    const ingest = store.ingest.bind(store);
    const unplanned = store.unplanned.bind(store);
    let dirty = true;
    store.ingest = async (batch, at) => {
      const results = await ingest(batch, at);
      if (results.some((r) => r.outcome === 'new')) dirty = true;
      return results;
    };
    store.unplanned = async (limit: number) => {
      if (!dirty) return [];
      const rows = await unplanned(limit);
      if (rows.length === 0) dirty = false;
      return rows;
    };
  }
  if (whatIfs.includes('plan-txn')) {
    // The hub's planning loop calls unplanned(200) before each batch and once more to find none
    // left; everything between two calls is one batch. Nested store transactions become savepoints.
    const unplanned = store.unplanned.bind(store);
    let open = false;
    store.unplanned = async (limit: number) => {
      if (open) {
        db.exec('COMMIT');
        open = false;
      }
      const rows = await unplanned(limit);
      if (rows.length && !db.inTransaction) {
        db.exec('BEGIN IMMEDIATE');
        open = true;
      }
      return rows;
    };
  }
}
