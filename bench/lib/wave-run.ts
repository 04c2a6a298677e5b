// One maintenance wave through the hub, measured (used by bench/hub-wave.ts for each size).
//
// In this process: the real hub (createHub, SQLite on a temp file, executor defaults) with R rules
// that each match every `scheduled` reboot and have one webhook step. In a child process
// (bench/lib/wave-fleet.ts): the webhook receiver and the agents, each publishing one CloudEvents
// batch of `eventsPerVm` transitions at once. Measured per webhook, on the child's one clock: from
// the moment the hub acknowledged the event (its POST returned 2xx) to the receiver having the
// webhook; also a breakdown through the store's timestamps (accepted → planned → attempt started
// → received). Checked: every step succeeded in the store, every expected Idempotency-Key arrived
// exactly once, none unexpected. The child shares the machine's cores with the hub: its CPU is
// reported. A same-run baseline times plain webhook-sized POSTs to the same receiver.
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { deriveAgentToken } from '../../src/hub/auth.js';
import { idempotencyKey } from '../../src/hub/planner.js';
import { createHub, type Hub } from '../../src/hub/server.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { SqliteThreadedStore } from '../../src/store/sqlite-threaded.js';
import { eventKey } from '../../src/store/store.js';
import { benchRecord } from './ce-batch.js';
import { commitProbe, loadAverage, machineCpu } from './machine.js';
import { ms, summarize, type Summary } from './stats.js';
import type { WaveConfig, WaveOut } from './wave-fleet.js';
import { applyWhatIfs, type WhatIf } from './what-if.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const FLEET = fileURLToPath(new URL('./wave-fleet.ts', import.meta.url));
const AGENT_SECRET = 'bench-agent-secret';

interface StepFacts {
  key: string;
  rule: string;
  status: string;
  attempts: number;
  ceId: string;
  receivedAt: number;
  plannedAt: number;
  startedAt: number;
}

const k = (x: number) => Math.round(x).toLocaleString('en-US');

/**
 * The floor under the wave, in the same run: the same number of webhook-sized POSTs from this
 * process to the same receiver with undici (as the webhook action sends them), at the executor's
 * default concurrency and at a high one, with no hub work around them.
 */
async function webhookBaseline(url: string, n: number, log: (m: string) => void) {
  const record = benchRecord(
    'bench-vm-0000',
    '00000000-0000-4000-8000-000000000000',
    new Date().toISOString(),
  );
  const body = JSON.stringify({
    rule: 'wave-rule-1',
    step: 'notify',
    phase: 'do',
    vm: record.event.vm,
    transition: 'scheduled',
    event: record.event,
    eventUrl: 'http://127.0.0.1:1/api/v1/events/azure/00000000-0000-4000-8000-000000000000',
    idempotencyKey: 'fw-00000000000000000000000000000000',
    attempt: 1,
    deadline: record.event.notBefore,
  });
  const dispatcher = new Agent({ keepAliveTimeout: 30_000 });
  const result: Record<string, { concurrency: number; perS: number; latency: Summary }> = {};
  try {
    for (const concurrency of [16, 128]) {
      let next = 0;
      const latencies: number[] = [];
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < n) {
            next++;
            const s = performance.now();
            const res = await request(url, {
              method: 'POST',
              headers: { 'content-type': 'application/json; charset=utf-8', 'idempotency-key': 'x' },
              body,
              dispatcher,
            });
            await res.body.text();
            latencies.push(performance.now() - s);
          }
        }),
      );
      const perS = (n / (performance.now() - t0)) * 1000;
      result[`c${concurrency}`] = { concurrency, perS, latency: summarize(latencies) };
      log(`baseline: ${k(n)} plain POSTs to the receiver at concurrency ${concurrency}: ${k(perS)}/s`);
    }
  } finally {
    await dispatcher.close();
  }
  return result;
}

