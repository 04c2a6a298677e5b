// Events: filter (type, state, provider, origin, VM, time range), search, server-side pages. The
// filters live in the URL (#/events?type=reboot&q=web), so a view can be shared or reloaded.
import type { EventSummary } from '../../hub/dashboard-types.js';
import { api, query } from '../api.js';
import { eventPath, relative, utc } from '../format.js';
import { navigate, useLive, useNow } from '../hooks.js';

const TYPES = ['freeze', 'reboot', 'redeploy', 'preempt', 'terminate', 'live-migrate', 'stop', 'retire', 'reimage', 'system-maintenance', 'rebalance', 'other']; // prettier-ignore
const STATUSES = ['scheduled', 'started', 'completed', 'canceled'];
const PROVIDERS = ['azure', 'azure-legacy', 'aws', 'gcp', 'alibaba', 'tencent', 'schedule'];
const LIMIT = 50;
const FIELDS = ['q', 'type', 'status', 'provider', 'origin', 'vm', 'since', 'until'] as const;

interface Page {
  events: EventSummary[];
  total: number;
  offset: number;
  capped: boolean;
}

/** datetime-local (local time, no zone) → ISO UTC, or undefined. */
const toIso = (v: string) => (v ? new Date(v).toISOString() : undefined);

export function Events({ params }: { params: URLSearchParams }) {
  const now = useNow(5000);
  const offset = Number(params.get('offset') ?? 0);
  const f = Object.fromEntries(FIELDS.map((k) => [k, params.get(k) ?? ''])) as Record<
    (typeof FIELDS)[number],
    string
  >;
  const key = params.toString();
  const page = useLive(
    () =>
      api<Page>(
        `/api/v1/dashboard/events${query({ ...f, since: toIso(f.since), until: toIso(f.until), limit: LIMIT, offset })}`,
      ),
    [key],
    ['transitions'],
    1000,
  );
  const set = (changes: Record<string, string | number>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v === '' || v === 0) next.delete(k);
      else next.set(k, String(v));
    }
    if (!('offset' in changes)) next.delete('offset');
    navigate(`#/events${next.toString() ? `?${next}` : ''}`);
  };
  const onSearch = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    set({ q: (form.elements.namedItem('q') as HTMLInputElement).value.trim() });
  };
  const select = (name: string, values: string[], label: string) => (
    <select
      aria-label={label}
      name={name}
      value={f[name as keyof typeof f]}
      onChange={(e) => set({ [name]: (e.currentTarget as HTMLSelectElement).value })}
    >
      <option value="">{label}: any</option>
      {values.map((v) => (
        <option value={v}>{v}</option>
      ))}
    </select>
  );
  const d = page.data;
  return (
    <div class="page" data-page="events">
      <section class="panel">
        <form class="filters" onSubmit={onSearch} key={key}>
          <input
            type="search"
            name="q"
            placeholder="search event id, VM, description…"
            defaultValue={f.q}
            aria-label="search"
          />
          <button type="submit">Search</button>
          {select('type', TYPES, 'type')}
          {select('status', STATUSES, 'state')}
          {select('provider', PROVIDERS, 'provider')}
          {select('origin', ['platform', 'user'], 'origin')}
          <input
            name="vm"
            placeholder="exact VM"
            defaultValue={f.vm}
            aria-label="VM"
            onChange={(e) => set({ vm: (e.currentTarget as HTMLInputElement).value.trim() })}
          />
          <label class="muted">
            updated from{' '}
            <input
              type="datetime-local"
              value={f.since}
              onChange={(e) => set({ since: (e.currentTarget as HTMLInputElement).value })}
            />
          </label>
          <label class="muted">
            to{' '}
            <input
              type="datetime-local"
              value={f.until}
              onChange={(e) => set({ until: (e.currentTarget as HTMLInputElement).value })}
            />
          </label>
          {FIELDS.some((k) => f[k]) && (
            <button type="button" class="link" onClick={() => navigate('#/events')}>
              clear
            </button>
          )}
        </form>
        {page.error && <p class="error">{page.error}</p>}
        {d && d.events.length === 0 && <p class="empty">No event matches.</p>}
        {d && d.events.length > 0 && (
          <table class="rows" data-table="events">
            <thead>
              <tr>
                <th>Type</th>
                <th>State</th>
                <th>VMs</th>
                <th>NotBefore</th>
                <th>Origin</th>
                <th>Provider · event id</th>
                <th>Updated</th>
              </tr>
            </thead>
            <tbody>
              {d.events.map((e) => (
                <tr data-event-key={e.key} onClick={() => navigate(eventPath(e.key))} class="clickable">
                  <td>
                    <span class={`dot type-${e.type}`} /> {e.type}
                  </td>
                  <td>
                    <span class={`badge status-${e.status}`}>{e.status}</span>
                  </td>
                  <td class="vms">{e.resources.join(', ') || e.reporters.join(', ')}</td>
                  <td title={utc(e.notBefore)}>{e.notBefore ? relative(e.notBefore, now) : '—'}</td>
                  <td>{e.origin}</td>
                  <td>
                    <a href={eventPath(e.key)}>
                      {e.provider} · <code>{e.eventId}</code>
                    </a>
                  </td>
                  <td title={utc(e.updatedAt)}>{relative(e.updatedAt, now)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {d && d.total > 0 && (
          <div class="pager">
            <button disabled={offset === 0} onClick={() => set({ offset: Math.max(0, offset - LIMIT) })}>
              ‹ Newer
            </button>
            <span class="muted" data-pager>
              {offset + 1}–{Math.min(offset + LIMIT, d.total)} of {d.total}
              {d.capped ? '+' : ''}
            </span>
            <button disabled={offset + LIMIT >= d.total} onClick={() => set({ offset: offset + LIMIT })}>
              Older ›
            </button>
          </div>
        )}
      </section>
    </div>
  );
}
