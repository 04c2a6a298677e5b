// The session-token flow shared by AWS IMDSv2 and Alibaba's hardened mode (metadata-apis.md §2.2,
// §4.1): PUT a token with a TTL, send it on every read, refresh it before it expires, follow the
// remaining TTL the service reports, and on a 401 fetch a new one and retry once. Falling back to
// token-less (v1) reads when the PUT fails is allowed only when configured.
import { metadataRequest, type MetadataResponse } from './metadata-http.js';
import { SourceError } from './source.js';

export interface ImdsSessionOptions {
  /** e.g. http://169.254.169.254/latest/api/token */
  tokenUrl: string;
  /** Request/response header carrying the TTL in seconds. */
  ttlHeader: string;
  /** Header carrying the token on reads. */
  tokenHeader: string;
  /** Requested TTL, 1..21600 (default 21600: one PUT per six hours). */
  ttlSeconds?: number;
  /** Refresh when this little is left (default 15 s, as aws-node-termination-handler). */
  refreshBeforeSeconds?: number;
  /** Read without a token when the PUT fails (default false: a failed PUT is a failed poll). */
  allowV1Fallback?: boolean;
  /** How long to stay on v1 after a failed PUT before trying for a token again (default 5 min). */
  v1RetryMs?: number;
  timeoutMs: number;
  now?: () => number;
}

export class ImdsSession {
  private token?: string;
  private expiresAt = 0;
  private v1Until = 0;
  private pending?: Promise<string | undefined>;
  private readonly now: () => number;
  /** Counters, for health and tests. */
  readonly stats = { tokens: 0, retriesOn401: 0, v1Reads: 0 };

  constructor(private readonly o: ImdsSessionOptions) {
    this.now = o.now ?? Date.now;
  }

  /** GET `url` with a valid token (or v1 when allowed); one retry with a fresh token on 401. */
  async get(url: string, signal?: AbortSignal): Promise<MetadataResponse> {
    const first = await this.read(url, await this.currentToken(signal), signal);
    if (first.status !== 401) return first;
    // Expired early, revoked, or tokens became required while we were on v1: a new token, once.
    this.drop();
    this.v1Until = 0;
    this.stats.retriesOn401++;
    const token = await this.currentToken(signal);
    if (token === undefined) return first;
    return this.read(url, token, signal);
  }

  drop(): void {
    this.token = undefined;
    this.expiresAt = 0;
  }

  private async read(url: string, token: string | undefined, signal?: AbortSignal) {
    if (token === undefined) this.stats.v1Reads++;
    const res = await metadataRequest(url, {
      headers: token === undefined ? {} : { [this.o.tokenHeader]: token },
      timeoutMs: this.o.timeoutMs,
      signal,
    });
    // The service reports the token's remaining TTL on reads: follow it (it may be shorter than ours).
    const left = header(res.headers[this.o.ttlHeader.toLowerCase()]);
    if (token !== undefined && token === this.token && left !== undefined)
      this.expiresAt = Math.min(this.expiresAt, this.now() + left * 1000);
    return res;
  }

  /** The token to use now: the cached one unless it is about to expire; undefined means v1. */
  private currentToken(signal?: AbortSignal): Promise<string | undefined> {
    const margin = (this.o.refreshBeforeSeconds ?? 15) * 1000;
    if (this.token && this.expiresAt - this.now() > margin) return Promise.resolve(this.token);
    if (this.o.allowV1Fallback && this.now() < this.v1Until) return Promise.resolve(undefined);
    // Concurrent reads share one PUT.
    this.pending ??= this.fetchToken(signal).finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async fetchToken(signal?: AbortSignal): Promise<string | undefined> {
    const ttl = this.o.ttlSeconds ?? 21_600;
    let failure: SourceError;
    try {
      const res = await metadataRequest(this.o.tokenUrl, {
        method: 'PUT',
        headers: { [this.o.ttlHeader]: String(ttl) },
        timeoutMs: this.o.timeoutMs,
        signal,
      });
      const token = res.body.trim();
      if (res.status === 200 && token && !/\s/.test(token)) {
        const granted = header(res.headers[this.o.ttlHeader.toLowerCase()]) ?? ttl;
        this.token = token;
        this.expiresAt = this.now() + granted * 1000;
        this.stats.tokens++;
        return token;
      }
      failure = new SourceError(
        'http',
        `token PUT ${this.o.tokenUrl} answered ${res.status}${res.status === 200 ? ' without a token' : ''}`,
        res.status,
      );
    } catch (err) {
      if (signal?.aborted) throw err;
      failure = err instanceof SourceError ? err : new SourceError('network', String(err));
    }
    if (!this.o.allowV1Fallback) throw failure;
    this.v1Until = this.now() + (this.o.v1RetryMs ?? 300_000);
    return undefined;
  }
}

function header(v: string | string[] | undefined): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s !== undefined && /^\d+$/.test(s.trim()) ? Number(s.trim()) : undefined;
}
