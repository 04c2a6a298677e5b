// Drill 9: the data directory of the hub, then of the agent, fills up or is read-only. Each lives on
// its own small tmpfs (`mount -t tmpfs -o size=…`, so the drill needs root); a filler file takes
// the rest of the space. Verdict: the hub answers ingest with 503 + Retry-After (retryable for
// agents) and keeps serving reads; the agent keeps polling and says why in its health; nothing is
// corrupted (PRAGMA integrity_check), nothing is lost or doubled once space returns; a read-only
// directory makes both refuse to start with a clear error, and they start once it is writable.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { startAgent, tempDir } from '../test/helpers/agent.js';
import { startHub, type TestHub } from '../test/helpers/hub.js';
import { startHubProcess } from '../test/helpers/hub-process.js';
import { cloudEvent, maintenance, publishBatch } from '../test/helpers/hub-publish.js';
import { startSim } from '../test/helpers/sim.js';
import { storeTransitions } from '../test/helpers/store-read.js';
import { waitFor } from '../test/helpers/wait.js';
import { Checks, sayer, skipped, verdict, type DrillResult } from './verdict.js';

export interface DiskFullOptions {
  /** Batches (of 50 events) published while the hub's disk is full. */
  batchesWhileFull: number;
  quiet?: boolean;
}

/** A small tmpfs mounted on a new directory; `undefined` (and why) when mounting is impossible. */
function mountTmpfs(sizeKb: number): { dir: string } | { why: string } {
  const dir = join(tempDir('forewarn-drill-disk-'), 'data');
  mkdirSync(dir);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', dir], { stdio: 'pipe' });
    return { dir };
  } catch (err) {
    return {
      why: `cannot mount a tmpfs (needs root): ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`,
    };
  }
}

const remount = (dir: string, mode: 'ro' | 'rw') => execFileSync('mount', ['-o', `remount,${mode}`, dir]);

/** Writes a filler file until the disk says ENOSPC; returns its path (delete it to free the space). */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return path;
}

function integrity(path: string): string {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[])
      .map((r) => r.integrity_check)
      .join('; ');
  } finally {
    db.close();
  }
}

const batch = (vm: string, n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => cloudEvent(maintenance(vm, { eventId: `${tag}-${i}` })));

