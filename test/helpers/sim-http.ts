// A tiny fetch wrapper for tests that drive a simulator over real HTTP.

/** Response bodies are loosely typed: tests assert on their shape. */

export type Loose = any;

export interface Reply<T = Loose> {
  status: number;
  body: T;
  text: string;
}

export function client(base: string) {
  async function send<T = Loose>(
    method: string,
    path: string,
    init: { json?: unknown; raw?: string; headers?: Record<string, string> } = {},
  ): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...init.headers };
    let body: string | undefined;
    if (init.json !== undefined) body = JSON.stringify(init.json);
    if (init.raw !== undefined) body = init.raw;
    if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(new URL(path, base), { method, headers, body });
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed as T, text };
  }
  return {
    send,
    get: <T = Loose>(path: string) => send<T>('GET', path),
    post: <T = Loose>(path: string, json?: unknown) =>
      send<T>('POST', path, json === undefined ? {} : { json }),
    patch: <T = Loose>(path: string, json: unknown) => send<T>('PATCH', path, { json }),
    put: <T = Loose>(path: string, json: unknown) => send<T>('PUT', path, { json }),
    del: <T = Loose>(path: string) => send<T>('DELETE', path),
    /** Scheduled Events as a VM reads them, through its metadata endpoint. */
    metadata: (vm: string, init: { method?: string; json?: unknown } = {}) =>
      send(init.method ?? 'GET', `/vm/${vm}/metadata/scheduledevents?api-version=2020-07-01`, {
        headers: { Metadata: 'true' },
        json: init.json,
      }),
  };
}

export type Client = ReturnType<typeof client>;
