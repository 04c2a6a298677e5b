// Ingest into PostgreSQL, inside the caller's transaction: the SQLite store's dedup and merge
// rules exactly, made safe for replicas ingesting the same event at the same moment.
import type pg from 'pg';
import { jsonText, parseText } from './postgres-runs.js';
import { eventKey, type IncomingTransition, type IngestResult } from './store.js';

type Row = Record<string, unknown>;
const q = async (text: string, values: unknown[], c: pg.PoolClient): Promise<Row[]> =>
  (await c.query(text, values)).rows as Row[];

/** Same as the SQLite store: the same platform transition from several VMs shares this key. */
function platformKey(t: IncomingTransition): string {
  const base = `${eventKey(t.event.provider, t.event.eventId)}|${t.transition}`;
  if (t.transition === 'scheduled') return `${base}|${t.event.notBefore ?? ''}`;
  if (t.transition === 'rescheduled') return `${base}|${t.event.notBefore ?? ''}|${t.ceSource}|${t.ceId}`;
  return base;
}

/** Later transitions win, except that an event never goes back from a final state. */
const RANK: Record<string, number> = { scheduled: 0, rescheduled: 0, started: 1, completed: 2, canceled: 2 };

/** Stores a batch in `c`'s transaction; outcomes in input order. */
export async function ingestBatch(
  c: pg.PoolClient,
  batch: IncomingTransition[],
  receivedAt: string,
): Promise<IngestResult[]> {
  // Replicas ingesting the same event take turns (the rest of the logic is then exactly
  // SQLite's); locks are taken in one order, so two batches never deadlock.
  const keys = [...new Set(batch.map((t) => eventKey(t.event.provider, t.event.eventId)))];
  await c.query(
    `SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest($1::text[]) AS k ORDER BY 1) s`,
    [keys],
  );
  const results: IngestResult[] = [];
  for (const t of batch) {
    const key = eventKey(t.event.provider, t.event.eventId);
    const [seen] = await q(
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
    const [existing] = await q(
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
            await q(
              `SELECT id FROM transitions WHERE event_key = $1 AND transition = 'rescheduled' ORDER BY id DESC LIMIT 1`,
              [key],
              c,
            )
          )[0]
        : undefined;
    const same =
      sameMove ?? (await q('SELECT id FROM transitions WHERE platform_key = $1', [platformKey(t)], c))[0];
    if (same) {
      await q(
        'INSERT INTO receipts (ce_source, ce_id, transition_id, reporter, received_at) VALUES ($1, $2, $3, $4, $5)',
        [t.ceSource, t.ceId, same.id, t.reporter, receivedAt],
        c,
      );
      await q('UPDATE events SET reporters = $1 WHERE key = $2', [reportersText, key], c);
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
      await q(
        `INSERT INTO events (key, provider, event_id, type, status, not_before, duration_seconds, description, origin,
           resources, reporters, raw, first_seen_at, updated_at, last_transition)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14)`,
        values,
        c,
      );
    else if ((RANK[t.transition] ?? 0) >= (RANK[existing.last_transition as string] ?? 0))
      await q(
        `UPDATE events SET type = $2, status = $3, not_before = $4, duration_seconds = $5, description = $6,
           origin = $7, resources = $8, reporters = $9, raw = $10, updated_at = $11, last_transition = $12
         WHERE key = $1`,
        [key, ...values.slice(3)],
        c,
      );
    // A late, older transition: history only.
    else await q('UPDATE events SET reporters = $1 WHERE key = $2', [reportersText, key], c);
    const [inserted] = await q(
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
    await q(
      'INSERT INTO receipts (ce_source, ce_id, transition_id, reporter, received_at) VALUES ($1, $2, $3, $4, $5)',
      [t.ceSource, t.ceId, id, t.reporter, receivedAt],
      c,
    );
    results.push({ outcome: 'new', transitionId: id, eventKey: key });
  }
  return results;
}
