// The shell: login gate, navigation, live-stream indicator, and the page the hash route names.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, hasToken, onLoggedOut, setToken } from './api.js';
import { useRoute } from './hooks.js';
import { DeadLetter } from './pages/dead-letter.js';
import { EventPage } from './pages/event.js';
import { Events } from './pages/events.js';
import { Fleet } from './pages/fleet.js';
import { Login } from './pages/login.js';
import { Mail } from './pages/mail.js';
import { Overview } from './pages/overview.js';
import { Rules } from './pages/rules.js';
import { onStreamState, startStream, stopStream, type StreamState } from './stream.js';

export interface Me {
  name: string;
  role: 'read' | 'operate' | 'admin';
}

const PAGES = [
  ['', 'Overview'],
  ['events', 'Events'],
  ['rules', 'Rules'],
  ['dead-letter', 'Dead-letter'],
  ['fleet', 'Fleet'],
  ['mail', 'Mail'],
] as const;

export function App() {
  const [me, setMe] = useState<Me | null | undefined>(hasToken() ? undefined : null);
  const route = useRoute();
  const [live, setLive] = useState<StreamState>('connecting');

  useEffect(() => onLoggedOut(() => setMe(null)), []);
  useEffect(() => {
    if (me !== undefined) return;
    api<Me>('/api/v1/dashboard/me').then(setMe, (err: unknown) => {
      if (!(err instanceof ApiError) || err.status === 401 || err.status === 403) setToken(null);
      setMe(null);
    });
  }, [me]);
  useEffect(() => {
    if (!me) return;
    startStream();
    const off = onStreamState(setLive);
    return () => {
      off();
      stopStream();
    };
  }, [me]);

  if (me === undefined) return <div class="splash">Loading…</div>;
  if (me === null) return <Login onLogin={setMe} />;

  const page = route.path[0] ?? '';
  const logout = () => {
    setToken(null);
    setMe(null);
  };
  let body;
  if (page === 'events' && route.path.length >= 3)
    body = <EventPage provider={route.path[1]!} eventId={route.path.slice(2).join('/')} />;
  else if (page === 'events') body = <Events params={route.params} />;
  else if (page === 'rules') body = <Rules />;
  else if (page === 'dead-letter') body = <DeadLetter me={me} />;
  else if (page === 'fleet') body = <Fleet />;
  else if (page === 'mail') body = <Mail />;
  else body = <Overview />;

  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href="#/">
          <img src="/favicon.svg" alt="" width="22" height="22" /> forewarn
        </a>
        <nav>
          {PAGES.map(([path, label]) => (
            <a href={`#/${path}`} class={page === path ? 'active' : ''} data-nav={path || 'overview'}>
              {label}
            </a>
          ))}
        </nav>
        <span class={`live ${live}`} data-live={live} title="live updates from the hub">
          {live === 'live' ? '● live' : live === 'connecting' ? '○ connecting' : '○ reconnecting'}
        </span>
        <span class="who" data-role={me.role}>
          {me.name} <span class="badge">{me.role}</span>
        </span>
        <button class="link" onClick={logout}>
          Log out
        </button>
      </header>
      <main>{body}</main>
    </div>
  );
}
