// HTTP to a link-local metadata service through src/sources/http.ts, which never consults
// HTTP_PROXY/HTTPS_PROXY: IMDS must not go through a proxy (metadata-apis.md §1.1).
import { parseRfc1123 } from '../core/time.js';
import {
  BodyTooLargeError,
  httpRequest,
  HttpTimeoutError,
  type HttpRequest,
  type HttpResponse,
} from './http.js';
import { SourceError } from './source.js';

export type MetadataRequest = HttpRequest;
export type MetadataResponse = HttpResponse;

/** One request to the metadata service; every failure is a SourceError saying what kind it was. */
export async function metadataRequest(url: string, req: MetadataRequest): Promise<MetadataResponse> {
  try {
    return await httpRequest(url, req);
  } catch (err) {
    if (err instanceof HttpTimeoutError) throw new SourceError('timeout', err.message);
    if (err instanceof BodyTooLargeError) throw new SourceError('parse', err.message);
    throw new SourceError('network', `cannot reach ${url}: ${(err as Error).message}`);
  }
}

/** Retry-After in ms (seconds or an HTTP date), if the server sent one. */
export function retryAfterMs(
  headers: Record<string, string | string[] | undefined>,
  now = Date.now(),
): number | undefined {
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
