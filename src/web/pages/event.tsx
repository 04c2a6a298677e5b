// One event: its summary, everything that happened to it in one vertical timeline (transitions,
// rule matches, step attempts, commands), the steps with their attempts, and the raw provider
// document. Updates live as steps run.
import type { EventDetail } from '../../hub/dashboard-types.js';
import { api } from '../api.js';
import { duration, relative, utc } from '../format.js';
import { useLive, useNow } from '../hooks.js';

export function EventPage({ provider, eventId }: { provider: string; eventId: string }) {
  const now = useNow(1000);
  const path = `/api/v1/dashboard/events/${encodeURIComponent(provider)}/${encodeURIComponent(eventId)}`;
  const d = useLive(() => api<EventDetail>(path), [path], ['transitions', 'attempts', 'commands']);
  if (d.error && !d.data)
    return (
      <div class="page">
        <p class="error">{d.error}</p>
        <a href="#/events">‹ all events</a>
      </div>
    );
  if (!d.data) return <div class="page muted">Loading…</div>;
  const { event: e, runs, timeline } = d.data;
  const start = e.notBefore ? Date.parse(e.notBefore) : undefined;
  return (
    <div class="page" data-page="event" data-event-key={e.key}>
      <a href="#/events" class="muted">
        ‹ all events
      </a>
      <section class="panel event-head">
        <h1>
          <span class={`dot type-${e.type}`} /> {e.type} of {e.resources.join(', ') || e.reporters.join(', ')}
          <span class={`badge status-${e.status}`} data-status={e.status}>
            {e.status}
          </span>
        </h1>
        <dl class="facts">
          <dt>NotBefore</dt>
          <dd>
            {utc(e.notBefore)}{' '}
            {start && (
              <strong data-countdown>{start > now ? `in ${duration(start - now)}` : 'passed'}</strong>
            )}
          </dd>
          <dt>Duration</dt>
          <dd>
            {e.durationSeconds === undefined || e.durationSeconds < 0
              ? 'unknown'
              : duration(e.durationSeconds * 1000)}
          </dd>
          <dt>Origin</dt>
          <dd>{e.origin}</dd>
          <dt>Provider</dt>
          <dd>
            {e.provider} · <code>{e.eventId}</code>
          </dd>
          <dt>Reported by</dt>
          <dd>{e.reporters.join(', ')}</dd>
          <dt>First seen</dt>
          <dd>
            {utc(e.firstSeenAt)} ({relative(e.firstSeenAt, now)})
          </dd>
          {e.description && (
            <>
              <dt>Description</dt>
              <dd>{e.description}</dd>
            </>
          )}
        </dl>
      </section>

      <div class="two wide-left">
        <section class="panel">
          <h2>History</h2>
          <ol class="vtimeline" data-list="history">
            {timeline.map((t) => (
              <li class={`${t.kind} ${t.tone}`} data-kind={t.kind}>
                <time title={utc(t.at)}>{t.at.slice(11, 19)}</time>
                <div>
                  <div class="vt-title">{t.title}</div>
                  {t.detail && <div class="vt-detail muted">{t.detail}</div>}
                </div>
              </li>
            ))}
          </ol>
        </section>
        <section class="panel">
          <h2>Matched rules and steps</h2>
          {runs.length === 0 && <p class="empty">No rule matched this event.</p>}
          {runs.map((r) => (
            <div class="run" data-rule={r.rule}>
              <h3>
                {r.rule}{' '}
                <span class="muted">
                  ({r.phase} for {r.vm})
                </span>
              </h3>
              <table data-table="steps">
                <tbody>
                  {r.steps.map((s) => (
                    <tr data-step={s.name} data-step-status={s.status}>
                      <td>
                        {s.name} <span class="muted">{s.action}</span>
                      </td>
                      <td>
                        <span class={`badge step-${s.status}`}>{s.status}</span>
                        {s.deadReason && <span class="muted"> {s.deadReason}</span>}
                      </td>
                      <td class="muted">
                        {s.attempts.length} attempt{s.attempts.length === 1 ? '' : 's'}
                        {s.attempts.length > 0 &&
                          `, last ${s.attempts[s.attempts.length - 1]!.durationMs} ms`}
                        {s.status === 'pending' && !s.attempts.length && ` · due ${relative(s.dueAt, now)}`}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ))}
        </section>
      </div>

      <section class="panel">
        <h2>Provider document</h2>
        <pre class="raw" data-raw>
          {JSON.stringify(e.raw, null, 2)}
        </pre>
      </section>
    </div>
  );
}
