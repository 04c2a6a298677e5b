// HTTP to a link-local metadata service. A dedicated undici Agent means HTTP_PROXY/HTTPS_PROXY
// are never consulted: IMDS must not go through a proxy (metadata-apis.md §1.1).
import { Agent, request, errors } from 'undici';
import { parseRfc1123 } from '../core/time.js';
import { SourceError } from './source.js';

const direct = new Agent({ keepAliveTimeout: 10_000, connections: 4 });

export interface MetadataResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface MetadataRequest {
  method?: 'GET' | 'POST' | 'PUT';
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Largest body we accept; a metadata document is small, a huge one is garbage. */
  maxBytes?: number;
}

export async function metadataRequest(url: string, req: MetadataRequest): Promise<MetadataResponse> {
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
  const max = req.maxBytes ?? 1024 * 1024;
  try {
    const res = await request(url, {
      method: req.method ?? 'GET',
      headers: req.headers,
      body: req.body,
      signal,
      dispatcher: direct,
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > max) {
        res.body.destroy();
        throw new SourceError('parse', `response from ${url} is larger than ${max} bytes`, res.statusCode);
      }
      chunks.push(chunk as Buffer);
    }
    return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') };
  } catch (err) {
    if (err instanceof SourceError) throw err;
    if (
      timeout.aborted ||
      err instanceof errors.HeadersTimeoutError ||
      err instanceof errors.BodyTimeoutError
    ) {
      throw new SourceError('timeout', `no answer from ${url} within ${req.timeoutMs} ms`);
    }
    throw new SourceError('network', `cannot reach ${url}: ${(err as Error).message}`);
  }
}

/** Retry-After in ms (seconds or an HTTP date), if the server sent one. */
export function retryAfterMs(headers: MetadataResponse['headers'], now = Date.now()): number | undefined {
  const raw = headers['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  // Otherwise only an HTTP-date (RFC 1123), not whatever Date.parse happens to accept ('-5', '2099').
  try {
    return Math.max(0, parseRfc1123(value) - now);
  } catch {
    return undefined;
  }
}
