// Fleet: every agent that ever heartbeated, its VM identity, version, last heartbeat, metadata
// poll latency and health.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { relative, utc } from '../format.js';
import { useLive, useNow } from '../hooks.js';

interface SourceHealth {
  source?: string;
  consecutiveFailures?: number;
  lastError?: string;
  lastLatencyMs?: number;
  polls?: number;
  lastSuccessAt?: string;
}
interface Vm {
  name: string;
  identity: { name?: string; tags?: Record<string, string>; [k: string]: unknown };
  agentVersion?: string;
  lastHeartbeatAt?: string;
  health?: { sources?: SourceHealth[]; outbox?: number };
  stale: boolean;
}

const PER_PAGE = 100;

/** What the agent says about its VM (tags, zone, size…), as short `key=value` chips. */
function identityChips(identity: Vm['identity']): string[] {
  const chips: string[] = [];
  for (const [k, v] of Object.entries(identity)) {
    if (k === 'name' || k === 'tags' || v === undefined || v === null || typeof v === 'object') continue;
    chips.push(`${k}=${String(v)}`);
  }
  for (const [k, v] of Object.entries(identity.tags ?? {})) chips.push(`${k}=${String(v)}`);
  return chips.length ? chips : ['—'];
}

export function Fleet() {
  const now = useNow(2000);
  const fleet = useLive(() => api<{ vms: Vm[] }>('/api/v1/fleet'), [], ['heartbeats'], 2000);
  const [filter, setFilter] = useState('');
  const [page, setPage] = useState(0);
  const needle = filter.toLowerCase();
  const vms = (fleet.data?.vms ?? [])
    .filter((v) => !needle || v.name.toLowerCase().includes(needle))
    .sort((a, b) => Number(b.stale) - Number(a.stale) || a.name.localeCompare(b.name));
  const shown = vms.slice(page * PER_PAGE, (page + 1) * PER_PAGE);
  return (
    <div class="page" data-page="fleet">
      <section class="panel">
        <div class="panel-head">
          <h2>Agents</h2>
          <span class="muted">
            {fleet.data
              ? `${fleet.data.vms.length} VMs, ${fleet.data.vms.filter((v) => v.stale).length} stale`
              : ''}
          </span>
          <span class="grow" />
          <input
            type="search"
            placeholder="filter VMs"
            aria-label="filter VMs"
            value={filter}
            onInput={(e) => {
              setFilter((e.currentTarget as HTMLInputElement).value);
              setPage(0);
            }}
          />
        </div>
        {fleet.error && <p class="error">{fleet.error}</p>}
        {fleet.data && vms.length === 0 && <p class="empty">No agent has reported yet.</p>}
        {shown.length > 0 && (
          <table data-table="fleet">
            <thead>
              <tr>
                <th>VM</th>
                <th>Identity</th>
                <th>Agent</th>
                <th>Last heartbeat</th>
                <th class="num">Poll latency</th>
                <th>Metadata</th>
                <th class="num">Outbox</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((v) => {
                const sources = v.health?.sources ?? [];
                const failing = sources.filter((s) => (s.consecutiveFailures ?? 0) > 0);
                const latency = sources.map((s) => s.lastLatencyMs).filter((x) => x !== undefined);
                return (
                  <tr data-vm={v.name}>
                    <td>
                      <strong>{v.name}</strong>
                    </td>
                    <td class="small">
                      {identityChips(v.identity).map((c) => (
                        <span class="chip">{c}</span>
                      ))}
                    </td>
                    <td class="small">{v.agentVersion ?? '—'}</td>
                    <td title={utc(v.lastHeartbeatAt)}>
                      {relative(v.lastHeartbeatAt, now)} {v.stale && <span class="badge bad">stale</span>}
                    </td>
                    <td class="num">{latency.length ? `${Math.max(...(latency as number[]))} ms` : '—'}</td>
                    <td data-health={failing.length ? 'failing' : 'ok'}>
                      {sources.length === 0 ? (
                        <span class="muted">no report</span>
                      ) : failing.length ? (
                        failing.map((s) => (
                          <span class="badge warn" title={s.lastError}>
                            {s.source}: {s.consecutiveFailures} failed
                          </span>
                        ))
                      ) : (
                        <span class="badge ok">ok</span>
                      )}
                    </td>
                    <td class="num">{v.health?.outbox ?? '—'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        {vms.length > PER_PAGE && (
          <div class="pager">
            <button disabled={page === 0} onClick={() => setPage(page - 1)}>
              ‹ Previous
            </button>
            <span class="muted">
              {page * PER_PAGE + 1}–{Math.min((page + 1) * PER_PAGE, vms.length)} of {vms.length}
            </span>
            <button disabled={(page + 1) * PER_PAGE >= vms.length} onClick={() => setPage(page + 1)}>
              Next ›
            </button>
          </div>
        )}
      </section>
    </div>
  );
}
