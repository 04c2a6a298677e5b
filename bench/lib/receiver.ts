// A minimal hub stand-in for benchmarks (node:http, no framework): takes CloudEvents batches on
// /api/v1/events and stamps each event with the wall-clock time its request body was complete,
// acknowledges heartbeats, and holds command long-polls until `wait` runs out (then 204).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { wallNow } from './stats.js';

export interface ReceivedEvent {
  /** Wall clock (ms) when the batch carrying it was fully read. */
  at: number;
  id: string;
  type: string;
  source: string;
  data: { eventId?: string; [k: string]: unknown };
}

export interface Receiver {
  url: string;
  events: ReceivedEvent[];
  batches: number;
  heartbeats: { at: number; vm: string }[];
  commandPolls: number;
  rejected: number;
  /** Called for each received event, in arrival order. */
  onEvent?: (e: ReceivedEvent) => void;
  close(): Promise<void>;
}

export async function startReceiver(token: string): Promise<Receiver> {
  const holding = new Set<{ res: ServerResponse; timer: NodeJS.Timeout }>();
  const receiver: Receiver = {
    url: '',
    events: [],
    batches: 0,
    heartbeats: [],
    commandPolls: 0,
    rejected: 0,
    close: async () => {
      for (const h of holding) {
        clearTimeout(h.timer);
        h.res.writeHead(204).end();
      }
      holding.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };

  const reply = (res: ServerResponse, status: number, body?: unknown) => {
    if (body === undefined) return res.writeHead(status).end();
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const readBody = (req: IncomingMessage, done: (body: string, at: number) => void) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => done(Buffer.concat(chunks).toString('utf8'), wallNow()));
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://receiver');
    if (req.headers.authorization !== `Bearer ${token}`) {
      receiver.rejected++;
      req.resume();
      return reply(res, 401, { error: 'bad token' });
    }
    if (req.method === 'POST' && url.pathname === '/api/v1/events') {
      if (!req.headers['content-type']?.startsWith('application/cloudevents-batch+json')) {
        receiver.rejected++;
        req.resume();
        return reply(res, 415);
      }
      return readBody(req, (body, at) => {
        let batch: unknown;
        try {
          batch = JSON.parse(body);
        } catch {
          receiver.rejected++;
          return reply(res, 400, { error: 'not JSON' });
        }
        if (!Array.isArray(batch)) {
          receiver.rejected++;
          return reply(res, 400, { error: 'not a batch' });
        }
        receiver.batches++;
        reply(res, 202);
        for (const e of batch as Omit<ReceivedEvent, 'at'>[]) {
          const event = { ...e, at };
          receiver.events.push(event);
          receiver.onEvent?.(event);
        }
      });
    }
    const agentPath = /^\/api\/v1\/agents\/([^/]+)\/(heartbeat|commands)(?:\/([^/]+)\/result)?$/.exec(
      url.pathname,
    );
    if (agentPath && req.method === 'POST' && agentPath[2] === 'heartbeat') {
      return readBody(req, (_body, at) => {
        receiver.heartbeats.push({ at, vm: decodeURIComponent(agentPath[1]!) });
        reply(res, 200, { ok: true });
      });
    }
    if (agentPath && req.method === 'GET' && agentPath[2] === 'commands' && !agentPath[3]) {
      receiver.commandPolls++;
      const wait = Math.min(25, Math.max(0, Number(url.searchParams.get('wait') ?? 0) || 0));
      if (wait === 0) return reply(res, 204);
      const h = {
        res,
        timer: setTimeout(() => {
          holding.delete(h);
          reply(res, 204);
        }, wait * 1000),
      };
      holding.add(h);
      res.on('close', () => {
        clearTimeout(h.timer);
        holding.delete(h);
      });
      return;
    }
    if (agentPath && req.method === 'POST' && agentPath[3]) {
      req.resume();
      return reply(res, 200, { ok: true });
    }
    req.resume();
    reply(res, 404, { error: 'not found' });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}
