// The live feed from GET /api/v1/stream (Server-Sent Events). EventSource cannot send headers, so
// each connection first trades the token for a single-use ticket; on any error the connection is
// dropped and reopened with a fresh ticket (the old one is spent), backing off to 10 s.
import { api } from './api.js';

export type StreamKind = 'transitions' | 'attempts' | 'commands' | 'heartbeats' | 'resync';
export type StreamState = 'connecting' | 'live' | 'reconnecting';

type Listener = (kind: StreamKind, data: unknown) => void;
const listeners = new Set<Listener>();
const stateListeners = new Set<(s: StreamState) => void>();
let state: StreamState = 'connecting';
let source: EventSource | undefined;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let failures = 0;
let running = false;

function setState(s: StreamState): void {
  state = s;
  for (const fn of stateListeners) fn(s);
}

function emit(kind: StreamKind, data: unknown): void {
  for (const fn of listeners) fn(kind, data);
}

async function open(): Promise<void> {
  if (!running) return;
  try {
    const { ticket } = await api<{ ticket: string }>('/api/v1/stream/tickets', { method: 'POST' });
    if (!running) return;
    const es = new EventSource(`/api/v1/stream?ticket=${encodeURIComponent(ticket)}`);
    source = es;
    es.addEventListener('hello', () => {
      failures = 0;
      setState('live');
      emit('resync', null); // whatever happened while we were away: refetch
    });
    // Another replica changed something (shared store): refetch, as after a reconnect.
    es.addEventListener('changed', () => emit('resync', null));
    for (const kind of ['transitions', 'attempts', 'commands', 'heartbeats'] as const)
      es.addEventListener(kind, (m) => emit(kind, JSON.parse((m as MessageEvent<string>).data)));
    es.onerror = () => {
      es.close();
      if (source === es) retry();
    };
  } catch {
    retry();
  }
}

function retry(): void {
  if (!running) return;
  source = undefined;
  setState('reconnecting');
  const wait = Math.min(10_000, 500 * 2 ** failures++);
  retryTimer = setTimeout(() => void open(), wait);
}

export function startStream(): void {
  if (running) return;
  running = true;
  setState('connecting');
  void open();
}

export function stopStream(): void {
  running = false;
  clearTimeout(retryTimer);
  source?.close();
  source = undefined;
}

export function onStream(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function onStreamState(fn: (s: StreamState) => void): () => void {
  stateListeners.add(fn);
  fn(state);
  return () => stateListeners.delete(fn);
}
