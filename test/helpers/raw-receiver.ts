// A webhook receiver on node:http that keeps each request's raw body (to check signatures), can
// answer slowly, fail on purpose, send Retry-After, or hold requests until released, and knows
// which answers actually reached the caller (a caller killed mid-request gets none).
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceiverAnswer {
  status: number;
  headers?: Record<string, string>;
  /** Wait this long before answering. */
  delayMs?: number;
}

export interface ReceivedCall {
  at: number;
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  /** The JSON body, or undefined when it is not JSON. */
  body: any;
  key?: string;
  /** The status answered; `aborted` when the caller was gone before the answer. */
  status?: number | 'aborted';
  answeredAt?: number;
}

export interface RawReceiver {
  /** `<base>/hook` */
  url: string;
  base: string;
  calls: ReceivedCall[];
  /** Answers for the next requests in order (a number is a status); then `decide`, then 200. */
  script: (number | ReceiverAnswer)[];
  decide?: (call: ReceivedCall) => ReceiverAnswer | undefined;
  /** While true, requests wait (unanswered) until `release()`. */
  holding: boolean;
  release(): void;
  /**
   * Drops the held requests unanswered (their caller is gone: a killed hub). Releasing them instead
   * could write a 2xx into a socket whose close the receiver has not seen yet, and count it as
   * received by a caller that no longer exists.
   */
  dropHeld(): void;
  /** Requests received and not answered yet. */
  inFlight(): number;
  /** Of those, the ones held (not being answered until `release()`). */
  held(): number;
  /** 2xx answers that reached the caller, per Idempotency-Key. */
  successesByKey(): Map<string, number>;
  close(): Promise<void>;
}

export async function startRawReceiver(): Promise<RawReceiver> {
  const waiting: { go: () => void; drop: () => void }[] = [];
  let inFlight = 0;
  const r: RawReceiver = {
    url: '',
    base: '',
    calls: [],
    script: [],
    holding: false,
    release() {
      r.holding = false;
      for (const w of waiting.splice(0)) w.go();
    },
    dropHeld() {
      r.holding = false;
      for (const w of waiting.splice(0)) w.drop();
    },
    inFlight: () => inFlight,
    held: () => waiting.length,
    successesByKey() {
      const m = new Map<string, number>();
      for (const c of r.calls)
        if (c.key && typeof c.status === 'number' && c.status >= 200 && c.status < 300)
          m.set(c.key, (m.get(c.key) ?? 0) + 1);
      return m;
    },
    close: () =>
      new Promise<void>((resolve) => {
        r.release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  const answer = (res: ServerResponse, call: ReceivedCall, a: ReceiverAnswer, gone: () => boolean) => {
    inFlight--;
    if (gone()) {
      call.status = 'aborted';
      return;
    }
    res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
    res.end(JSON.stringify(a.status < 300 ? { ok: true } : { error: 'on purpose' }), () => {
      call.status = gone() ? 'aborted' : a.status;
      call.answeredAt = Date.now();
    });
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let closed = false;
    res.on('close', () => {
      if (!res.writableFinished) closed = true;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
      const key = req.headers['idempotency-key'];
      const call: ReceivedCall = {
        at: Date.now(),
        path: req.url ?? '',
        headers: req.headers,
        raw,
        body,
        key: typeof key === 'string' ? key : undefined,
      };
      r.calls.push(call);
      inFlight++;
      const next = r.script.shift();
      const a: ReceiverAnswer =
        typeof next === 'number' ? { status: next } : (next ?? r.decide?.(call) ?? { status: 200 });
      const go = () => {
        if (a.delayMs) setTimeout(() => answer(res, call, a, () => closed), a.delayMs);
        else answer(res, call, a, () => closed);
      };
      const drop = () => {
        inFlight--;
        call.status = 'aborted';
        res.destroy();
      };
      if (r.holding) waiting.push({ go, drop });
      else go();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  r.base = `http://127.0.0.1:${port}`;
  r.url = `${r.base}/hook`;
  return r;
}
