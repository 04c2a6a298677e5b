// GCE metadata (metadata-apis.md §3): `instance/maintenance-event` and `instance/preempted` watched
// with wait_for_change long-polls and ETags, and `instance/upcoming-maintenance`. Each key has at most
// one request in flight; a poll returns as soon as one of them answers, with every key's last value.
// Neither key carries an id or a time, so the source mints both from when it first saw the value
// (`<vm>:<key>:<first seen>`), and gets them back from the tracker after a restart (`restore`).
// Two sources from this file: `gcp` watches the notices (they only ever end by happening, so the
// agent reads a vanished one as completed), `gcp-upcoming` the window (which can be canceled).
import type { EventType, MaintenanceEvent } from '../core/event.js';
import { parseRfc3339, TimeFormatError, toIso } from '../core/time.js';
import { metadataRequest, retryAfterMs } from './metadata-http.js';
import { SourceError, type MaintenanceSource, type SourceDocument, type VmIdentity } from './source.js';

export const GCP_METADATA = 'http://metadata.google.internal';
const ROOT = '/computeMetadata/v1/instance/';

export interface GcpSourceOptions {
  baseUrl?: string;
  vm: string;
  /** timeout_sec of each long-poll (default 60, as the GCE guest agents). */
  waitSeconds?: number;
  /** Extra client-side time beyond waitSeconds before a request counts as hung (default 5 s). */
  timeoutMs?: number;
  /** Notice assumed for TERMINATE_ON_HOST_MAINTENANCE: 60 s, or 3600 for GPU VMs (§3.2). */
  terminateNoticeSeconds?: number;
  /**
   * `notices` (default): maintenance-event and preempted. `upcoming`: upcoming-maintenance (a 404
   * or 503 there means none on this machine type).
   */
  watch?: 'notices' | 'upcoming';
  now?: () => number;
}

type Key = 'maintenance-event' | 'preempted' | 'upcoming-maintenance';
const MAINTENANCE: Record<string, EventType> = {
  MIGRATE_ON_HOST_MAINTENANCE: 'live-migrate',
  TERMINATE_ON_HOST_MAINTENANCE: 'stop',
  SHUTDOWN_ON_HOST_MAINTENANCE: 'stop', // legacy alias of TERMINATE
};

interface Watch {
  key: Key;
  etag: string;
  /** Last accepted value; undefined until the first answer. */
  value?: string;
  inFlight?: Promise<void>;
  settled?: { error?: SourceError };
  /** Do not ask again before this (a key the machine type does not have). */
  idleUntil: number;
  /** The last answer was a change: read once more at once (no wait), to confirm it. */
  confirm?: boolean;
}

