// A private nats-server (-js) per test: its own temp dir, free port and generated authorization
// (forewarn nats-config's block), so tests never share streams and can kill or restart it.
// Missing binary: tests skip with a message locally, and fail in CI (CI=true).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { authorizationBlock, hubUser, vmUser } from '../../src/nats/authorization.js';
import type { HubNatsConfig, NatsConnectionConfig } from '../../src/nats/config.js';
import { DEFAULT_CONSUMER, DEFAULT_STREAM } from '../../src/nats/config.js';
import { tempDir } from './agent.js';
import { waitFor } from './wait.js';

export const NATS_SERVER = process.env.FOREWARN_TEST_NATS_SERVER ?? '/usr/sbin/nats-server';
export const HUB_PASSWORD = 'hub-password';
export const vmPassword = (vm: string) => `pw-${vm}`;

/** True when tests may run; in CI a missing nats-server throws instead of skipping. */
export function natsOrSkip(): boolean {
  if (existsSync(NATS_SERVER)) return true;
  const why = `${NATS_SERVER} is missing (apt-get install nats-server)`;
  if (process.env.CI === 'true') throw new Error(why);
  console.warn(`skipped: ${why}`);
  return false;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const c = tcpConnect({ host: '127.0.0.1', port });
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });

export interface TestNats {
  url: string;
  dir: string;
  /** Connection settings of the hub user, with test-friendly timings. */
  hub(overrides?: Partial<HubNatsConfig>): HubNatsConfig;
  /** Connection settings of a VM's user. */
  agent(vm: string): NatsConnectionConfig;
  stop(): Promise<void>;
  /** Starts it again on the same port and storage (what JetStream kept is still there). */
  restart(): Promise<void>;
}

export async function startNats(vms: string[]): Promise<TestNats> {
  const dir = tempDir('forewarn-nats-');
  const port = await freePort();
  const users = [hubUser('hub', HUB_PASSWORD), ...vms.map((vm) => vmUser(vm, vmPassword(vm)))];
  const conf = join(dir, 'nats-server.conf');
  writeFileSync(
    conf,
    `listen: 127.0.0.1:${port}\njetstream { store_dir: ${JSON.stringify(join(dir, 'js'))} }\n${authorizationBlock(users)}`,
  );
  let child: ChildProcess | undefined;
  let out = '';
  const start = async () => {
    child = spawn(NATS_SERVER, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor(() => {
      if (child!.exitCode !== null) throw new Error(`nats-server exited:\n${out}`);
      return listening(port);
    }, 10_000);
  };
  const stop = async () => {
    if (!child || child.exitCode !== null) return;
    const c = child;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  };
  await start();
  const url = `nats://127.0.0.1:${port}`;
  const base = { servers: [url], stream: DEFAULT_STREAM, timeoutMs: 5000, commands: true };
  return {
    url,
    dir,
    hub: (overrides = {}) => ({
      ...base,
      user: 'hub',
      password: HUB_PASSWORD,
      consumer: DEFAULT_CONSUMER,
      maxAckPending: 1024,
      ackWaitMs: 30_000,
      duplicateWindowMs: 120_000,
      maxAgeMs: 86_400_000,
      ...overrides,
    }),
    agent: (vm) => ({ ...base, user: vm, password: vmPassword(vm) }),
    stop,
    restart: async () => {
      await stop();
      await start();
    },
  };
}
