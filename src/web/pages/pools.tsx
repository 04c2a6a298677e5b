// The Overview's pool capacity panel: each pool's budget as GET /api/v1/pools reports it (slots
// in use of the most it allows, who holds them) and the steps waiting for a slot, with why; and
// steps a rule's window or blockers hold on VMs of no pool.
import type { HeldStep, PoolsAnswer } from '../../hub/dashboard-types.js';
import { api } from '../api.js';
import { eventPath, relative } from '../format.js';
import { useLive } from '../hooks.js';

export function PoolCapacity(p: { now: number }) {
  const pools = useLive(
    () => api<PoolsAnswer>('/api/v1/pools'),
    [],
    ['transitions', 'attempts', 'heartbeats'],
  );
  const list = pools.data?.pools;
  const outside = pools.data?.outsidePools;
  return (
    <section class="panel">
      <h2>Pool capacity</h2>
      {pools.error && <p class="error">{pools.error}</p>}
      {list?.length === 0 && (
        <p class="empty" data-budgets="none">
          No budgets configured: no pool limits how many of its VMs may be out at once.
        </p>
      )}
      {list && list.length > 0 && (
        <table data-table="pools">
          <thead>
            <tr>
              <th>Pool</th>
              <th>Out of service</th>
              <th>Held</th>
            </tr>
          </thead>
          <tbody>
            {list.map((pool) => (
              <tr data-pool={pool.name} data-in-use={pool.inUse.length} data-max={pool.max}>
                <td>{pool.name}</td>
                <td>
                  <span class={`badge ${pool.inUse.length >= pool.max ? 'warn' : 'ok'}`} data-capacity>
                    {pool.inUse.length} of {pool.max}
                    {typeof pool.maxUnavailable === 'string' ? ` (${pool.maxUnavailable})` : ''}
                  </span>{' '}
                  <span class="muted">{pool.inUse.map((s) => s.vm).join(', ')}</span>
                </td>
                <td>
                  {pool.held.length === 0 && <span class="muted">none</span>}
                  {pool.held.map((h) => (
                    <Held h={h} now={p.now} />
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {outside && outside.length > 0 && (
        <div data-held-outside>
          <h3>Held, in no pool</h3>
          {outside.map((h) => (
            <Held h={h} now={p.now} />
          ))}
        </div>
      )}
    </section>
  );
}

function Held(p: { h: HeldStep; now: number }) {
  const h = p.h;
  return (
    <div data-held={h.vm} title={h.reason}>
      <a href={eventPath(h.eventKey)}>{h.vm}</a> {h.rule}/{h.step}{' '}
      <span class="muted" data-held-reason>
        {h.reason} · next check {relative(h.nextCheck, p.now)}
      </span>
    </div>
  );
}
