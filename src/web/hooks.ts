// Small hooks the pages share: the hash route, a ticking clock, and data that refetches when the
// live stream says something relevant changed (debounced, so a burst is one request).
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { onStream, type StreamKind } from './stream.js';

export interface Route {
  path: string[];
  params: URLSearchParams;
}

function parseHash(): Route {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path = '', search = ''] = raw.split('?');
  return {
    path: path.split('/').filter(Boolean).map(decodeURIComponent),
    params: new URLSearchParams(search),
  };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(parseHash);
  useEffect(() => {
    const on = () => setRoute(parseHash());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function navigate(hash: string): void {
  location.hash = hash;
}

export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

export interface Loaded<T> {
  data?: T;
  error?: string;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads `fetcher()` now and whenever `deps` change; reloads after stream messages of the given
 * kinds (and after a reconnect), at once and then at most once per `debounceMs`.
 */
export function useLive<T>(
  fetcher: () => Promise<T>,
  deps: unknown[],
  kinds: StreamKind[],
  debounceMs = 250,
): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const seq = useRef(0);
  const load = useCallback(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    fetcher().then(
      (data) => mine === seq.current && setState({ data, loading: false }),
      (err: Error) => mine === seq.current && setState((s) => ({ ...s, error: err.message, loading: false })),
    );
  }, deps);
  useEffect(load, [load]);
  useEffect(() => {
    // Throttled, leading edge: the first change reloads at once, a burst at most once per debounceMs.
    let timer: ReturnType<typeof setTimeout> | undefined;
    let last = 0;
    const off = onStream((kind) => {
      if (timer || (kind !== 'resync' && !kinds.includes(kind))) return;
      timer = setTimeout(
        () => {
          timer = undefined;
          last = Date.now();
          load();
        },
        Math.max(0, last + debounceMs - Date.now()),
      );
    });
    return () => {
      off();
      clearTimeout(timer);
    };
  }, [load, kinds.join(), debounceMs]);
  return { ...state, reload: load };
}
