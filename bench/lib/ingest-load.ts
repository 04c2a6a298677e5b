// Load generator for bench/hub-ingest.ts, run as a child process (`fork` with `--import tsx`) so
// it has its own event loop and does not steal the server's. autocannon, programmatically: N
// keep-alive connections, each request a CloudEvents batch from one of `vms` VMs in turn, with
// that VM's derived token and unique event ids. Latency per response is kept at full resolution
// (autocannon's own histogram rounds to whole milliseconds).
//
// Protocol: the parent sends one LoadConfig; the child answers { kind: 'measuring' } when the
// warm-up is over and the measured window starts, then one LoadResult, and exits.
import { writeFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { deriveAgentToken } from '../../src/hub/auth.js';
import { BATCH_CONTENT_TYPE, VmBatcher, eventIdOf, vmName } from './ce-batch.js';
import { summarize, type Summary } from './stats.js';

export interface LoadConfig {
  url: string;
  path: string;
  batch: number;
  connections: number;
  vms: number;
  agentSecret: string;
  warmupS: number;
  durationS: number;
  runTag: number;
  /** Where to write the acknowledged events, one `source<TAB>id` per line (both windows). */
  ackFile: string;
}

export interface LoadResult {
  kind: 'result';
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  events2xx: number;
  /** Events sent in 2xx requests, warm-up included (what the store must hold). */
  events2xxTotal: number;
  durationS: number;
  latency: Summary;
  statusCodes: Record<string, number>;
  /** CPU time of this load-generator process during the measured window, % of one core. */
  cpuPct: number;
}

interface Ctx {
  sent?: { source: string; ids: string[] };
}

function run(
  config: LoadConfig,
  durationS: number,
  onResponse: (status: number, ms: number) => void,
  acked: string[],
) {
  const notBefore = new Date(Date.now() + 15 * 60_000).toISOString();
  const batchers = Array.from({ length: config.vms }, (_, i) => new VmBatcher(vmName(i), notBefore));
  const tokens = batchers.map((b) => `Bearer ${deriveAgentToken(config.agentSecret, b.vm)}`);
  let next = 0;
  let seq = 0;
  let finish: (err: unknown, r: autocannon.Result) => void = () => {};
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = (err, r) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(r));
  });
  const instance = autocannon(
    {
      url: config.url,
      connections: config.connections,
      pipelining: 1,
      duration: durationS,
      timeout: 30,
      requests: [
        {
          method: 'POST',
          path: config.path,
          setupRequest: (req, context: Ctx) => {
            const v = next++ % config.vms;
            const ids: string[] = [];
            for (let i = 0; i < config.batch; i++) ids.push(eventIdOf(config.runTag, v, seq++));
            // pipelining 1: this connection's next response answers this request
            context.sent = { source: batchers[v]!.source, ids };
            return {
              ...req,
              headers: { 'content-type': BATCH_CONTENT_TYPE, authorization: tokens[v]! },
              body: batchers[v]!.batch(ids),
            };
          },
          onResponse: (status, _body, context: Ctx) => {
            if (status < 200 || status >= 300 || !context.sent) return;
            for (const id of context.sent.ids) acked.push(`${context.sent.source}\tazure/${id}/scheduled`);
            context.sent = undefined;
          },
        },
      ],
    },
    (err, r) => finish(err, r),
  );
  instance.on('response', (_client, status, _bytes, responseTime) => onResponse(status, responseTime));
  return done;
}

// The bench process is gone (crashed, or gave up on this benchmark): nothing to do for anyone.
process.once('disconnect', () => process.exit(0));

// One child serves many windows, one config message each (a fresh child per window cost 1–2 s
// of tsx start-up); `{ kind: 'stop' }` ends it.
process.on('message', async (message: LoadConfig | { kind: 'stop' }) => {
  if ('kind' in message) process.exit(0);
  const config = message;
  let ok = 0;
  let okTotal = 0;
  let measuring = false;
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  const acked: string[] = [];
  const onResponse = (status: number, ms: number) => {
    if (status >= 200 && status < 300) okTotal++;
    if (!measuring) return;
    statusCodes[status] = (statusCodes[status] ?? 0) + 1;
    if (status >= 200 && status < 300) ok++;
    latencies.push(ms);
  };
  try {
    if (config.warmupS > 0)
      await run({ ...config, runTag: config.runTag ^ 0x5a5a }, config.warmupS, onResponse, acked);
    measuring = true;
    process.send!({ kind: 'measuring' });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await run(config, config.durationS, onResponse, acked);
    const durationS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    writeFileSync(config.ackFile, acked.join('\n'));
    const result: LoadResult = {
      kind: 'result',
      requests: latencies.length,
      ok,
      non2xx: r.non2xx,
      errors: r.errors,
      timeouts: r.timeouts,
      events2xx: ok * config.batch,
      events2xxTotal: okTotal * config.batch,
      durationS,
      latency: summarize(latencies),
      statusCodes,
      cpuPct: ((cpu.user + cpu.system) / 1000 / (durationS * 1000)) * 100,
    };
    process.send!(result);
  } catch (err) {
    process.send!({ kind: 'error', message: (err as Error).stack ?? String(err) }, () => process.exit(1));
  }
});
