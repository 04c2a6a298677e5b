// The agent's HTTP client: node:http with keep-alive, nothing else. Two reasons: it never consults
// HTTP_PROXY (IMDS must not go through a proxy), and it keeps the agent small: undici or fetch
// would add about 20 MB of resident memory to a process whose budget is 60 MB.
import http from 'node:http';
import https from 'node:https';

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Larger answers are refused with BodyTooLargeError. */
  maxBytes?: number;
}

export class HttpTimeoutError extends Error {
  constructor(url: string, ms: number) {
    super(`no answer from ${url} within ${ms} ms`);
    this.name = 'HttpTimeoutError';
  }
}

export class BodyTooLargeError extends Error {
  constructor(url: string, max: number) {
    super(`response from ${url} is larger than ${max} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

const agents = {
  // No low socket cap: a 25 s command long-poll holds one socket, and must not queue deliveries behind it.
  'http:': new http.Agent({ keepAlive: true, maxFreeSockets: 4, timeout: 60_000 }),
  'https:': new https.Agent({ keepAlive: true, maxFreeSockets: 4, timeout: 60_000 }),
};

export function httpRequest(url: string, req: HttpRequest): Promise<HttpResponse> {
  const target = new URL(url);
  const mod = target.protocol === 'https:' ? https : http;
  const max = req.maxBytes ?? 1024 * 1024;
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err: Error | undefined, value?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(value!);
    };
    const body = req.body === undefined ? undefined : Buffer.from(req.body);
    const request = mod.request(
      target,
      {
        method: req.method ?? 'GET',
        agent: agents[target.protocol as 'http:' | 'https:'],
        headers: { ...req.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > max) {
            res.destroy();
            done(new BodyTooLargeError(url, max));
          } else chunks.push(c);
        });
        res.on('end', () =>
          done(undefined, {
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', (e) => done(e));
      },
    );
    const timer = setTimeout(() => {
      request.destroy();
      done(new HttpTimeoutError(url, req.timeoutMs));
    }, req.timeoutMs);
    const onAbort = () => {
      request.destroy();
      done(new Error('aborted'));
    };
    if (req.signal?.aborted) return onAbort();
    req.signal?.addEventListener('abort', onAbort, { once: true });
    request.on('error', (e) => done(e));
    request.end(body);
  });
}
