// Rules: what is loaded, how often each matched, and a form that explains, clause by clause, how a
// sample event fares against every rule (POST /api/v1/rules/test).
import { useState } from 'preact/hooks';
import type { RuleView } from '../../hub/dashboard-types.js';
import { api } from '../api.js';
import { useLive } from '../hooks.js';

interface TestResult {
  results: {
    rule: string;
    matched: boolean;
    clauses: { clause: string; matched: boolean; reason: string }[];
  }[];
}

const SAMPLE = {
  provider: 'azure',
  eventId: 'sample-0001',
  vm: 'web-01',
  type: 'reboot',
  status: 'scheduled',
  notBefore: new Date(Date.now() + 15 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
  durationSeconds: 300,
  origin: 'platform',
  resources: ['web-01'],
  mine: true,
};

function matchText(match: unknown): string {
  return Object.entries(match as Record<string, unknown>)
    .map(
      ([k, v]) =>
        `${k}: ${Array.isArray(v) && v.every((x) => typeof x === 'string') ? v.join(', ') : JSON.stringify(v)}`,
    )
    .join(' · ');
}

export function Rules() {
  const rules = useLive(() => api<{ rules: RuleView[] }>('/api/v1/dashboard/rules'), [], ['attempts'], 2000);
  const [doc, setDoc] = useState(JSON.stringify(SAMPLE, null, 2));
  const [transition, setTransition] = useState('scheduled');
  const [result, setResult] = useState<TestResult>();
  const [error, setError] = useState<string>();
  const test = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    let event: unknown;
    try {
      event = JSON.parse(doc);
    } catch (err) {
      setResult(undefined);
      return setError(`The event is not valid JSON: ${(err as Error).message}`);
    }
    try {
      setResult(await api<TestResult>('/api/v1/rules/test', { method: 'POST', body: { event, transition } }));
    } catch (err) {
      setResult(undefined);
      setError((err as Error).message);
    }
  };
  return (
    <div class="page" data-page="rules">
      <section class="panel">
        <h2>Loaded rules</h2>
        {rules.error && <p class="error">{rules.error}</p>}
        {rules.data && rules.data.rules.length === 0 && <p class="empty">No rules are loaded.</p>}
        {rules.data && rules.data.rules.length > 0 && (
          <table data-table="rules">
            <thead>
              <tr>
                <th>Rule</th>
                <th>Matches</th>
                <th>Steps</th>
                <th class="num">Matched / evaluated</th>
              </tr>
            </thead>
            <tbody>
              {rules.data.rules.map((r) => (
                <tr data-rule={r.name}>
                  <td>
                    <strong>{r.name}</strong> <span class="badge">{r.source}</span>
                    {r.description && <div class="muted small">{r.description}</div>}
                  </td>
                  <td class="small">{matchText(r.match)}</td>
                  <td class="small">
                    {r.steps.map((s) => `${s.name} (${s.action})`).join(' → ')}
                    {r.undo.length > 0 && (
                      <div class="muted">undo: {r.undo.map((s) => s.name).join(' → ')}</div>
                    )}
                  </td>
                  <td class="num" data-counts>
                    {r.counts.matched} / {r.counts.evaluated}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section class="panel">
        <h2>Test an event against the rules</h2>
        <form class="rule-test" onSubmit={test}>
          <textarea
            name="event"
            rows={14}
            spellcheck={false}
            value={doc}
            onInput={(e) => setDoc((e.currentTarget as HTMLTextAreaElement).value)}
            aria-label="event JSON"
          />
          <div class="row">
            <label>
              transition{' '}
              <select
                value={transition}
                onChange={(e) => setTransition((e.currentTarget as HTMLSelectElement).value)}
              >
                {['scheduled', 'rescheduled', 'started', 'completed', 'canceled'].map((t) => (
                  <option value={t}>{t}</option>
                ))}
              </select>
            </label>
            <button type="submit">Explain</button>
          </div>
        </form>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        {result && (
          <ul class="explain" data-list="explain">
            {result.results.map((r) => (
              <li data-rule={r.rule} data-matched={String(r.matched)}>
                <strong class={r.matched ? 'ok' : 'bad'}>
                  {r.matched ? '✓ matches' : '✗ does not match'} {r.rule}
                </strong>
                <ul>
                  {r.clauses.map((c) => (
                    <li class={c.matched ? 'ok' : 'bad'}>
                      {c.matched ? '✓' : '✗'} {c.clause}: {c.reason}
                    </li>
                  ))}
                </ul>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
