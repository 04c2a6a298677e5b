// `forewarn sim …` run in-process against a real simulator: the CLI's effect is checked through
// the control API and the VMs' metadata endpoints, not just its output.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { program } from '../../src/cli/program.js';
import { ApiError } from '../../src/cli/http-client.js';
import { booleanValue } from '../../src/cli/options.js';
import { startSimulator } from '../../src/cli/sim.js';
import { SimError } from '../../src/simulator/fleet.js';
import { createSimulator, type Simulator } from '../../src/simulator/server.js';
import { client, type Client } from '../helpers/sim-http.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const DIR = mkdtempSync(join(tmpdir(), 'forewarn-sim-cli-'));
/** A scenario with its own timeScale (60) and one step at 10m: 10 s real at 60, 0.5 s at 1200. */
const SCALED = join(DIR, 'scaled.yaml');
writeFileSync(
  SCALED,
  [
    'name: scaled',
    'timeScale: 60',
    'fleet:',
    '  - name: s-1',
    '  - name: s-2',
    'timeline:',
    '  - at: 10m',
    '    userReboot: s-1',
    '',
  ].join('\n'),
);

let sim: Simulator;
let url: string;
let api: Client;

beforeAll(async () => {
  sim = await createSimulator({ rateLimit: 0 });
  url = await sim.listen(0);
  api = client(url);
});

afterAll(async () => {
  await sim.close();
});

beforeEach(async () => {
  expect((await api.post('/sim/reset', { fleet: true })).status).toBe(200);
  for (const vm of [
    { name: 'web-1', pool: 'web', availabilitySet: 'web-as', faultDomain: 0 },
    { name: 'web-2', pool: 'web', availabilitySet: 'web-as', faultDomain: 1 },
    { name: 'db-1', pool: 'db' },
  ]) {
    expect((await api.post('/sim/vms', vm)).status).toBe(201);
  }
});

const commandsOf = (cmd: Command): Command[] => [cmd, ...cmd.commands.flatMap(commandsOf)];

interface Run {
  out: string;
  err: string;
  error?: unknown;
}

/** Runs `forewarn <args>` in a fresh command tree, capturing stdout and stderr. */
async function cli(...args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const capture = (sink: string[]) =>
    ((chunk: string | Uint8Array) => {
      sink.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
      return true;
    }) as typeof process.stdout.write;
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture(out));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture(err));
  const exit = vi.spyOn(process, 'exit').mockImplementation(((code?: number) => {
    throw new Error(`process.exit(${code}) called`);
  }) as typeof process.exit);
  // Subcommands added with addCommand do not inherit exitOverride from the root: set it on all.
  const root = program().exitOverride();
  for (const c of commandsOf(root)) c.exitOverride();
  let error: unknown;
  try {
    await root.parseAsync(['node', 'forewarn', ...args]);
  } catch (e) {
    error = e;
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
    exit.mockRestore();
  }
  return { out: out.join(''), err: err.join(''), error };
}

/** Runs a command that must succeed. */
async function ok(...args: string[]): Promise<string> {
  const run = await cli(...args, '--url', url);
  expect(run.error, `${args.join(' ')}: ${run.err}`).toBeUndefined();
  return run.out;
}

const events = async () => (await api.get('/sim/events')).body.events as Record<string, unknown>[];

