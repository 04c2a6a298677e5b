// The agent as a real child process (`forewarn agent`), killed with SIGKILL mid-event and
// restarted on the same state dir: exactly the missing transitions arrive, none twice, none lost.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/agent.js';
import { startHubStub, type HubStub } from '../helpers/hub-stub.js';
import { startSim, type TestSim } from '../helpers/sim.js';
import { waitFor } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STARTUP_MS = 20_000; // tsx compiles the CLI on start

interface AgentProcess {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let t: TestSim;
let hub: HubStub;
let dir: string;
const children: AgentProcess[] = [];

beforeEach(async () => {
  t = await startSim();
  hub = await startHubStub({ token: 't' });
  dir = tempDir('forewarn-restart-');
});
afterEach(async () => {
  for (const p of children.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await p.exited;
  }
  await t.close();
  await hub.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The environment of the child: ours without any FOREWARN_* that could change its config. */
function childEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FOREWARN_')));
  return { ...env, FOREWARN_HUB_TOKEN: 't' };
}

function spawnAgent(extra: string[] = [], args?: string[]): AgentProcess {
  const child = spawn(
    process.execPath,
    args ?? [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'agent',
      '--vm',
      'solo',
      '--metadata-url',
      `${t.url}/vm/solo`,
      '--hub-url',
      hub.url,
      '--state-dir',
      dir,
      '--poll-interval',
      '200ms',
      '--log-level',
      'silent',
      ...extra,
    ],
    { cwd: ROOT, env: childEnv(), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const p = { child, stderr: () => stderr, exited };
  children.push(p);
  return p;
}

async function kill9(p: AgentProcess) {
  expect(p.child.exitCode).toBeNull(); // it was still running: the kill is what stops it
  p.child.kill('SIGKILL');
  expect(await p.exited).toEqual({ code: null, signal: 'SIGKILL' });
}

/** Rows in the agent's outbox, read from its SQLite file (undefined until the file exists). */
function outboxRows(): { id: string; transition: string }[] {
  const db = new Database(join(dir, 'agent.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT id, transition FROM outbox ORDER BY seq').all() as {
      id: string;
      transition: string;
    }[];
  } finally {
    db.close();
  }
}

const short = (type: string) => type.replace('forewarn.maintenance.', '');
const received = (eventId: string) =>
  hub.events.filter((e) => e.data.eventId === eventId).map((e) => short(e.type));

describe('agent restarted after kill -9', () => {
  it('sends exactly the transitions it missed while dead, each once', async () => {
    const c = t.sim.controller;
    let agent = spawnAgent();
    const [e] = c.schedule({ type: 'Reboot', targets: { vms: ['solo'] }, notice: '1h' });
    const id = e!.eventId;
    await waitFor(() => received(id).length === 1, STARTUP_MS);
    await waitFor(() => outboxRows().length === 0); // delivered and acked: nothing to resend
    await kill9(agent);

    c.start(id); // while the agent is dead
    agent = spawnAgent();
    await waitFor(() => received(id).length >= 2, STARTUP_MS);
    await waitFor(() => outboxRows().length === 0);
    await sleep(300); // a few more polls: nothing else may come
    expect(received(id)).toEqual(['scheduled', 'started']);
    await kill9(agent);

    c.complete(id);
    agent = spawnAgent();
    await waitFor(() => received(id).length >= 3, STARTUP_MS);
    await waitFor(() => outboxRows().length === 0);
    await sleep(300);
    const all = hub.events.filter((x) => x.data.eventId === id);
    expect(all.map((x) => short(x.type))).toEqual(['scheduled', 'started', 'completed']);
    expect(all.map((x) => x.id)).toEqual([
      `azure/${id}/scheduled`,
      `azure/${id}/started`,
      `azure/${id}/completed`,
    ]);
    expect(agent.child.exitCode).toBeNull();
  }, 90_000);

  it('keeps undelivered transitions across kill -9 while the hub is down, and delivers them in order', async () => {
    const c = t.sim.controller;
    hub.failWith = 503;
    const agent = spawnAgent();
    const [e1] = c.schedule({ type: 'Reboot', targets: { vms: ['solo'] }, notice: '1h' });
    await waitFor(() => outboxRows().length === 1, STARTUP_MS);
    const [e2] = c.schedule({ type: 'Freeze', targets: { vms: ['solo'] }, notice: '2h' });
    await waitFor(() => outboxRows().length === 2);
    c.start(e1!.eventId);
    await waitFor(() => outboxRows().length === 3);
    await waitFor(() => hub.requests.some((r) => r.path === '/api/v1/events')); // it did try
    expect(hub.events).toEqual([]);
    await kill9(agent);
    expect(outboxRows().map((r) => r.transition)).toEqual(['scheduled', 'scheduled', 'started']);

    c.complete(e1!.eventId); // while the agent is dead, too
    hub.failWith = undefined;
    spawnAgent();
    await waitFor(() => hub.events.length >= 4, STARTUP_MS);
    await waitFor(() => outboxRows().length === 0);
    await sleep(300);
    expect(hub.events.map((x) => `${x.data.eventId}:${short(x.type)}`)).toEqual([
      `${e1!.eventId}:scheduled`,
      `${e2!.eventId}:scheduled`,
      `${e1!.eventId}:started`,
      `${e1!.eventId}:completed`,
    ]);
    expect(new Set(hub.events.map((x) => x.id)).size).toBe(4);
    expect(hub.events.every((x) => x.source === '/forewarn/vms/solo')).toBe(true);
  }, 90_000);
});

describe('agent process lifecycle', () => {
  it('exits 0 promptly on SIGTERM', async () => {
    const agent = spawnAgent();
    await waitFor(() => hub.heartbeats.length > 0, STARTUP_MS); // running: it said hello to the hub
    const t0 = performance.now();
    agent.child.kill('SIGTERM');
    const result = await agent.exited;
    expect(result).toEqual({ code: 0, signal: null });
    expect(performance.now() - t0).toBeLessThan(5000);
  }, 30_000);

  it('keeps running and reports failures when the metadata service is unreachable', async () => {
    const config = join(dir, 'agent.yaml');
    writeFileSync(config, `hub:\n  url: ${hub.url}\n  heartbeat: 200ms\n`);
    const agent = spawnAgent(['--metadata-url', 'http://127.0.0.1:9', '-c', config]);
    const hb = await waitFor(() => {
      const last = hub.heartbeats.at(-1) as
        { sources: { source: string; consecutiveFailures: number; lastError?: string }[] } | undefined;
      return last && last.sources[0]!.consecutiveFailures >= 2 ? last : undefined;
    }, STARTUP_MS);
    expect(hb.sources[0]).toMatchObject({
      source: 'azure',
      lastError: expect.stringMatching(/cannot reach/),
    });
    expect(agent.child.exitCode).toBeNull();
    expect(hub.events).toEqual([]);
  }, 30_000);

  it.each([
    [
      'a poll interval under the floor',
      ['--poll-interval', '10ms'],
      /\/poll\/interval: 10 ms is below the 200 ms floor/,
    ],
    ['a malformed hub url', ['--hub-url', 'hub.example'], /\/hub\/url/],
  ])(
    'exits 2 on a bad config: %s',
    async (_name, extra, message) => {
      const agent = spawnAgent(extra);
      const result = await agent.exited;
      expect(result).toEqual({ code: 2, signal: null });
      expect(agent.stderr()).toMatch(message);
      expect(agent.stderr()).toMatch(/^forewarn agent: config: /);
    },
    30_000,
  );
});