/** A value that means "nothing": NONE, {}, the sapagent error object, or no body (§3.4). */
export function parseUpcoming(body: string): Record<string, unknown> | undefined {
  const text = body.trim();
  if (text === '' || text === 'NONE') return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new SourceError('parse', `upcoming-maintenance is not JSON (${JSON.stringify(text.slice(0, 60))})`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    throw new SourceError('parse', 'upcoming-maintenance is not an object');
  let d = doc as Record<string, unknown>;
  // The docs wrap it under a label; accept the wrapped and the bare object.
  const wrapped = d['Upcoming maintenance'];
  if (wrapped && typeof wrapped === 'object' && !Array.isArray(wrapped))
    d = wrapped as Record<string, unknown>;
  if (Object.keys(d).length === 0 || (Object.keys(d).length === 1 && typeof d.error === 'string'))
    return undefined;
  for (const k of ['window_start_time', 'maintenance_status'])
    if (typeof d[k] !== 'string') throw new SourceError('parse', `upcoming-maintenance.${k} is missing`);
  for (const k of ['window_start_time', 'window_end_time', 'latest_window_start_time']) {
    if (d[k] === undefined) continue;
    try {
      parseRfc3339(d[k] as string);
    } catch (err) {
      if (err instanceof TimeFormatError)
        throw new SourceError('parse', `upcoming-maintenance.${k}: ${err.message}`);
      throw err;
    }
  }
  return d;
}

export class GcpMetadataSource implements MaintenanceSource {
  readonly name: 'gcp' | 'gcp-upcoming';
  readonly provider = 'gcp' as const;
  private readonly base: string;
  private readonly watches: Watch[];
  private readonly now: () => number;
  /** When each current value was first seen: `<key>=<value>` → epoch ms. */
  private readonly firstSeen = new Map<string, number>();
  /** Documents in a row a remembered value has been missing from. */
  private readonly absent = new Map<string, number>();

  constructor(private readonly options: GcpSourceOptions) {
    this.base = (options.baseUrl ?? GCP_METADATA).replace(/\/+$/, '');
    this.now = options.now ?? Date.now;
    const upcoming = options.watch === 'upcoming';
    this.name = upcoming ? 'gcp-upcoming' : 'gcp';
    const keys: Key[] = upcoming ? ['upcoming-maintenance'] : ['maintenance-event', 'preempted'];
    // last_etag=0 makes the first request answer at once (§3.3).
    this.watches = keys.map((key) => ({ key, etag: '0', idleUntil: 0 }));
  }

  /** Re-learns when each still-tracked value was first seen, so its id survives a restart. */
  restore(events: MaintenanceEvent[]): void {
    for (const e of events) {
      const m = /^(.*):(maintenance-event|preempted|upcoming-maintenance):(\d{4}-.*Z)$/.exec(e.eventId);
      const raw = e.raw as { value?: unknown } | undefined;
      if (!m || m[1] !== this.options.vm || typeof raw?.value !== 'string') continue;
      const at = Date.parse(m[3]!);
      if (!Number.isNaN(at)) this.firstSeen.set(`${m[2]}=${raw.value}`, at);
    }
  }

  async poll(signal?: AbortSignal): Promise<SourceDocument> {
    const now = this.now();
    for (const w of this.watches) if (!w.inFlight && !w.settled && now >= w.idleUntil) this.start(w, signal);
    // Keys not read yet answer at once (last_etag=0): wait for all of them, so the first document is whole.
    const first = this.watches.filter((w) => w.value === undefined && w.inFlight).map((w) => w.inFlight!);
    if (first.length) await abortable(Promise.all(first), signal);
    else if (!this.watches.some((w) => w.settled)) {
      const waits = this.watches.filter((w) => w.inFlight).map((w) => w.inFlight!);
      const idle = this.watches.filter((w) => !w.inFlight && !w.settled).map((w) => w.idleUntil - now);
      if (idle.length) waits.push(new Promise((r) => setTimeout(r, Math.max(0, Math.min(...idle))).unref()));
      await abortable(Promise.race(waits), signal);
    }
    let error: SourceError | undefined;
    for (const w of this.watches) {
      if (!w.settled) continue;
      error ??= w.settled.error;
      w.settled = undefined;
    }
    if (error) throw error;
    return { events: this.document() };
  }

  private start(w: Watch, signal?: AbortSignal): void {
    const wait = this.options.waitSeconds ?? 60;
    // Every change is read twice: by the long-poll that saw it and by a plain read right after.
    // The tracker ends an event only when two documents in a row lack it, so a real end is then
    // confirmed at once instead of one long-poll timeout later, and one glitched answer ends nothing.
    const query = w.confirm
      ? ''
      : `wait_for_change=true&last_etag=${encodeURIComponent(w.etag)}&timeout_sec=${wait}`;
    w.confirm = false;
    const url = `${this.base}${ROOT}${w.key}?${[w.key === 'upcoming-maintenance' ? 'alt=json' : '', query].filter(Boolean).join('&')}`;
    w.inFlight = (async () => {
      try {
        const res = await metadataRequest(url, {
          headers: { 'Metadata-Flavor': 'Google' },
          timeoutMs: wait * 1000 + (this.options.timeoutMs ?? 5000),
          signal,
        });
        this.accept(w, res.status, res.body, res.headers);
        w.settled = {};
      } catch (err) {
        w.settled = { error: err instanceof SourceError ? err : new SourceError('network', String(err)) };
      } finally {
        w.inFlight = undefined;
      }
    })();
  }

  private accept(
    w: Watch,
    status: number,
    body: string,
    headers: Record<string, string | string[] | undefined>,
  ) {
    const etag = Array.isArray(headers.etag) ? headers.etag[0] : headers.etag;
    if (w.key === 'upcoming-maintenance' && (status === 404 || status === 503)) {
      // Not on this machine type, or "no notifications yet" (§3.4): none, ask again in a minute.
      w.value = '';
      w.idleUntil = this.now() + 60_000;
      return;
    }
    if (status !== 200) {
      throw new SourceError(
        'http',
        `${w.key} answered ${status}: ${body.slice(0, 120)}`,
        status,
        retryAfterMs(headers) ?? (status === 503 ? 1000 : undefined),
      );
    }
    const value = body.trim();
    if (w.key === 'maintenance-event' && value !== 'NONE' && !MAINTENANCE[value])
      throw new SourceError(
        'parse',
        `maintenance-event ${JSON.stringify(value.slice(0, 60))} is not a known value`,
      );
    if (w.key === 'preempted' && value !== 'TRUE' && value !== 'FALSE')
      throw new SourceError('parse', `preempted ${JSON.stringify(value.slice(0, 60))} is not TRUE or FALSE`);
    const upcoming = w.key === 'upcoming-maintenance' ? parseUpcoming(value) : undefined;
    w.value = upcoming ? JSON.stringify(upcoming) : w.key === 'upcoming-maintenance' ? '' : value;
    if (w.etag !== '0' && etag !== w.etag) w.confirm = true;
    w.etag = etag ?? '0';
  }

  /** Events for the current values. A value not yet known yields nothing, never a disappearance. */
  private document(): MaintenanceEvent[] {
    const vm = this.options.vm;
    const events: MaintenanceEvent[] = [];
    const seen = new Set<string>();
    const since = (key: Key, value: string) => {
      const k = `${key}=${value}`;
      seen.add(k);
      if (!this.firstSeen.has(k)) this.firstSeen.set(k, Math.floor(this.now() / 1000) * 1000);
      return this.firstSeen.get(k)!;
    };
    const base = (key: Key, value: string, first: number) => ({
      provider: 'gcp' as const,
      eventId: `${vm}:${key}:${toIso(first)}`,
      vm,
      origin: 'platform' as const,
      resources: [vm],
      raw: { key, value },
    });
    for (const w of this.watches) {
      const v = w.value;
      if (v === undefined) {
        // Unknown yet: keep whatever we knew (nothing on a fresh start).
        for (const k of this.firstSeen.keys()) if (k.startsWith(`${w.key}=`)) seen.add(k);
        continue;
      }
      if (w.key === 'maintenance-event' && v !== 'NONE') {
        const first = since(w.key, v);
        const notice = v === 'MIGRATE_ON_HOST_MAINTENANCE' ? 60 : (this.options.terminateNoticeSeconds ?? 60);
        events.push({
          ...base(w.key, v, first),
          type: MAINTENANCE[v]!,
          status: 'scheduled',
          notBefore: toIso(first + notice * 1000),
          description: `${v}: host maintenance within about ${notice} s of ${toIso(first)}`,
        });
      } else if (w.key === 'preempted' && v === 'TRUE') {
        const first = since(w.key, v);
        events.push({
          ...base(w.key, v, first),
          type: 'preempt',
          status: 'scheduled',
          // ACPI soft off now, hard off 30 s later (§3.5).
          notBefore: toIso(first + 30_000),
          description: 'Preempted: Compute Engine is stopping this VM (hard off about 30 s after the notice)',
        });
      } else if (w.key === 'upcoming-maintenance' && v !== '') {
        const d = JSON.parse(v) as Record<string, string>;
        const first = since(w.key, 'window');
        const start = parseRfc3339(d.window_start_time!);
        const end = d.window_end_time ? parseRfc3339(d.window_end_time) : undefined;
        events.push({
          ...base(w.key, 'window', first),
          raw: { key: w.key, value: 'window', document: d },
          type: 'system-maintenance',
          status: d.maintenance_status === 'ONGOING' ? 'started' : 'scheduled',
          notBefore: toIso(start),
          durationSeconds: end === undefined ? -1 : Math.round((end - start) / 1000),
          description: `Upcoming ${d.type ?? 'SCHEDULED'} maintenance (${[d.maintenance_reasons ?? []].flat().join(', ') || 'no reason given'})`,
        });
      }
    }
    // Forget a value once two documents in a row lack it (as the tracker ends an event), so a later
    // occurrence gets a new id, but one glitched answer does not re-mint the id of a live notice.
    for (const k of [...this.firstSeen.keys()]) {
      if (seen.has(k)) {
        this.absent.delete(k);
        continue;
      }
      const n = (this.absent.get(k) ?? 0) + 1;
      if (n < 2) this.absent.set(k, n);
      else {
        this.firstSeen.delete(k);
        this.absent.delete(k);
      }
    }
    return events;
  }
}

/** Waits for `p`, or rejects as soon as `signal` aborts (the request itself is aborted by the same signal). */
async function abortable(p: Promise<unknown>, signal?: AbortSignal): Promise<void> {
  if (!signal) return void (await p);
  let onAbort = () => {};
  try {
    await new Promise<void>((resolve, reject) => {
      onAbort = () => reject(new SourceError('network', 'poll aborted'));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      p.then(() => resolve(), reject);
    });
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** This VM's name, from `instance/name`. */
export async function identifyGcpVm(baseUrl = GCP_METADATA, timeoutMs = 5000): Promise<VmIdentity> {
  const get = (key: string) =>
    metadataRequest(`${baseUrl.replace(/\/+$/, '')}${ROOT}${key}`, {
      headers: { 'Metadata-Flavor': 'Google' },
      timeoutMs,
    });
  const name = await get('name');
  if (name.status !== 200 || !name.body.trim())
    throw new SourceError('http', `instance/name answered ${name.status}`, name.status);
  const zone = await get('zone');
  const id = await get('id');
  return {
    name: name.body.trim(),
    vmId: id.status === 200 ? id.body.trim() : undefined,
    zone: zone.status === 200 ? zone.body.trim().split('/').pop() : undefined,
  };
}