describe('sim vm', () => {
  it('creates a VM with every option and lists the fleet', async () => {
    const out = await ok(
      'sim',
      'vm',
      'create',
      'app-1',
      '--pool',
      'app',
      '--availability-set',
      'app-as',
      '--zone',
      '3',
      '--fault-domain',
      '2',
      '--update-domain',
      '4',
      '--tag',
      'role=app',
      '--tag',
      'env=prod',
    );
    const printed = JSON.parse(out);
    const stored = (await api.get('/sim/vms/app-1')).body;
    expect(printed).toEqual(stored);
    expect(stored).toMatchObject({
      name: 'app-1',
      pool: 'app',
      availabilitySet: 'app-as',
      zone: '3',
      faultDomain: 2,
      updateDomain: 4,
      tags: { role: 'app', env: 'prod' },
    });

    const table = await ok('sim', 'vm', 'list');
    const lines = table.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+PROVIDER\s+POOL\s+AVAILABILITYSET/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['web-1', 'web-2', 'db-1', 'app-1']);
    expect(lines[4]).toContain(stored.id);

    const json = JSON.parse(await ok('sim', 'vm', 'list', '--json'));
    expect(json.vms.map((v: { name: string }) => v.name)).toEqual(['web-1', 'web-2', 'db-1', 'app-1']);
  });

  it('creates a VM of another cloud and schedules that cloud’s event on it', async () => {
    await ok('sim', 'vm', 'create', 'ec2-1', '--provider', 'aws', '--http-tokens', 'required');
    expect((await api.get('/sim/vms/ec2-1')).body).toMatchObject({ provider: 'aws', httpTokens: 'required' });
    expect(await ok('sim', 'event', 'schedule', '--type', 'spot-stop', '--vm', 'ec2-1')).toContain(
      'spot-stop',
    );
    expect((await events()).map((e) => [e.provider, e.type, e.resources])).toEqual([
      ['aws', 'spot-stop', ['ec2-1']],
    ]);
    const bad = await cli('sim', 'vm', 'create', 'x-1', '--provider', 'oracle', '--url', url);
    expect((bad.error as ApiError).status).toBe(400);
  });

  it('a duplicate VM fails with the server message', async () => {
    const run = await cli('sim', 'vm', 'create', 'web-1', '--url', url);
    expect(run.error).toBeInstanceOf(ApiError);
    expect((run.error as ApiError).status).toBe(409);
    expect((run.error as Error).message).toContain('web-1 already exists');
  });

  it('user reboot through the CLI is a User event', async () => {
    const out = JSON.parse(await ok('sim', 'vm', 'reboot', 'db-1', '--in', '5m'));
    expect(out).toMatchObject({ type: 'Reboot', source: 'User', resources: ['db-1'] });
    expect(Date.parse(out.notBefore) - Date.parse(out.createdAt)).toBe(300_000);
  });
});

describe('sim event', () => {
  it('schedules by pool with a notice, one event per availability set', async () => {
    const out = await ok('sim', 'event', 'schedule', '--type', 'Reboot', '--pool', 'web', '--in', '2m');
    const list = await events();
    expect(list).toHaveLength(1);
    const ev = list[0]!;
    expect(ev).toMatchObject({
      type: 'Reboot',
      status: 'Scheduled',
      source: 'Platform',
      resources: ['web-1', 'web-2'],
    });
    expect(Date.parse(ev.notBefore as string) - Date.parse(ev.createdAt as string)).toBe(120_000);
    expect(out).toMatch(/^EVENTID\s+TYPE\s+STATUS/);
    expect(out).toContain(ev.eventId as string);
    expect(out).toContain('web-1,web-2');
  });

  it('schedules by availability set and fault domain, and as a host failure', async () => {
    await ok(
      'sim',
      'event',
      'schedule',
      '--type',
      'Freeze',
      '--availability-set',
      'web-as',
      '--fault-domain',
      '1',
      '--duration',
      '5',
    );
    await ok('sim', 'event', 'schedule', '--type', 'Redeploy', '--vm', 'db-1', '--host-failure');
    const [freeze, failure] = await events();
    expect(freeze).toMatchObject({ type: 'Freeze', resources: ['web-2'], durationSeconds: 5 });
    expect(freeze!.audience).toEqual(['web-1', 'web-2']);
    expect(failure).toMatchObject({ type: 'Redeploy', resources: ['db-1'], status: 'Started' });
    const doc = (await api.get('/sim/vms/db-1/document')).body;
    expect(doc.Events[0]).toMatchObject({ EventStatus: 'Started', NotBefore: '' });
  });

  it('lists and cancels events', async () => {
    await ok('sim', 'event', 'schedule', '--type', 'Reboot', '--vm', 'db-1');
    await ok('sim', 'event', 'schedule', '--type', 'Freeze', '--vm', 'web-1');
    const [reboot, freeze] = await events();

    const table = await ok('sim', 'event', 'list');
    expect(table).toContain(reboot!.eventId as string);
    expect(table).toContain(freeze!.eventId as string);

    const canceled = JSON.parse(await ok('sim', 'event', 'cancel', reboot!.eventId as string));
    expect(canceled).toMatchObject({ eventId: reboot!.eventId, status: 'Canceled' });
    expect((await api.get(`/sim/events/${reboot!.eventId}`)).body.status).toBe('Canceled');

    const scheduled = JSON.parse(await ok('sim', 'event', 'list', '--status', 'Scheduled', '--json'));
    expect(scheduled.events.map((e: { eventId: string }) => e.eventId)).toEqual([freeze!.eventId]);
    const forDb = JSON.parse(await ok('sim', 'event', 'list', '--vm', 'db-1', '--json'));
    expect(forDb.events.map((e: { eventId: string }) => e.eventId)).toEqual([reboot!.eventId]);

    const again = await cli('sim', 'event', 'cancel', reboot!.eventId as string, '--url', url);
    expect((again.error as ApiError).status).toBe(409);
  });

  it('an unknown VM fails with the server message and schedules nothing', async () => {
    const run = await cli(
      'sim',
      'event',
      'schedule',
      '--type',
      'Reboot',
      '--vm',
      'web-1,ghost',
      '--url',
      url,
    );
    expect(run.error).toBeInstanceOf(ApiError);
    expect((run.error as Error).message).toContain('ghost');
    expect(await events()).toEqual([]);
  });

  it('a bad option value fails naming the option, before any request', async () => {
    const run = await cli(
      'sim',
      'event',
      'schedule',
      '--type',
      'Reboot',
      '--fault-domain',
      'x',
      '--url',
      url,
    );
    expect(run.error).toMatchObject({ code: 'commander.invalidArgument' });
    expect(run.err).toContain('--fault-domain');
    expect(run.err).toContain("'x'");
    expect(await events()).toEqual([]);

    const badDuration = await cli(
      'sim',
      'event',
      'schedule',
      '--type',
      'Reboot',
      '--pool',
      'web',
      '--in',
      '2 minutes',
      '--url',
      url,
    );
    expect(badDuration.err).toContain('--in');
    expect(await events()).toEqual([]);
  });
});

