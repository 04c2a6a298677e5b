// The fleet side of bench/hub-wave.ts, run as a child process (`fork` with `--import tsx`) so the
// hub's event loop is its own: a webhook receiver (node:http, answers 200 at once) and the agents'
// publishes. Publish time and webhook arrival are both taken here, on one clock.
//
// Protocol: the child starts the receiver and sends { kind: 'receiver', url }; the parent sends a
// WaveConfig; the child publishes `vms` batches of `eventsPerVm` scheduled transitions at once
// (each VM its own request and token), then waits until `expectedWebhooks` arrived or
// `deadlineMs` passed, and sends one WaveResult.
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { deriveAgentToken } from '../../src/hub/auth.js';
import { BATCH_CONTENT_TYPE, VmBatcher, eventIdOf, vmName } from './ce-batch.js';
import { wallNow } from './stats.js';

export interface WaveConfig {
  hubUrl: string;
  agentSecret: string;
  vms: number;
  eventsPerVm: number;
  runTag: number;
  expectedWebhooks: number;
  deadlineMs: number;
  /** 0: every VM publishes at once (a burst). Otherwise the VMs' publishes are spread evenly over
   * this many ms (a wave arriving at a steady rate), each VM once, in order. */
  spreadMs: number;
  /** Where to write the per-webhook records (JSON), too many for IPC comfort. */
  outFile: string;
}

export interface Published {
  vm: string;
  eventIds: string[];
  sentAt: number;
  /** Wall clock when the hub's 2xx response was complete. */
  acceptedAt: number;
  status: number;
}

export interface Webhook {
  at: number;
  key: string;
  rule: string;
  vm: string;
  eventId: string;
}

export interface WaveOut {
  published: Published[];
  webhooks: Webhook[];
  firstSentAt: number;
  lastAcceptedAt: number;
  /** Wall clock when the last expected webhook arrived (or the deadline). */
  endAt: number;
  timedOut: boolean;
  receiverErrors: number;
  cpuPct: number;
}

const webhooks: Webhook[] = [];
let receiverErrors = 0;
let onWebhook: (() => void) | undefined;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.url !== '/hook') {
      // The baseline's plain POSTs: answered the same way, not counted as webhooks.
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 }).end('{}');
      return;
    }
    const at = wallNow();
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        rule: string;
        vm: string;
        event: { eventId: string };
      };
      webhooks.push({
        at,
        key: String(req.headers['idempotency-key'] ?? ''),
        rule: body.rule,
        vm: body.vm,
        eventId: body.event.eventId,
      });
    } catch {
      receiverErrors++;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 }).end('{}');
    onWebhook?.();
  });
});
server.keepAliveTimeout = 30_000;

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.send!({ kind: 'receiver', url: `http://127.0.0.1:${port}/hook` });
});

// The bench process is gone (crashed, or gave up on this benchmark): nothing to do for anyone.
process.once('disconnect', () => process.exit(0));

process.once('message', async (config: WaveConfig) => {
  try {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const notBefore = new Date(Date.now() + 15 * 60_000).toISOString();
    // A burst opens one connection per VM; a paced wave reuses a pool (10,000 sockets would only
    // measure connection setup).
    const dispatcher = new Agent({
      connections: config.spreadMs > 0 ? Math.min(config.vms, 256) : config.vms,
      keepAliveTimeout: 30_000,
    });
    const jobs = Array.from({ length: config.vms }, (_, v) => {
      const b = new VmBatcher(vmName(v), notBefore);
      const eventIds = Array.from({ length: config.eventsPerVm }, (_, i) => eventIdOf(config.runTag, v, i));
      return { b, eventIds, body: b.batch(eventIds), token: deriveAgentToken(config.agentSecret, b.vm) };
    });
    const firstSentAt = wallNow();
    const t1 = performance.now();
    const published = await Promise.all(
      jobs.map(async ({ b, eventIds, body, token }, v): Promise<Published> => {
        if (config.spreadMs > 0) {
          const due = t1 + (v * config.spreadMs) / config.vms;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        const sentAt = wallNow();
        const res = await request(`${config.hubUrl}/api/v1/events`, {
          method: 'POST',
          headers: { 'content-type': BATCH_CONTENT_TYPE, authorization: `Bearer ${token}` },
          body,
          dispatcher,
        });
        await res.body.text();
        return { vm: b.vm, eventIds, sentAt, acceptedAt: wallNow(), status: res.statusCode };
      }),
    );
    const lastAcceptedAt = Math.max(...published.map((p) => p.acceptedAt));
    const timedOut = await new Promise<boolean>((resolve) => {
      const check = () => {
        if (webhooks.length >= config.expectedWebhooks) {
          clearTimeout(timer);
          resolve(false);
        }
      };
      const timer = setTimeout(
        () => resolve(true),
        Math.max(0, config.deadlineMs - (performance.now() - t0)),
      );
      onWebhook = check;
      check();
    });
    // A short grace period: anything sent twice would show up now.
    await new Promise((r) => setTimeout(r, 500));
    onWebhook = undefined;
    const endAt = timedOut ? wallNow() : webhooks[config.expectedWebhooks - 1]!.at;
    const cpu = process.cpuUsage(cpu0);
    const out: WaveOut = {
      published,
      webhooks,
      firstSentAt,
      lastAcceptedAt,
      endAt,
      timedOut,
      receiverErrors,
      cpuPct: ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100,
    };
    writeFileSync(config.outFile, JSON.stringify(out));
    await dispatcher.close();
    server.closeAllConnections();
    server.close();
    process.send!({ kind: 'done' }, () => process.exit(0));
  } catch (err) {
    process.send!({ kind: 'error', message: (err as Error).stack ?? String(err) }, () => process.exit(1));
  }
});
