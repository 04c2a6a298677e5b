// Dead-letter: steps that gave up, with why. Operators (operate, admin) can redrive one or all;
// read-only users see no buttons (and the API refuses them anyway).
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import type { Me } from '../app.js';
import { eventPath, relative, utc } from '../format.js';
import { useLive, useNow } from '../hooks.js';

interface DeadStep {
  id: number;
  name: string;
  action: string;
  rule: string;
  eventKey: string;
  vm: string;
  phase: string;
  attempts: number;
  deadReason?: string;
  lastError?: string;
  updatedAt: string;
}

export function DeadLetter({ me }: { me: Me }) {
  const now = useNow(5000);
  const list = useLive(() => api<{ steps: DeadStep[] }>('/api/v1/dashboard/dead-letter'), [], ['attempts']);
  const [message, setMessage] = useState<string>();
  const canRedrive = me.role === 'operate' || me.role === 'admin';
  const redrive = async (ids?: number[]) => {
    try {
      const r = await api<{ redriven: number }>('/api/v1/dead-letter/redrive', {
        method: 'POST',
        body: ids ? { ids } : {},
      });
      setMessage(`Redrove ${r.redriven} step${r.redriven === 1 ? '' : 's'}.`);
    } catch (err) {
      setMessage(`Redrive failed: ${(err as Error).message}`);
    }
    list.reload();
  };
  const steps = list.data?.steps ?? [];
  return (
    <div class="page" data-page="dead-letter">
      <section class="panel">
        <div class="panel-head">
          <h2>Dead-lettered steps</h2>
          <span class="muted">{list.data ? `${steps.length}${steps.length === 1000 ? '+' : ''}` : ''}</span>
          <span class="grow" />
          {canRedrive && steps.length > 0 && (
            <button data-action="redrive-all" onClick={() => void redrive()}>
              Redrive all
            </button>
          )}
        </div>
        {message && (
          <p class="note" role="status">
            {message}
          </p>
        )}
        {list.error && <p class="error">{list.error}</p>}
        {list.data && steps.length === 0 && <p class="empty">Nothing is dead-lettered.</p>}
        {steps.length > 0 && (
          <table data-table="dead-letter">
            <thead>
              <tr>
                <th>Step</th>
                <th>VM</th>
                <th>Event</th>
                <th>Reason</th>
                <th>Attempts</th>
                <th>Since</th>
                {canRedrive && <th />}
              </tr>
            </thead>
            <tbody>
              {steps.map((s) => (
                <tr data-step-id={s.id}>
                  <td>
                    {s.rule}/{s.name} <span class="muted">{s.action}</span>
                  </td>
                  <td>{s.vm}</td>
                  <td>
                    <a href={eventPath(s.eventKey)}>{s.eventKey}</a>
                  </td>
                  <td>
                    <span class="badge bad">{s.deadReason ?? 'dead'}</span>
                    {s.lastError && <div class="muted small">{s.lastError}</div>}
                  </td>
                  <td class="num">{s.attempts}</td>
                  <td title={utc(s.updatedAt)}>{relative(s.updatedAt, now)}</td>
                  {canRedrive && (
                    <td>
                      <button data-action="redrive" onClick={() => void redrive([s.id])}>
                        Redrive
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {!canRedrive && steps.length > 0 && (
          <p class="muted small">Your role ({me.role}) can look but not redrive; operate or admin can.</p>
        )}
      </section>
    </div>
  );
}
