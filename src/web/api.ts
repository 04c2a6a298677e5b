// Talks to the hub's API with the operator token. The token lives in sessionStorage (this tab
// only, gone when it closes), is sent only as an Authorization header, and is never rendered.
const KEY = 'forewarn.token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let token: string | null = sessionStorage.getItem(KEY);
const loggedOut = new Set<() => void>();

export function hasToken(): boolean {
  return token !== null;
}

export function setToken(value: string | null): void {
  token = value;
  if (value === null) sessionStorage.removeItem(KEY);
  else sessionStorage.setItem(KEY, value);
}

/** Called when the hub no longer accepts the token (401): the app shows the login again. */
export function onLoggedOut(fn: () => void): () => void {
  loggedOut.add(fn);
  return () => loggedOut.delete(fn);
}

export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown; token?: string } = {},
): Promise<T> {
  const bearer = init.token ?? token;
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers: {
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  if (!res.ok) {
    const message =
      (body as { message?: string } | undefined)?.message ?? `${res.status} ${res.statusText || 'error'}`;
    if (res.status === 401 && init.token === undefined && token !== null) {
      setToken(null);
      for (const fn of loggedOut) fn();
    }
    throw new ApiError(res.status, message);
  }
  return body as T;
}

/** A query string from the defined values of `params`. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
