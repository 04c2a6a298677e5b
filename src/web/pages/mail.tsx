// Mail (demo mode): what the demo's capture SMTP server received, from GET /api/v1/demo/mail.
// A hub without mail capture answers 404 there, and the page says so.
import { api, ApiError } from '../api.js';
import { relative, utc } from '../format.js';
import { useLive, useNow } from '../hooks.js';

interface Mail {
  from?: string;
  to?: string | string[];
  subject?: string;
  date?: string;
  receivedAt?: string;
  text?: string;
}

type Result = { enabled: false } | { enabled: true; mails: Mail[] };

async function load(): Promise<Result> {
  try {
    const body = await api<unknown>('/api/v1/demo/mail');
    const b = body as { messages?: Mail[]; mails?: Mail[] } | Mail[];
    const mails = Array.isArray(b) ? b : (b.messages ?? b.mails ?? []);
    return { enabled: true, mails };
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return { enabled: false };
    throw err;
  }
}

export function Mail() {
  const now = useNow(5000);
  const r = useLive(load, [], ['attempts'], 1000);
  return (
    <div class="page" data-page="mail">
      <section class="panel">
        <h2>Captured mail</h2>
        {r.error && <p class="error">{r.error}</p>}
        {r.data && !r.data.enabled && (
          <p class="empty" data-mail="disabled">
            Mail capture is not enabled on this hub. <code>forewarn demo</code> captures the mail its rules
            send.
          </p>
        )}
        {r.data?.enabled && r.data.mails.length === 0 && <p class="empty">No mail received yet.</p>}
        {r.data?.enabled &&
          r.data.mails.map((m) => {
            const at = m.receivedAt ?? m.date;
            return (
              <article class="mail">
                <header>
                  <strong>{m.subject ?? '(no subject)'}</strong>
                  <span class="muted" title={utc(at)}>
                    {at ? relative(at, now) : ''}
                  </span>
                </header>
                <div class="muted small">
                  from {m.from ?? '?'} to {Array.isArray(m.to) ? m.to.join(', ') : (m.to ?? '?')}
                </div>
                {m.text && <pre class="mail-body">{m.text.slice(0, 4000)}</pre>}
              </article>
            );
          })}
      </section>
    </div>
  );
}
