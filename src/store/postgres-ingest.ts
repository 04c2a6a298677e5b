// Ingest into PostgreSQL, inside the caller's transaction: the SQLite store's dedup and merge
// rules exactly, made safe for replicas ingesting the same event at the same moment, and in a
// fixed number of round trips per batch (not per event): what the batch needs is read in three
// queries, the rules are applied in memory in input order, and the result written in three.
import type pg from 'pg';
import { parseText } from './rows.js';
import {
  eventKey,
  platformKey,
  TRANSITION_RANK,
  type IncomingTransition,
  type IngestResult,
} from './store.js';

type Row = Record<string, unknown>;
const q = async (text: string, values: unknown[], c: pg.PoolClient): Promise<Row[]> =>
  (await c.query(text, values)).rows as Row[];

const EVENT_COLUMNS = [
  'key',
  'provider',
  'event_id',
  'type',
  'status',
  'not_before',
  'duration_seconds',
  'description',
  'origin',
  'resources',
  'reporters',
  'raw',
  'first_seen_at',
  'updated_at',
  'last_transition',
] as const;

/** A transition's id: stored already (a number) or the index of one this batch inserts. */
type Ref = number | { pending: number };

/** Stores a batch in `c`'s transaction; outcomes in input order. */
export async function ingestBatch(
  c: pg.PoolClient,
  batch: IncomingTransition[],
  receivedAt: string,
): Promise<IngestResult[]> {
  // Replicas ingesting the same event take turns (the rest is then exactly SQLite's logic); the
  // locks are taken in one order, so two batches never deadlock.
  const keys = [...new Set(batch.map((t) => eventKey(t.event.provider, t.event.eventId)))];
  await c.query(
    `SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest($1::text[]) AS k ORDER BY 1) s`,
    [keys],
  );

  // What is stored already, for this batch.
  const receipts = new Map<string, { ref: Ref; eventKey: string }>();
  for (const r of await q(
    `SELECT r.ce_source, r.ce_id, r.transition_id, t.event_key FROM receipts r JOIN transitions t ON t.id = r.transition_id
     WHERE (r.ce_source, r.ce_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [batch.map((t) => t.ceSource), batch.map((t) => t.ceId)],
    c,
  ))
    receipts.set(`${r.ce_source as string}\n${r.ce_id as string}`, {
      ref: r.transition_id as number,
      eventKey: r.event_key as string,
    });
  const events = new Map<string, Row>();
  for (const r of await q(`SELECT * FROM events WHERE key = ANY($1::text[])`, [keys], c))
    events.set(r.key as string, r);
  const platform = new Map<string, Ref>();
  for (const r of await q(
    'SELECT platform_key, id FROM transitions WHERE platform_key = ANY($1::text[])',
    [batch.map(platformKey)],
    c,
  ))
    platform.set(r.platform_key as string, r.id as number);
  const lastReschedule = new Map<string, Ref>();

  const inserts: { t: IncomingTransition; key: string; pk: string }[] = [];
  const newReceipts: { t: IncomingTransition; ref: Ref }[] = [];
  const outcomes: { outcome: IngestResult['outcome']; ref: Ref; eventKey: string }[] = [];
  const touched = new Set<string>();

  for (const t of batch) {
    const key = eventKey(t.event.provider, t.event.eventId);
    const seen = receipts.get(`${t.ceSource}\n${t.ceId}`);
    if (seen) {
      outcomes.push({ outcome: 'duplicate', ref: seen.ref, eventKey: seen.eventKey });
      continue;
    }
    const existing = events.get(key);
    const reporters = new Set(parseText<string[]>(existing?.reporters) ?? []);
    reporters.add(t.reporter);
    const reportersText = JSON.stringify([...reporters]);
    // The same move reported by another VM: the event already stands at this NotBefore after a reschedule.
    let same: Ref | undefined;
    if (
      t.transition === 'rescheduled' &&
      existing?.last_transition === 'rescheduled' &&
      existing.not_before === (t.event.notBefore ?? null)
    ) {
      same = lastReschedule.get(key);
      if (same === undefined) {
        const [r] = await q(
          `SELECT id FROM transitions WHERE event_key = $1 AND transition = 'rescheduled' ORDER BY id DESC LIMIT 1`,
          [key],
          c,
        );
        same = r?.id as number | undefined;
      }
    }
    same ??= platform.get(platformKey(t));
    touched.add(key);
    if (same !== undefined) {
      newReceipts.push({ t, ref: same });
      receipts.set(`${t.ceSource}\n${t.ceId}`, { ref: same, eventKey: key });
      events.set(key, { ...existing, reporters: reportersText });
      outcomes.push({ outcome: 'merged', ref: same, eventKey: key });
      continue;
    }
    const e = t.event;
    if (
      !existing ||
      (TRANSITION_RANK[t.transition] ?? 0) >= (TRANSITION_RANK[existing.last_transition as string] ?? 0)
    )
      events.set(key, {
        key,
        provider: existing?.provider ?? e.provider,
        event_id: existing?.event_id ?? e.eventId,
        type: e.type,
        status: e.status,
        not_before: e.notBefore ?? null,
        duration_seconds: e.durationSeconds ?? null,
        description: e.description ?? null,
        origin: e.origin,
        resources: JSON.stringify(e.resources),
        reporters: reportersText,
        raw: null, // kept once, in the transition's data (postgres.ts EVENTS)
        first_seen_at: existing?.first_seen_at ?? receivedAt,
        updated_at: receivedAt,
        last_transition: t.transition,
      });
    else events.set(key, { ...existing, reporters: reportersText }); // a late, older transition: history only
    const ref = { pending: inserts.length };
    const pk = platformKey(t);
    inserts.push({ t, key, pk });
    platform.set(pk, ref);
    if (t.transition === 'rescheduled') lastReschedule.set(key, ref);
    newReceipts.push({ t, ref });
    receipts.set(`${t.ceSource}\n${t.ceId}`, { ref, eventKey: key });
    outcomes.push({ outcome: 'new', ref, eventKey: key });
  }

  // Events first (transitions reference them), then transitions, then receipts.
  const rows = [...touched].map((k) => events.get(k)!);
  if (rows.length) {
    const col = (name: (typeof EVENT_COLUMNS)[number]) => rows.map((r) => r[name] ?? null);
    await c.query(
      `INSERT INTO events (${EVENT_COLUMNS.join(', ')})
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[],
         $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])
       ON CONFLICT (key) DO UPDATE SET ${EVENT_COLUMNS.slice(1)
         .map((n) => `${n} = excluded.${n}`)
         .join(', ')}`,
      EVENT_COLUMNS.map(col),
    );
  }
  const ids: number[] = [];
  if (inserts.length) {
    const inserted = await q(
      `INSERT INTO transitions (event_key, platform_key, transition, ce_source, ce_id, reporter, observed_at, received_at, via, data, mine)
       SELECT u.event_key, u.platform_key, u.transition, u.ce_source, u.ce_id, u.reporter, u.observed_at, $8, u.via, u.data, u.mine
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $9::text[], $10::text[], $11::boolean[])
         WITH ORDINALITY AS u(event_key, platform_key, transition, ce_source, ce_id, reporter, observed_at, via, data, mine, n)
       ORDER BY u.n RETURNING id, platform_key`,
      [
        inserts.map((i) => i.key),
        inserts.map((i) => i.pk),
        inserts.map((i) => i.t.transition),
        inserts.map((i) => i.t.ceSource),
        inserts.map((i) => i.t.ceId),
        inserts.map((i) => i.t.reporter),
        inserts.map((i) => i.t.observedAt),
        receivedAt,
        inserts.map((i) => i.t.via),
        inserts.map((i) => JSON.stringify(i.t.event)),
        inserts.map((i) => i.t.mine),
      ],
      c,
    );
    const byKey = new Map(inserted.map((r) => [r.platform_key as string, r.id as number]));
    for (const i of inserts) ids.push(byKey.get(i.pk)!);
  }
  const id = (ref: Ref) => (typeof ref === 'number' ? ref : ids[ref.pending]!);
  if (newReceipts.length)
    await c.query(
      `INSERT INTO receipts (ce_source, ce_id, transition_id, reporter, received_at)
       SELECT u.*, $5 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS u`,
      [
        newReceipts.map((r) => r.t.ceSource),
        newReceipts.map((r) => r.t.ceId),
        newReceipts.map((r) => id(r.ref)),
        newReceipts.map((r) => r.t.reporter),
        receivedAt,
      ],
    );
  return outcomes.map((o) => ({ outcome: o.outcome, transitionId: id(o.ref), eventKey: o.eventKey }));
}
