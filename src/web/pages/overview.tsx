// Overview: counts by state (held steps too), the timeline of upcoming maintenance, pool capacity,
// and agents that need attention (stale heartbeats, failing metadata polls).
import { useEffect, useState } from 'preact/hooks';
import type { Overview as OverviewT } from '../../hub/dashboard-types.js';
import { api, query } from '../api.js';
import { relative } from '../format.js';
import { useLive, useNow } from '../hooks.js';
import { PoolCapacity } from './pools.js';
import { HORIZON_NAMES, horizonMs, Legend, Timeline } from './timeline.js';

const ROWS = 50;

export function Overview() {
  const [offset, setOffset] = useState(0);
  const [vm, setVm] = useState('');
  const [horizon, setHorizon] = useState('auto');
  const [group, setGroup] = useState<'vm' | 'pool'>('vm');
  const now = useNow(1000);
  const o = useLive(
    () => api<OverviewT>(`/api/v1/dashboard/overview${query({ rows: ROWS, offset, vm, group })}`),
    [offset, vm, group],
    ['transitions', 'attempts', 'heartbeats'],
  );
  const d = o.data;
  useEffect(() => {
    // For the benchmark (bench/dashboard-overview.ts): time from navigation to the first overview with data.
    if (d && !performance.getEntriesByName('forewarn:overview-rendered').length)
      performance.mark('forewarn:overview-rendered');
  }, [d]);
  const plus = d?.counts.capped ? '+' : '';
  const rows = d?.timeline.rows ?? [];
  const span = horizonMs(horizon, rows, now);
  return (
    <div class="page" data-page="overview">
      {o.error && <p class="error">{o.error}</p>}
      <section class="cards">
        <Card label="Scheduled" value={d ? `${d.counts.scheduled}${plus}` : '…'} tone="info" id="scheduled" />
        <Card label="Started" value={d ? `${d.counts.started}${plus}` : '…'} tone="warn" id="started" />
        <Card
          label="Held"
          value={d ? `${d.counts.held}${plus}` : '…'}
          note="pool full, outside window, or blocked"
          tone={d?.counts.held ? 'warn' : undefined}
          id="held"
        />
        <Card label="Failing steps" value={d ? `${d.counts.failing}` : '…'} tone="warn" id="failing" />
        <Card
          label="Dead-lettered"
          value={d ? `${d.counts.deadLettered}${plus}` : '…'}
          tone={d?.counts.deadLettered ? 'bad' : undefined}
          href="#/dead-letter"
          id="dead"
        />
        <Card
          label="Agents"
          value={d ? `${d.agents.total}` : '…'}
          note={d ? `${d.agents.stale} stale · ${d.agents.failing} failing polls` : undefined}
          tone={d && (d.agents.stale || d.agents.failing) ? 'warn' : undefined}
          href="#/fleet"
          id="agents"
        />
      </section>

      <section class="panel">
        <div class="panel-head">
          <h2>Upcoming maintenance</h2>
          <span class="muted">
            {d
              ? `${plural(d.timeline.events, 'event')} on ${plural(d.timeline.totalRows, d.timeline.group === 'pool' ? 'row' : 'VM')}`
              : ''}
          </span>
          <span class="grow" />
          <input
            type="search"
            placeholder="filter VMs"
            value={vm}
            onInput={(e) => {
              setVm((e.currentTarget as HTMLInputElement).value);
              setOffset(0);
            }}
            aria-label="filter VMs"
          />
          <select
            value={group}
            onChange={(e) => {
              setGroup((e.currentTarget as HTMLSelectElement).value as 'vm' | 'pool');
              setOffset(0);
            }}
            aria-label="one row per"
          >
            <option value="vm">row per VM</option>
            <option value="pool">row per pool</option>
          </select>
          <select
            value={horizon}
            onChange={(e) => setHorizon((e.currentTarget as HTMLSelectElement).value)}
            aria-label="time window"
          >
            {HORIZON_NAMES.map((h) => (
              <option value={h}>{h === 'auto' ? 'window: auto' : `next ${h}`}</option>
            ))}
          </select>
        </div>
        {d && rows.length === 0 && <p class="empty">No maintenance scheduled. All quiet.</p>}
        {rows.length > 0 && (
          <>
            <Timeline rows={rows} now={now} horizon={span} />
            <Legend rows={rows} />
          </>
        )}
        {d && d.timeline.totalRows > ROWS && (
          <div class="pager">
            <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - ROWS))}>
              ‹ Sooner
            </button>
            <span class="muted">
              rows {offset + 1}–{Math.min(offset + ROWS, d.timeline.totalRows)} of {d.timeline.totalRows}
            </span>
            <button disabled={offset + ROWS >= d.timeline.totalRows} onClick={() => setOffset(offset + ROWS)}>
              Later ›
            </button>
          </div>
        )}
      </section>

      <div class="two">
        <PoolCapacity now={now} />
        <section class="panel">
          <h2>Agents needing attention</h2>
          {d && d.agents.problems.length === 0 && (
            <p class="empty">Every agent is heartbeating and polling.</p>
          )}
          {d && d.agents.problems.length > 0 && (
            <table data-table="agent-problems">
              <thead>
                <tr>
                  <th>VM</th>
                  <th>Last heartbeat</th>
                  <th>Problem</th>
                </tr>
              </thead>
              <tbody>
                {d.agents.problems.map((a) => (
                  <tr>
                    <td>{a.vm}</td>
                    <td>{relative(a.lastHeartbeatAt, now)}</td>
                    <td>
                      {a.stale && <span class="badge bad">stale heartbeat</span>}{' '}
                      {a.failing.map((f) => (
                        <span class="badge warn" title={f.lastError}>
                          {f.source}: {f.consecutiveFailures} failed polls
                        </span>
                      ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>
    </div>
  );
}

function Card(p: {
  label: string;
  value: string | number;
  note?: string;
  tone?: 'info' | 'warn' | 'bad';
  href?: string;
  id: string;
}) {
  const inner = (
    <>
      <div class="card-value">{p.value}</div>
      <div class="card-label">{p.label}</div>
      {p.note && <div class="card-note muted">{p.note}</div>}
    </>
  );
  return p.href ? (
    <a class={`card ${p.tone ?? ''}`} href={p.href} data-count={p.id}>
      {inner}
    </a>
  ) : (
    <div class={`card ${p.tone ?? ''}`} data-count={p.id}>
      {inner}
    </div>
  );
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