export interface WaveOptions {
  vms: number;
  eventsPerVm: number;
  rules: number;
  deadlineS: number;
  /** Executor concurrency; undefined = the hub's default. */
  concurrency?: number;
  whatIf: WhatIf[];
  /** Plain POSTs per concurrency level in the same-run baseline; 0 = none. */
  baselinePosts: number;
  cpuProfDir?: string;
  /** Spread the publishes evenly over this many seconds; 0 or undefined: all at once. */
  spreadS?: number;
}

export type WaveResult = Awaited<ReturnType<typeof runWave>>;

/** One wave through a fresh hub (fresh SQLite file, fresh fleet child); everything measured. */
export async function runWave(o: WaveOptions, log: (m: string) => void) {
  const {
    vms: VMS,
    eventsPerVm: EVENTS_PER_VM,
    rules: RULES,
    deadlineS: DEADLINE_S,
    concurrency: CONCURRENCY,
  } = o;
  const WHATIF = o.whatIf;
  const CPU_PROF_DIR = o.cpuProfDir;
  const tmp = mkdtempSync(join(os.tmpdir(), 'forewarn-bench-wave-'));
  const events = VMS * EVENTS_PER_VM;
  const expectedWebhooks = events * RULES;
  const probe = commitProbe(tmp);
  log(
    `disk: one durable SQLite commit (WAL, synchronous=FULL) takes p50 ${probe.p50.toFixed(0)} µs, p99 ${probe.p99.toFixed(0)} µs`,
  );

  const child = fork(FLEET, [], {
    cwd: REPO,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const messages: { kind: string; url?: string; message?: string }[] = [];
  let notify: (() => void) | undefined;
  child.on('message', (m: (typeof messages)[number]) => {
    messages.push(m);
    notify?.();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const nextMessage = (timeoutMs: number) =>
    new Promise<(typeof messages)[number]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the fleet child did not answer in time')), timeoutMs);
      const check = () => {
        const m = messages.shift();
        if (!m) return;
        clearTimeout(timer);
        notify = undefined;
        if (m.kind === 'error') reject(new Error(`fleet child failed: ${m.message}`));
        else resolve(m);
      };
      notify = check;
      check();
    });

  const dbPath = join(tmp, 'hub.db');
  const store =
    process.env.BENCH_STORE === 'sqlite' ? new SqliteStore(dbPath) : new SqliteThreadedStore(dbPath);
  applyWhatIfs(store, WHATIF);
  let hub: Hub | undefined;
  let hubClosed = false;
  try {
    const receiver = await nextMessage(30_000);
    const baseline = o.baselinePosts
      ? await webhookBaseline(
          receiver.url!.replace(/\/hook$/, '/baseline'),
          Math.min(expectedWebhooks, o.baselinePosts),
          log,
        )
      : undefined;
    const rules = Array.from({ length: RULES }, (_, i) => ({
      name: `wave-rule-${i + 1}`,
      match: { types: ['reboot'], transitions: ['scheduled'] },
      steps: [{ name: 'notify', action: 'webhook', with: { url: receiver.url } }],
    }));
    hub = await createHub({
      store,
      auth: { agentSecret: AGENT_SECRET, operators: [{ name: 'root', role: 'admin', token: 'bench-admin' }] },
      rules,
      ...(CONCURRENCY ? { concurrency: CONCURRENCY } : {}),
    });
    const hubUrl = await hub.listen(0, '127.0.0.1');
    // One request per VM's token before the wave, so the first publishes do not pay for JIT alone.
    await fetch(`${hubUrl}/api/v1/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/cloudevents-batch+json',
        authorization: `Bearer ${deriveAgentToken(AGENT_SECRET, 'warmup')}`,
      },
      body: '[]',
    }).then((r) => r.text());

    const outFile = join(tmp, 'wave.json');
    const config: WaveConfig = {
      hubUrl,
      agentSecret: AGENT_SECRET,
      vms: VMS,
      eventsPerVm: EVENTS_PER_VM,
      runTag: (Date.now() & 0x7fffffff) >>> 0,
      expectedWebhooks,
      deadlineMs: (DEADLINE_S + (o.spreadS ?? 0)) * 1000,
      spreadMs: (o.spreadS ?? 0) * 1000,
      outFile,
    };
    let session: Session | undefined;
    if (CPU_PROF_DIR) {
      mkdirSync(CPU_PROF_DIR, { recursive: true });
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    log(
      `wave: ${VMS} VMs × ${EVENTS_PER_VM} events, ${RULES} rules → ${k(expectedWebhooks)} webhooks, ${o.spreadS ? `spread over ${o.spreadS} s` : 'all at once'}…`,
    );
    const cpu0 = process.cpuUsage();
    const m0 = machineCpu();
    const t0 = performance.now();
    child.send(config);
    await nextMessage((DEADLINE_S + (o.spreadS ?? 0) + 60) * 1000);
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const m1 = machineCpu();
    if (session) {
      const { profile } = await session.post('Profiler.stop');
      const file = join(CPU_PROF_DIR!, `hub-wave-${events}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
      log(`wrote ${file}`);
    }
    const out = JSON.parse(readFileSync(outFile, 'utf8')) as WaveOut;
    log(
      `${k(out.webhooks.length)} webhooks in ${ms(out.endAt - out.firstSentAt, 0)}${out.timedOut ? ' (deadline reached)' : ''}; checking the store…`,
    );

    // Stop the hub before reading the store, so nothing moves under the counts.
    const closeStarted = performance.now();
    await hub.close();
    hubClosed = true;
    const closeMs = performance.now() - closeStarted;

    // --- the store's view
    const db = store.db;
    const byStatus = Object.fromEntries(
      (
        db.prepare('SELECT status, COUNT(*) AS n FROM steps GROUP BY status').all() as {
          status: string;
          n: number;
        }[]
      ).map((r) => [r.status, r.n]),
    ) as Record<string, number>;
    const totalSteps = Object.values(byStatus).reduce((a, b) => a + b, 0);
    const steps = (
      db
        .prepare(
          `SELECT s.idempotency_key AS key, r.rule, s.status, s.attempts, t.ce_id, t.received_at, r.created_at AS planned_at, a.started_at
           FROM steps s JOIN runs r ON r.key = s.run_key JOIN transitions t ON t.id = r.trigger_transition_id
           LEFT JOIN attempts a ON a.step_id = s.id AND a.n = 1`,
        )
        .all() as Record<string, string | number | null>[]
    ).map((r): StepFacts => ({
      key: r.key as string,
      rule: r.rule as string,
      status: r.status as string,
      attempts: r.attempts as number,
      ceId: r.ce_id as string,
      receivedAt: Date.parse(r.received_at as string),
      plannedAt: r.planned_at ? Date.parse(r.planned_at as string) : NaN,
      startedAt: r.started_at ? Date.parse(r.started_at as string) : NaN,
    }));
    const attemptsTotal = (db.prepare('SELECT COUNT(*) AS n FROM attempts').get() as { n: number }).n;
    const failedAttempts = db
      .prepare(
        'SELECT detail, COUNT(*) AS n FROM attempts WHERE ok = 0 GROUP BY detail ORDER BY n DESC LIMIT 5',
      )
      .all() as { detail: string; n: number }[];
    const transitionsStored = (db.prepare('SELECT COUNT(*) AS n FROM transitions').get() as { n: number }).n;
    const stepByKey = new Map(steps.map((s) => [s.key, s]));

    // --- what should have arrived, what did
    const acceptedAt = new Map<string, number>();
    for (const p of out.published)
      if (p.status >= 200 && p.status < 300) for (const id of p.eventIds) acceptedAt.set(id, p.acceptedAt);
    const expected = new Set<string>();
    for (const p of out.published)
      for (const id of p.eventIds)
        for (const rule of rules)
          expected.add(idempotencyKey(`${rule.name}|${eventKey('azure', id)}|${p.vm}|scheduled`, 0));
    const firstAt = new Map<string, (typeof out.webhooks)[number]>();
    let duplicates = 0;
    const duplicateGapsMs: number[] = [];
    let unexpected = 0;
    for (const w of out.webhooks) {
      if (!expected.has(w.key)) unexpected++;
      if (firstAt.has(w.key)) {
        duplicates++;
        duplicateGapsMs.push(w.at - firstAt.get(w.key)!.at);
      } else firstAt.set(w.key, w);
    }
    const missing = [...expected].filter((key) => !firstAt.has(key)).length;
    const delivered = firstAt.size;

    // --- latencies, per delivered webhook (first arrival)
    const fromAccepted: number[] = [];
    const fromReceived: number[] = [];
    const acceptedToPlanned: number[] = [];
    const plannedToStarted: number[] = [];
    const startedToReceiver: number[] = [];
    for (const w of firstAt.values()) {
      const acc = acceptedAt.get(w.eventId);
      if (acc !== undefined) fromAccepted.push(w.at - acc);
      const s = stepByKey.get(w.key);
      if (!s) continue;
      fromReceived.push(w.at - s.receivedAt);
      if (acc !== undefined) acceptedToPlanned.push(s.plannedAt - acc);
      plannedToStarted.push(s.startedAt - s.plannedAt);
      startedToReceiver.push(w.at - s.startedAt);
    }
    // A webhook that never came is slower than any that did: it counts, as Infinity.
    const undelivered = Array.from({ length: Math.max(0, expectedWebhooks - delivered) }, () => Infinity);
    const lat = summarize([...fromAccepted, ...undelivered]);
    const latReceived = summarize([...fromReceived, ...undelivered]);
    const publish = summarize(out.published.map((p) => p.acceptedAt - p.sentAt));
    const rejectedStatuses = out.published
      .filter((p) => p.status < 200 || p.status >= 300)
      .map((p) => p.status);
    const rejected = rejectedStatuses.length;
    // A loop, not Math.max(...list): 300,000 arguments overflow the stack.
    let lastWebhookAt = -Infinity;
    for (const w of firstAt.values()) lastWebhookAt = Math.max(lastWebhookAt, w.at);
    const totalMs = lastWebhookAt - out.firstSentAt;
    const succeeded = byStatus.succeeded ?? 0;
    const retried = steps.filter((s) => s.attempts > 1).length;
    const hubCpuPct = ((cpu.user + cpu.system) / 1000 / wallMs) * 100;
    const machineBusyPct = ((m1.busyMs - m0.busyMs) / wallMs) * 100;
    const otherPct = Math.max(0, machineBusyPct - hubCpuPct - out.cpuPct);

    const lastAcceptedAt = out.lastAcceptedAt;
    return {
      events,
      expectedWebhooks,
      probe,
      timedOut: out.timedOut,
      lastAcceptedMs: lastAcceptedAt - out.firstSentAt,
      latencyMs: {
        acceptedToWebhook: lat,
        receivedAtToWebhook: latReceived,
        acceptedToPlanned: summarize(acceptedToPlanned),
        plannedToStarted: summarize(plannedToStarted),
        startedToReceiver: summarize(startedToReceiver),
        publishRequest: publish,
      },
      totals: {
        expectedWebhooks,
        delivered,
        duplicates,
        unexpected,
        missing,
        totalMs,
        stepsByStatus: byStatus,
        totalSteps,
        succeeded,
        transitionsStored,
        attempts: attemptsTotal,
        retried,
        failedAttempts,
        duplicateGapsMs,
        receiverErrors: out.receiverErrors,
        publishRejected: rejected,
        publishRejectedStatuses: rejectedStatuses,
        hubCloseMs: closeMs,
      },
      baseline,
      cpu: { hubPct: hubCpuPct, fleetPct: out.cpuPct, otherPct, machineBusyPct },
      loadAverage: loadAverage(),
    };
  } finally {
    if (hub && !hubClosed) await hub.close().catch(() => undefined);
    child.kill('SIGKILL');
    await exited;
    await store.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}
