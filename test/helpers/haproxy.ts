// Starts a REAL HAProxy (Debian package `haproxy`) for tests, in the foreground (-db) with its
// own config in a temp dir: a frontend on a free loopback port in front of 3 small Node HTTP
// backends (vm1..vm3, one per simulated VM), the runtime API on a temp unix socket and on a TCP
// port (both `level admin`), and a backend `mirror` whose vm1 tracks web/vm1. Plus a client that
// sends requests through HAProxy the whole time and counts failures.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { adminMode, runtimeCommand, serverState } from '../../src/actions/haproxy-runtime.js';
import { waitFor } from './wait.js';

export const HAPROXY = process.env.HAPROXY ?? '/usr/sbin/haproxy';

/** Undefined when haproxy is installed; else why to skip. Under CI a missing haproxy throws. */
export function haproxySkipReason(): string | undefined {
  try {
    accessSync(HAPROXY, fsConstants.X_OK);
    return undefined;
  } catch {
    const reason = `haproxy not found at ${HAPROXY}: apt-get install haproxy (or set HAPROXY=/path/to/haproxy)`;
    const ci = process.env.CI;
    if (ci && ci !== 'false' && ci !== '0') throw new Error(`${reason}; CI is set, so this fails the run`);
    return reason;
  }
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** A small HTTP backend: `/` answers its name, `/health` 200, `/slow?ms=N` holds the request N ms. */
export interface Backend {
  name: string;
  port: number;
  requests: number;
  running: boolean;
  stop(): Promise<void>;
  start(): Promise<void>;
}

async function startBackend(name: string, port = 0): Promise<Backend> {
  let server: http.Server | undefined;
  const b: Backend = {
    name,
    port,
    requests: 0,
    running: false,
    async start() {
      server = http.createServer((req, res) => {
        b.requests++;
        const url = new URL(req.url ?? '/', 'http://x');
        const ms = url.pathname === '/slow' ? Number(url.searchParams.get('ms') ?? 1000) : 5;
        setTimeout(() => res.end(url.pathname === '/health' ? 'ok' : name), ms);
      });
      await new Promise<void>((r) => server!.listen(b.port, '127.0.0.1', r));
      b.port = (server.address() as net.AddressInfo).port;
      b.running = true;
    },
    async stop() {
      b.running = false;
      server?.closeAllConnections();
      await new Promise((r) => server?.close(r));
    },
  };
  await b.start();
  return b;
}

export interface TestHaproxy {
  dir: string;
  /** The frontend clients use. */
  url: string;
  socket: string;
  statsPort: number;
  /** A runtime API socket at `level operator`: may read, may not set server states. */
  operatorPort: number;
  backends: Backend[];
  cli(command: string): Promise<string>;
  /** The admin state word of web/<server> from `show stat` (UP, DRAIN, MAINT, DOWN, ...). */
  status(server: string, backend?: string): Promise<string>;
  /** The admin mode from `show servers state` (ready, drain, maint), whatever the health. */
  mode(server: string, backend?: string): Promise<string>;
  stop(): Promise<void>;
}

function config(
  dir: string,
  fePort: number,
  statsPort: number,
  operatorPort: number,
  backends: Backend[],
): string {
  const servers = backends.map(
    (b) => `  server ${b.name} 127.0.0.1:${b.port} check inter 300ms fall 2 rise 1`,
  );
  const pins = backends.map((b) => `  use-server ${b.name} if { req.hdr(x-server) ${b.name} }`);
  return [
    'global',
    `  stats socket ${join(dir, 'admin.sock')} level admin`,
    `  stats socket ipv4@127.0.0.1:${statsPort} level admin`,
    `  stats socket ipv4@127.0.0.1:${operatorPort} level operator`,
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    'frontend fe',
    `  bind 127.0.0.1:${fePort}`,
    '  default_backend web',
    'backend web',
    '  balance roundrobin',
    ...pins,
    ...servers,
    'backend mirror',
    `  server vm1 127.0.0.1:${backends[0]!.port} track web/vm1`,
    '',
  ].join('\n');
}

export async function startHaproxy(): Promise<TestHaproxy> {
  const dir = await mkdtemp(join(tmpdir(), 'forewarn-haproxy-'));
  const backends: Backend[] = [];
  for (const n of ['vm1', 'vm2', 'vm3']) backends.push(await startBackend(n));
  const [fePort, statsPort, operatorPort] = [await freePort(), await freePort(), await freePort()];
  const cfg = join(dir, 'haproxy.cfg');
  await writeFile(cfg, config(dir, fePort, statsPort, operatorPort, backends));
  const socket = join(dir, 'admin.sock');
  const child: ChildProcess = spawn(HAPROXY, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const cli = (command: string) => runtimeCommand({ socket }, command);
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`haproxy exited: ${output}`);
      return (await cli('show info')).includes('Name: HAProxy');
    }, 15_000);
    // Every server checked and UP, so tests start from a known state.
    await waitFor(async () => {
      const rows = (await cli('show stat web 4 -1')).split('\n').filter((l) => l.startsWith('web,'));
      return rows.length === 3 && rows.every((r) => r.split(',')[17] === 'UP');
    }, 15_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    dir,
    url: `http://127.0.0.1:${fePort}`,
    socket,
    statsPort,
    operatorPort,
    backends,
    cli,
    async status(server, backend = 'web') {
      const row = (await cli(`show stat ${backend} 4 -1`))
        .split('\n')
        .find((l) => l.startsWith(`${backend},${server},`));
      return row?.split(',')[17] ?? 'missing';
    },
    async mode(server, backend = 'web') {
      return adminMode((await serverState({ socket }, backend, server)).adminState);
    },
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000).then(() => child.kill('SIGKILL'))]);
      for (const b of backends) await b.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Sends requests through HAProxy on `loops` keep-alive connections until stopped. */
export interface LoadClient {
  ok: number;
  failed: number;
  errors: string[];
  byServer: Record<string, number>;
  stop(): Promise<void>;
}

export function startClient(url: string, loops = 3): LoadClient {
  const agent = new http.Agent({ keepAlive: true, maxSockets: loops });
  const c: LoadClient = { ok: 0, failed: 0, errors: [], byServer: {}, stop: async () => {} };
  let stopped = false;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.get(url, { agent }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          if (res.statusCode === 200) {
            c.ok++;
            c.byServer[body] = (c.byServer[body] ?? 0) + 1;
          } else {
            c.failed++;
            c.errors.push(`${res.statusCode} ${body.slice(0, 100)}`);
          }
          resolve();
        });
      });
      req.on('error', (err) => {
        c.failed++;
        c.errors.push(err.message);
        resolve();
      });
    });
  const runs = Array.from({ length: loops }, async () => {
    while (!stopped) await one();
  });
  c.stop = async () => {
    stopped = true;
    await Promise.all(runs);
    agent.destroy();
  };
  return c;
}