describe('sim fault', () => {
  it('--error-rate 1 --count 1 fails the VM once, then it answers again', async () => {
    const out = JSON.parse(
      await ok('sim', 'fault', 'set', '--vm', 'web-1', '--error-rate', '1', '--count', '1'),
    );
    expect(out.vms['web-1']).toEqual({ errorRate: 1, count: 1 });
    expect((await api.metadata('web-1')).status).toBe(500);
    const second = await api.metadata('web-1');
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ Events: [] });
    expect((await api.get('/sim/faults')).body).toEqual({ vms: {} });
  });

  it('sets and clears a global fault', async () => {
    await ok(
      'sim',
      'fault',
      'set',
      '--error-rate',
      '1',
      '--error-status',
      '503',
      '--endpoints',
      'scheduledevents',
    );
    expect((await api.metadata('db-1')).status).toBe(503);
    expect(JSON.parse(await ok('sim', 'fault', 'show')).global).toMatchObject({ errorStatus: 503 });
    await ok('sim', 'fault', 'clear');
    expect((await api.metadata('db-1')).status).toBe(200);
  });

  it('fault clear leaves per-VM faults; fault clear --all removes them too', async () => {
    await ok('sim', 'fault', 'set', '--error-rate', '1');
    await ok('sim', 'fault', 'set', '--vm', 'web-1', '--error-rate', '1', '--error-status', '503');
    expect(JSON.parse(await ok('sim', 'fault', 'clear'))).toEqual({
      vms: { 'web-1': { errorRate: 1, errorStatus: 503 } },
    });
    expect((await api.metadata('web-1')).status).toBe(503);
    expect(JSON.parse(await ok('sim', 'fault', 'clear', '--all'))).toEqual({ vms: {} });
    expect((await api.metadata('web-1')).status).toBe(200);

    const both = await cli('sim', 'fault', 'clear', '--all', '--vm', 'web-1', '--url', url);
    expect(both.error).toMatchObject({ code: 'commander.conflictingOption' });
  });
});

describe('durations on the command line', () => {
  it('a bare number is seconds, as in the control API', async () => {
    await ok(
      'sim',
      'event',
      'schedule',
      '--type',
      'Reboot',
      '--vm',
      'db-1',
      '--in',
      '90',
      '--started-for',
      '30',
    );
    const [ev] = await events();
    expect(Date.parse(ev!.notBefore as string) - Date.parse(ev!.createdAt as string)).toBe(90_000);
    expect(Date.parse(ev!.expectedEndAt as string) - Date.parse(ev!.notBefore as string)).toBe(30_000);

    const moved = JSON.parse(await ok('sim', 'event', 'reschedule', ev!.eventId as string, '--in', '1.5'));
    expect(Date.parse(moved.notBefore) - Date.parse(moved.history.at(-1).at)).toBe(1500);

    const reboot = JSON.parse(await ok('sim', 'vm', 'reboot', 'web-1', '--in', '0'));
    expect(reboot.notBefore).toBe(reboot.createdAt);

    try {
      expect(JSON.parse(await ok('sim', 'config', '--enable-delay', '120')).enableDelayMs).toBe(120_000);
      expect(JSON.parse(await ok('sim', 'config', '--enable-delay', '0')).enableDelayMs).toBe(0);
    } finally {
      await api.patch('/sim/config', { enableDelay: 0 });
    }
  });

  it('a negative number or a number with a stray word is still refused before any request', async () => {
    for (const value of ['-5', '90 s', '1e3']) {
      const run = await cli(
        'sim',
        'event',
        'schedule',
        '--type',
        'Reboot',
        '--vm',
        'db-1',
        '--in',
        value,
        '--url',
        url,
      );
      expect(run.error, value).toMatchObject({ code: 'commander.invalidArgument' });
      expect(run.err).toContain('--in');
    }
    expect(await events()).toEqual([]);
  });
});

