// A small JSON client for our own APIs, used by CLI subcommands. Errors carry the server's message.
import { request } from 'undici';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export async function callJson(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
  let res;
  try {
    res = await request(new URL(path, base.endsWith('/') ? base : `${base}/`), {
      method: method as 'GET',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
  } catch (err) {
    throw new ApiError(0, `cannot reach ${base}: ${(err as Error).message}`);
  }
  const text = await res.body.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  if (res.statusCode >= 400) {
    const message = (parsed as { message?: string; error?: string } | undefined)?.message ?? text;
    throw new ApiError(res.statusCode, `${method} ${path}: ${res.statusCode} ${message}`);
  }
  return parsed;
}
