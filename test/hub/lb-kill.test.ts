// `forewarn hub` as a child process with a real HAProxy: the hub is killed (-9) while a VM is
// drained; after a restart on the same file its event completes while the VM is still down, the
// undo gives up (dead-lettered), and once the VM is back the reconciler (configured through
// loadBalancers.*) puts it back in the pool. A client sends requests through HAProxy throughout.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deriveAgentToken } from '../../src/hub/auth.js';
import { tempDir } from '../helpers/agent.js';
import { haproxySkipReason, startClient, startHaproxy, type TestHaproxy } from '../helpers/haproxy.js';
import { startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { cloudEvent, maintenance, publishOne } from '../helpers/hub-publish.js';
import { waitFor } from '../helpers/wait.js';

const AGENT_SECRET = 'lb-kill-test-agent-secret';
const ADMIN_TOKEN = 'lb-kill-test-admin-token';
const skip = haproxySkipReason();
if (skip) console.warn(`skipping hub kill -9 load-balancer test: ${skip}`);

let hp: TestHaproxy;
let hub: HubProcess | undefined;

function configFile(dir: string, socket: string): string {
  const lb = `socket: "${socket}", backend: web`;
  const path = join(dir, 'hub.yaml');
  writeFileSync(
    path,
    [
      'log: { level: info }',
      'executor: { baseBackoff: 50ms }',
      'loadBalancers: { reconcileEvery: 300ms, reconcileGrace: 0s }',
      'rules:',
      '  - name: lb',
      '    match: { types: [reboot] }',
      '    steps:',
      `      - { name: drain, action: haproxy, with: { ${lb}, operation: drain } }`,
      '    undo:',
      `      - { name: restore, action: haproxy, retry: { maxAttempts: 2, maxBackoff: 100ms }, with: { ${lb}, operation: ready, healthCheck: { path: /health, timeout: 1s } } }`,
      '',
    ].join('\n'),
  );
  return path;
}

async function api(path: string): Promise<any> {
  const res = await fetch(`${hub!.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(res.status).toBe(200);
  return res.json();
}

async function publish(data: Record<string, any>, transition: string) {
  const res = await publishOne(hub!, deriveAgentToken(AGENT_SECRET, data.vm), cloudEvent(data, transition));
  expect(res.status, res.text).toBe(200);
}

describe.skipIf(skip)('hub kill -9 while a VM is drained (real HAProxy, hub process)', () => {
  beforeAll(async () => {
    hp = await startHaproxy();
  }, 30_000);
  afterAll(async () => {
    await hp?.stop();
  });
  afterEach(async () => {
    await hub?.kill('SIGKILL');
    hub = undefined;
  });

  it('the VM ends back in the pool, and no client request failed', { timeout: 90_000 }, async () => {
    const dir = tempDir('forewarn-lb-kill-');
    const db = join(dir, 'hub.db');
    const config = configFile(dir, hp.socket);
    const env = { FOREWARN_AGENT_SECRET: AGENT_SECRET, FOREWARN_ADMIN_TOKEN: ADMIN_TOKEN };
    const client = startClient(hp.url);
    hub = await startHubProcess({ db, config, env });
    const data = maintenance('vm3');
    await publish(data, 'scheduled');
    await waitFor(async () => (await hp.mode('vm3')) === 'drain', 20_000);
    await waitFor(async () => {
      const { steps } = await api(`/api/v1/steps?event=azure/${data.eventId.toLowerCase()}`);
      return steps[0]?.status === 'succeeded';
    }, 20_000);
    expect((await hub.kill('SIGKILL')).signal).toBe('SIGKILL');

    // The VM reboots while no hub runs; a hub comes back; the event completes before the VM is up.
    await hp.backends[2]!.stop();
    hub = await startHubProcess({ db, config, env });
    await publish({ ...data, status: 'completed', notBefore: undefined }, 'completed');
    const dead = await waitFor(async () => {
      const { steps } = await api(`/api/v1/steps?event=azure/${data.eventId.toLowerCase()}`);
      return steps.find((s: any) => s.name === 'restore' && s.status === 'dead');
    }, 20_000);
    expect(dead.lastError).toMatch(/health check .* failed/);
    expect(await hp.mode('vm3')).toBe('drain');

    await hp.backends[2]!.start();
    await waitFor(async () => (await hp.mode('vm3')) === 'ready', 20_000);
    await waitFor(async () => (await hp.status('vm3')) === 'UP', 20_000);
    const ok = client.ok;
    await waitFor(() => client.ok > ok + 30, 15_000);
    await client.stop();
    expect(client.failed, client.errors.slice(0, 5).join('; ')).toBe(0);
    expect(hub.output()).toMatch(/restored a server its undo left out/);
  });
});