export async function diskFullDrill(o: DiskFullOptions): Promise<DrillResult> {
  const startedAt = Date.now();
  const name = 'disk-full';
  const say = sayer(name, o.quiet);
  const summary = 'disk full / read-only';
  const hubDisk = mountTmpfs(16_384);
  if ('why' in hubDisk) return skipped(name, summary, hubDisk.why, startedAt);
  const agentDisk = mountTmpfs(1024);
  if ('why' in agentDisk) {
    execFileSync('umount', [hubDisk.dir]);
    return skipped(name, summary, agentDisk.why, startedAt);
  }
  const checks = new Checks();
  const counts: Record<string, number> = {};
  const dbPath = join(hubDisk.dir, 'hub.db');
  let h: TestHub | undefined;
  const t = await startSim();
  let agent: ReturnType<typeof startAgent> | undefined;
  try {
    // --- The hub's disk fills up.
    say('hub on a 16 MB tmpfs: 50 events, then the disk is filled and agents keep publishing');
    h = await startHub({ dbPath });
    const token = h.agentToken('vm-1');
    checks.equal(
      'publish before the disk is full',
      (await publishBatch(h, token, batch('vm-1', 50, 'before'))).status,
      200,
    );
    let filler = fill(hubDisk.dir);
    const refused: unknown[][] = [];
    const statuses = new Map<number, number>();
    let retryAfter = true;
    let clear = true;
    for (let i = 0; i < o.batchesWhileFull; i++) {
      const events = batch('vm-1', 50, `full-${i}`);
      const res = await publishBatch(h, token, events);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status !== 200) refused.push(events);
      if (res.status === 503) {
        retryAfter &&= res.headers.get('retry-after') !== null;
        clear &&= /store cannot write/.test(String(res.body?.message));
      }
    }
    counts.refusedWhileFull = statuses.get(503) ?? 0;
    counts.acceptedWhileFull = statuses.get(200) ?? 0;
    say(`while full: ${JSON.stringify(Object.fromEntries(statuses))} (status: batches)`);
    checks.that(
      'every answer while full is 200 or 503',
      [...statuses.keys()].every((s) => s === 200 || s === 503),
    );
    checks.that('at least one batch refused with 503 while full', counts.refusedWhileFull > 0);
    checks.that('503s carry Retry-After and say the store cannot write', retryAfter && clear);
    checks.equal('GET /healthz while full', (await h.api('GET', '/healthz')).status, 200);
    checks.equal('GET /api/v1/events while full', (await h.api('GET', '/api/v1/events?limit=1')).status, 200);
    rmSync(filler);
    // The agents send their refused batches again.
    let resentOk = 0;
    for (const events of refused) if ((await publishBatch(h, token, events)).status === 200) resentOk++;
    checks.equal('refused batches accepted after space returns', resentOk, refused.length);
    const expectedEvents = 50 * (1 + o.batchesWhileFull);
    counts.eventsStored = (await storeTransitions(h)).length;
    checks.equal('events stored (none lost, none doubled)', counts.eventsStored, expectedEvents);
    await h.close();
    h = undefined;
    checks.equal('hub integrity_check after disk full', integrity(dbPath), 'ok');

    // --- The hub's data directory is read-only at start: `forewarn hub` must exit, saying why.
    // (A process of its own: SQLite shares a file's locks within one process, so a failed open
    // here would linger in the next one.)
    remount(hubDisk.dir, 'ro');
    const config = join(tempDir('forewarn-drill-disk-'), 'hub.yaml');
    writeFileSync(config, 'log:\n  level: info\n');
    let roError = '';
    try {
      const p = await startHubProcess({
        db: dbPath,
        config,
        env: { FOREWARN_AGENT_SECRET: 'drill-agent-secret-of-some-length' },
      });
      await p.kill('SIGKILL');
    } catch (err) {
      roError =
        /SQLITE_\w+|readonly|read-only/i.exec((err as Error).message)?.[0] ??
        (err as Error).message.slice(0, 200);
    }
    say(`hub on a read-only data directory: ${roError ? `exits (${roError})` : 'started'}`);
    checks.that(
      'hub exits on a read-only data directory, naming the cause',
      /SQLITE_|readonly|read-only/i.test(roError),
    );
    remount(hubDisk.dir, 'rw');
    h = await startHub({ dbPath });
    checks.equal('events after the read-only restart', (await storeTransitions(h)).length, expectedEvents);
    checks.equal(
      'publish after the read-only restart',
      (await publishBatch(h, token, batch('vm-1', 10, 'after'))).status,
      200,
    );

    // --- The agent's state directory fills up.
    say('agent with its journal on a 1 MB tmpfs: one event reported, then the disk is filled');
    t.sim.controller.fleet.add({ name: 'drill-vm' });
    const agentConfig = {
      vm: 'drill-vm',
      stateDir: agentDisk.dir,
      'metadata.url': `${t.url}/vm/drill-vm`,
      'poll.interval': '200ms',
      'poll.maxBackoff': '1s',
      'hub.url': h.url,
      'hub.token': h.agentToken('drill-vm'),
      'hub.heartbeat': '1s',
    };
    agent = startAgent(agentConfig);
    const mine = async () => (await storeTransitions(h!)).filter((r) => r.reporter === 'drill-vm');
    const [e1] = t.sim.controller.schedule({ type: 'Reboot', targets: { vms: ['drill-vm'] }, notice: '1h' });
    await waitFor(async () => (await mine()).length === 1, 10_000, 50);
    filler = fill(agentDisk.dir);
    t.sim.controller.start(e1!.eventId);
    const [e2] = t.sim.controller.schedule({ type: 'Freeze', targets: { vms: ['drill-vm'] }, notice: '1h' });
    const health = () => agent!.agent.health.get('azure')!;
    const polls = health().polls;
    await waitFor(() => /journal: .*full/.test(health().lastError ?? ''), 10_000, 50).catch(() => undefined);
    await waitFor(() => health().polls >= polls + 5, 10_000, 50).catch(() => undefined);
    counts.agentPollsWhileFull = health().polls - polls;
    checks.that(
      `agent says its journal is full (health: ${health().lastError})`,
      /journal: .*full/.test(health().lastError ?? ''),
    );
    checks.that('agent keeps polling while its disk is full', counts.agentPollsWhileFull >= 5);
    rmSync(filler);
    await waitFor(async () => (await mine()).length >= 3, 15_000, 100).catch(() => undefined);
    await sleep(600);
    const got = (await mine()).map((r) => `${r.eventId}/${r.transition}`);
    checks.equal('agent transitions after space returns', got, [
      `${e1!.eventId}/scheduled`,
      `${e1!.eventId}/started`,
      `${e2!.eventId}/scheduled`,
    ]);
    counts.agentTransitions = got.length;
    await agent.close();
    agent = undefined;
    checks.equal('agent journal integrity_check', integrity(join(agentDisk.dir, 'agent.db')), 'ok');

    // --- A new agent's state directory is read-only (a bad mount): `forewarn agent` must exit,
    // saying why (a process of its own, as for the hub).
    const fresh = join(agentDisk.dir, 'fresh');
    mkdirSync(fresh);
    remount(agentDisk.dir, 'ro');
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'agent',
        '--vm',
        'drill-vm',
        '--state-dir',
        fresh,
        '--metadata-url',
        `${t.url}/vm/drill-vm`,
      ],
      {
        encoding: 'utf8',
        timeout: 20_000,
        env: { ...process.env, FOREWARN_HUB_URL: '', FOREWARN_LOG_LEVEL: 'info' },
      },
    );
    const agentRoError =
      /not writable[^\n"]*|SQLITE_\w+[^\n"]*|unable to open database file/.exec(
        `${run.stdout}${run.stderr}`,
      )?.[0] ?? '';
    say(
      `agent on a read-only state directory: ${run.status !== 0 && agentRoError ? `exits ${run.status} (${agentRoError.slice(0, 140)})` : `status ${run.status}: ${run.stderr.slice(0, 200)}`}`,
    );
    checks.that(
      'agent exits on a read-only state directory, naming the cause',
      run.status !== 0 && agentRoError !== '',
    );
    remount(agentDisk.dir, 'rw');
  } catch (err) {
    checks.that(`drill did not finish: ${(err as Error).message.split('\n')[0]}`, false);
  } finally {
    await agent?.close();
    await h?.close();
    await t.close();
    for (const dir of [hubDisk.dir, agentDisk.dir]) {
      try {
        execFileSync('umount', [dir], { stdio: 'pipe' });
      } catch {
        // already unmounted
      }
    }
  }
  return verdict(
    name,
    `${summary}: hub ${counts.refusedWhileFull ?? 0} batches refused with 503 while full, ${counts.eventsStored ?? 0} events stored, 0 corrupt; agent ${counts.agentPollsWhileFull ?? 0} polls while full, ${counts.agentTransitions ?? 0} transitions after`,
    counts,
    checks.failures,
    startedAt,
  );
}