describe('sim config', () => {
  it('--etag and --strict-approvals take on|off (or true|false), and nothing else', async () => {
    try {
      expect(JSON.parse(await ok('sim', 'config', '--etag', 'on', '--strict-approvals', 'ON'))).toMatchObject(
        {
          etag: true,
          strictApprovals: true,
        },
      );
      expect(
        JSON.parse(await ok('sim', 'config', '--etag', 'false', '--strict-approvals', 'off')),
      ).toMatchObject({
        etag: false,
        strictApprovals: false,
      });
      for (const option of ['--etag', '--strict-approvals']) {
        const before = (await api.get('/sim/config')).body;
        const run = await cli('sim', 'config', option, 'yes', '--url', url);
        expect(run.error, option).toMatchObject({ code: 'commander.invalidArgument' });
        expect(run.err).toContain(option);
        expect(run.err).toContain('on or off');
        expect((await api.get('/sim/config')).body).toEqual(before);
      }
    } finally {
      await api.patch('/sim/config', { etag: false, strictApprovals: false });
    }
  });
});

describe('sim serve', () => {
  const offsetOf = (sim: Simulator) => {
    const status = sim.player.status()!;
    return Date.parse(status.steps[0]!.dueAt) - Date.parse(status.startedAt);
  };

  it("an explicit time scale beats the scenario's timeScale, for the step offsets too", async () => {
    const explicit = await startSimulator({ port: 0, scenario: SCALED, timeScale: 1200, logLevel: 'silent' });
    try {
      expect(explicit.sim.controller.timeScale).toBe(1200);
      expect(explicit.sim.player.status()!.timeScale).toBe(1200);
      expect(offsetOf(explicit.sim)).toBe(500);
    } finally {
      await explicit.sim.close();
    }
    const embedded = await startSimulator({ port: 0, scenario: SCALED, logLevel: 'silent' });
    try {
      expect(embedded.sim.controller.timeScale).toBe(60);
      expect(offsetOf(embedded.sim)).toBe(10_000);
    } finally {
      await embedded.sim.close();
    }
  });

  it('--default-vm naming no VM of the loaded scenario fails at start-up, saying so', async () => {
    await expect(
      startSimulator({ port: 0, scenario: SCALED, defaultVm: 'ghost', logLevel: 'silent' }),
    ).rejects.toThrow(/^--default-vm: no VM named "ghost" in the fleet \(s-1, s-2\)/);
    const run = await cli('sim', 'serve', '--scenario', SCALED, '--default-vm', 'ghost', '--port', '0');
    expect(run.error).toBeInstanceOf(SimError);
    expect((run.error as Error).message).toMatch(/--default-vm: no VM named "ghost"/);
  });

  it('--default-vm without a scenario starts with a warning; the unprefixed path says what is missing', async () => {
    const started = await startSimulator({ port: 0, defaultVm: 'later', logLevel: 'silent' });
    try {
      expect(started.warnings.join('\n')).toMatch(/default VM "later" does not exist yet/);
      const res = await fetch(`${started.url}/metadata/scheduledevents?api-version=2020-07-01`, {
        headers: { Metadata: 'true' },
      });
      expect(res.status).toBe(404);
      expect((await res.json()).error).toMatch(/default VM "later" \(--default-vm\) does not exist/);
    } finally {
      await started.sim.close();
    }
  });

  it('boolean values: true/false, 1/0, yes/no, on/off in any case; anything else is refused', () => {
    for (const v of ['true', 'TRUE', '1', 'yes', 'On']) expect(booleanValue(v), v).toBe(true);
    for (const v of ['false', 'False', '0', 'no', 'OFF']) expect(booleanValue(v), v).toBe(false);
    for (const v of ['', 'maybe', '2', 'y']) expect(() => booleanValue(v), v).toThrow(/on\|off/);
  });

  it('a bad boolean environment variable fails before start-up, naming the variable', async () => {
    for (const name of ['FOREWARN_SIM_ETAG', 'FOREWARN_SIM_STRICT_APPROVALS']) {
      vi.stubEnv(name, 'maybe');
      try {
        const run = await cli('sim', 'serve', '--port', '0');
        expect(run.error, name).toMatchObject({ code: 'commander.invalidArgument' });
        expect(run.err).toContain(`from env '${name}'`);
        expect(run.err).toContain('true|false');
      } finally {
        vi.unstubAllEnvs();
      }
    }
  });

  it('as a process: FOREWARN_SIM_ETAG=false is off, and FOREWARN_SIM_TIME_SCALE beats the scenario', async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FOREWARN_')));
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'sim',
        '--scenario',
        SCALED,
        '--port',
        '0',
        '--log-level',
        'silent',
      ],
      {
        cwd: ROOT,
        env: {
          ...env,
          FOREWARN_SIM_ETAG: 'false',
          FOREWARN_SIM_STRICT_APPROVALS: 'Off',
          FOREWARN_SIM_TIME_SCALE: '1200',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      let stderr = '';
      child.stderr!.setEncoding('utf8');
      const base = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no banner: ${stderr}`)), 20_000);
        child.stderr!.on('data', (chunk: string) => {
          stderr += chunk;
          const m = /forewarn simulator on (http:\/\/[^:]+:\d+)/.exec(stderr);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        void exited.then((code) => reject(new Error(`exited ${code}: ${stderr}`)));
      });
      expect(stderr).toContain('time x1200');
      const sim = client(base);
      expect((await sim.get('/sim/config')).body).toMatchObject({
        timeScale: 1200,
        etag: false,
        strictApprovals: false,
      });
      expect((await sim.get('/sim/scenario')).body.timeScale).toBe(1200);
      expect((await sim.metadata('s-1')).text).not.toBe('');
      const res = await fetch(`${base}/vm/s-1/metadata/scheduledevents?api-version=2020-07-01`, {
        headers: { Metadata: 'true' },
      });
      expect(res.headers.get('etag')).toBeNull();
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 30_000);
});

describe('sim approvals, reset and help', () => {
  it('shows the StartRequests the simulator received', async () => {
    await ok('sim', 'event', 'schedule', '--type', 'Reboot', '--vm', 'db-1');
    const [ev] = await events();
    const id = ev!.eventId as string;
    expect(
      (await api.metadata('db-1', { method: 'POST', json: { StartRequests: [{ EventId: id }] } })).status,
    ).toBe(200);

    const all = JSON.parse(await ok('sim', 'approvals'));
    expect(all.approvals).toEqual([expect.objectContaining({ vm: 'db-1', eventId: id, result: 'approved' })]);
    const none = JSON.parse(await ok('sim', 'approvals', '--event', 'other'));
    expect(none.approvals).toEqual([]);
  });

  it('reset drops events and keeps the fleet; --fleet drops the VMs too', async () => {
    await ok('sim', 'event', 'schedule', '--type', 'Freeze', '--pool', 'web');
    expect(JSON.parse(await ok('sim', 'reset'))).toEqual({ ok: true, vms: 3 });
    expect(await events()).toEqual([]);
    expect((await api.get('/sim/vms')).body.vms).toHaveLength(3);
    expect(JSON.parse(await ok('sim', 'reset', '--fleet'))).toEqual({ ok: true, vms: 0 });
    expect((await api.get('/sim/vms')).body.vms).toEqual([]);
  });

  it('takes the URL from FOREWARN_SIM_URL', async () => {
    vi.stubEnv('FOREWARN_SIM_URL', url);
    try {
      const run = await cli('sim', 'vm', 'list', '--json');
      expect(run.error).toBeUndefined();
      expect(JSON.parse(run.out).vms).toHaveLength(3);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('forewarn sim --help lists the subcommands', async () => {
    const run = await cli('sim', '--help');
    expect(run.error).toMatchObject({ code: 'commander.helpDisplayed' });
    for (const word of ['serve', 'event', 'vm', 'fault', 'scenario', 'approvals', 'reset']) {
      expect(run.out).toMatch(new RegExp(`^\\s+${word}\\b`, 'm'));
    }
  });

  it('forewarn sim --help says where the server options are', async () => {
    const run = await cli('sim', '--help');
    expect(run.out).toContain('forewarn sim serve --help');
    for (const option of ['--port', '--scenario', '--time-scale', '--etag', '--default-vm'])
      expect(run.out).toContain(option);
  });

  it('forewarn sim event schedule --help documents the targets', async () => {
    const run = await cli('sim', 'event', 'schedule', '--help');
    expect(run.error).toMatchObject({ code: 'commander.helpDisplayed' });
    for (const option of [
      '--type',
      '--pool',
      '--availability-set',
      '--fault-domain',
      '--tag',
      '--in',
      '--host-failure',
      '--url',
    ]) {
      expect(run.out).toContain(option);
    }
  });
});
