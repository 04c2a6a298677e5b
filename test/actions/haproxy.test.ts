// The haproxy action against a REAL HAProxy in front of 3 Node backends, with a client sending
// requests through it the whole time: drain (waits for sessions, no client request fails),
// maint, ready after a health check, a state that does not take (a tracking server), unknown
// backend/server (not retryable), an unreachable runtime socket (retryable), and load-time checks.
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ActionContext, ActionResult } from '../../src/actions/action.js';
import { haproxyAction } from '../../src/actions/haproxy.js';
import type { EventRow } from '../../src/store/store.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { tempDir } from '../helpers/agent.js';
import { haproxySkipReason, startClient, startHaproxy, type TestHaproxy } from '../helpers/haproxy.js';
import { waitFor } from '../helpers/wait.js';

const skip = haproxySkipReason();
if (skip) console.warn(`skipping HAProxy action tests: ${skip}`);

let hp: TestHaproxy;
let store: SqliteStore;

const event: EventRow = {
  key: 'azure/e1',
  provider: 'azure',
  eventId: 'E1',
  type: 'reboot',
  status: 'scheduled',
  origin: 'platform',
  resources: ['vm1'],
  reporters: ['vm1'],
  firstSeenAt: new Date().toISOString(),
  updatedAt: new Date().toISOString(),
  lastTransition: 'scheduled',
  raw: {},
};

function ctx(
  vm: string,
  signal = AbortSignal.timeout(20_000),
  over?: { transition: 'completed' | 'canceled'; at: string },
): ActionContext {
  return {
    event: over
      ? { ...event, status: over.transition, lastTransition: over.transition, updatedAt: over.at }
      : event,
    transition: over?.transition ?? 'scheduled',
    vm,
    rule: 'lb',
    step: 'drain',
    phase: 'do',
    idempotencyKey: 'k',
    attempt: 1,
    signal,
    store,
    log: pino({ level: 'silent' }),
    now: Date.now,
    eventUrl: 'http://hub/events/azure/e1',
    notifyCommand: () => {},
  };
}

async function run(vm: string, params: Record<string, unknown>, signal?: AbortSignal): Promise<ActionResult> {
  haproxyAction.validate(params);
  return haproxyAction.run(ctx(vm, signal), params);
}

const unix = (extra: Record<string, unknown>) => ({ socket: hp.socket, backend: 'web', ...extra });

describe.skipIf(skip)('haproxy action (real HAProxy)', () => {
  beforeAll(async () => {
    store = new SqliteStore(join(tempDir('forewarn-hp-store-'), 'hub.db'));
    hp = await startHaproxy();
  }, 30_000);
  afterAll(async () => {
    await hp?.stop();
    await store?.close();
  });
  afterEach(async () => {
    for (const b of hp.backends) if (!b.running) await b.start();
    for (const s of ['vm1', 'vm2', 'vm3']) await hp.cli(`set server web/${s} state ready`);
    await hp.cli('set server mirror/vm1 state ready');
  });

  it('drain: waits until the server has no sessions; no client request fails, even when the VM then goes away', async () => {
    const client = startClient(hp.url);
    // A long request pinned to vm1 holds a session open while the drain starts.
    let slowDone = 0;
    const slow = fetch(`${hp.url}/slow?ms=1500`, { headers: { 'x-server': 'vm1' } }).then(async (r) => {
      slowDone = Date.now();
      return { status: r.status, body: await r.text() };
    });
    await waitFor(
      async () => Number((await hp.cli('show stat web 4 -1')).split('\nweb,vm1,')[1]?.split(',')[2]) > 0,
    );

    const result = await run('vm1', unix({ operation: 'drain', drainTimeout: '20s' }));
    const finished = Date.now();
    expect(result, JSON.stringify(result)).toMatchObject({
      ok: true,
      output: {
        backend: 'web',
        server: 'vm1',
        before: { mode: 'ready' },
        after: { mode: 'drain' },
        sessions: 0,
      },
    });
    // It waited for the pinned request rather than trusting the reply.
    expect(await slow).toEqual({ status: 200, body: 'vm1' });
    expect(slowDone).toBeGreaterThan(0);
    expect(slowDone).toBeLessThanOrEqual(finished);
    expect(await hp.status('vm1')).toBe('DRAIN');

    // Drained: the VM can reboot without anyone noticing.
    const servedBefore = client.byServer.vm1 ?? 0;
    await hp.backends[0]!.stop();
    const okAtStop = client.ok;
    await waitFor(() => client.ok > okAtStop + 50, 15_000);
    await client.stop();
    expect(client.failed, client.errors.slice(0, 5).join('; ')).toBe(0);
    expect(client.byServer.vm1 ?? 0).toBe(servedBefore);
    expect(client.byServer.vm2).toBeGreaterThan(0);
  });

  it('drain with sessions that outlast drainTimeout: retryable failure, or success with onDrainTimeout: proceed', async () => {
    const slow = fetch(`${hp.url}/slow?ms=4000`, { headers: { 'x-server': 'vm2' } });
    await waitFor(
      async () => Number((await hp.cli('show stat web 4 -1')).split('\nweb,vm2,')[1]?.split(',')[2]) > 0,
    );
    const failed = await run('vm2', unix({ operation: 'drain', drainTimeout: '300ms' }));
    expect(failed).toMatchObject({ ok: false, retryable: true });
    expect(failed.detail).toMatch(/web\/vm2 is drain but still has 1 sessions/);
    const proceeded = await run(
      'vm2',
      unix({ operation: 'drain', drainTimeout: '300ms', onDrainTimeout: 'proceed' }),
    );
    expect(proceeded).toMatchObject({ ok: true, output: { sessions: 1 } });
    expect((await slow).status).toBe(200);
  });

  it('maint over TCP takes the server out at once, ready puts it back; the server name comes from a tag template', async () => {
    await store.heartbeat('db-7', { identity: { tags: { lbServer: 'vm3' } } }, new Date().toISOString());
    const tcp = { address: `127.0.0.1:${hp.statsPort}`, backend: 'web', server: '{{tags.lbServer}}' };
    expect(await run('db-7', { ...tcp, operation: 'maint' })).toMatchObject({
      ok: true,
      detail: 'web/vm3 is maint',
      output: { after: { mode: 'maint' } },
    });
    expect(await hp.status('vm3')).toBe('MAINT');
    expect(await run('db-7', { ...tcp, operation: 'ready' })).toMatchObject({
      ok: true,
      detail: 'web/vm3 is ready',
    });
    expect(await hp.status('vm3')).not.toMatch(/MAINT|DRAIN/);
  });

  it('an explicit map names the server for a VM', async () => {
    const r = await run('web-host-a', {
      socket: hp.socket,
      map: { 'web-host-a': 'web/vm2' },
      operation: 'maint',
    });
    expect(r).toMatchObject({ ok: true, output: { backend: 'web', server: 'vm2' } });
    expect(await hp.status('vm2')).toBe('MAINT');
    const unmapped = await run('web-host-b', {
      socket: hp.socket,
      map: { 'web-host-a': 'web/vm2' },
      operation: 'maint',
    });
    expect(unmapped).toMatchObject({ ok: false, retryable: false });
    expect(unmapped.detail).toMatch(/map has no entry for VM web-host-b/);
  });

  it('ready with a health check: stays drained while the VM is down (retryable), restores once it answers', async () => {
    expect(await run('vm1', unix({ operation: 'drain' }))).toMatchObject({ ok: true });
    await hp.backends[0]!.stop();
    const params = unix({ operation: 'ready', healthCheck: { path: '/health', timeout: '2s' } });
    const down = await run('vm1', params);
    expect(down).toMatchObject({ ok: false, retryable: true });
    expect(down.detail).toMatch(
      /web\/vm1 stays drain: health check http:\/\/127\.0\.0\.1:\d+\/health failed/,
    );
    expect(await hp.mode('vm1')).toBe('drain');

    await hp.backends[0]!.start();
    const before = hp.backends[0]!.requests;
    expect(await run('vm1', params)).toMatchObject({ ok: true, output: { after: { mode: 'ready' } } });
    expect(hp.backends[0]!.requests).toBeGreaterThan(before);
    await waitFor(async () => (await hp.status('vm1')) === 'UP', 10_000);
  });

  it('ready with afterHeartbeat on completed waits for the agent to report after the event; on canceled it does not', async () => {
    await hp.cli('set server web/vm2 state drain');
    const params = unix({ operation: 'ready', afterHeartbeat: true });
    haproxyAction.validate(params);
    const completedAt = new Date().toISOString();
    const completed = { transition: 'completed' as const, at: completedAt };
    await store.heartbeat('vm2', { identity: {} }, new Date(Date.now() - 60_000).toISOString());
    const waiting = await haproxyAction.run(ctx('vm2', undefined, completed), params);
    expect(waiting).toMatchObject({ ok: false, retryable: true });
    expect(waiting.detail).toMatch(
      /web\/vm2 stays drain: no heartbeat from vm2's agent since the event completed/,
    );
    expect(await hp.mode('vm2')).toBe('drain');

    const canceled = await haproxyAction.run(
      ctx('vm2', undefined, { transition: 'canceled', at: completedAt }),
      params,
    );
    expect(canceled).toMatchObject({ ok: true });
    await hp.cli('set server web/vm2 state drain');
    await store.heartbeat('vm2', { identity: {} }, new Date(Date.parse(completedAt) + 1).toISOString());
    expect(await haproxyAction.run(ctx('vm2', undefined, completed), params)).toMatchObject({
      ok: true,
      detail: 'web/vm2 is ready',
    });
  });

  it('a state that does not take is a retryable failure (ready on a server tracking one in maint)', async () => {
    await hp.cli('set server web/vm1 state maint');
    const r = await run('vm1', { socket: hp.socket, backend: 'mirror', operation: 'ready' });
    expect(r).toMatchObject({ ok: false, retryable: true, output: { after: { mode: 'maint' } } });
    expect(r.detail).toMatch(/mirror\/vm1: asked for ready but show servers state says maint/);
  });

  it('unknown backend or server is not retryable and changes nothing', async () => {
    const before = await hp.cli('show servers state');
    const noServer = await run('vm9', unix({ operation: 'drain' }));
    expect(noServer).toMatchObject({ ok: false, retryable: false });
    expect(noServer.detail).toMatch(/web\/vm9: No such server/);
    const noBackend = await run('vm1', { socket: hp.socket, backend: 'nope', operation: 'maint' });
    expect(noBackend).toMatchObject({ ok: false, retryable: false });
    expect(noBackend.detail).toMatch(/nope: Can't find backend/);
    const badName = await run('vm1', {
      socket: hp.socket,
      backend: 'web',
      server: 'vm1 state maint',
      operation: 'maint',
    });
    expect(badName).toMatchObject({ ok: false, retryable: false });
    const strip = (s: string) => s.replace(/^(\d+ \S+ \d+ \S+ \S+ \d+ \d+ \d+ \d+) \d+/gm, '$1');
    expect(strip(await hp.cli('show servers state'))).toBe(strip(before));
  });

  it('a runtime API socket below admin level is not retryable and changes nothing', async () => {
    const r = await run('vm1', {
      address: `127.0.0.1:${hp.operatorPort}`,
      backend: 'web',
      operation: 'maint',
    });
    expect(r).toMatchObject({ ok: false, retryable: false });
    expect(r.detail).toMatch(/web\/vm1: Permission denied/);
    expect(await hp.mode('vm1')).toBe('ready');
  });

  it('an unreachable runtime API is retryable', async () => {
    const gone = await run('vm1', {
      socket: join(hp.dir, 'no-such.sock'),
      backend: 'web',
      operation: 'drain',
    });
    expect(gone).toMatchObject({ ok: false, retryable: true });
    expect(gone.detail).toMatch(/runtime API unix:.*no-such\.sock: .*ENOENT/);
    const refused = await run('vm1', { address: '127.0.0.1:1', backend: 'web', operation: 'drain' });
    expect(refused).toMatchObject({ ok: false, retryable: true });
    expect(refused.detail).toMatch(/ECONNREFUSED/);
  });
});

describe('haproxy action: params checked when rules load', () => {
  const ok = { socket: '/run/haproxy/admin.sock', backend: 'web', operation: 'drain' };
  it.each([
    [{ ...ok, operation: 'remove' }, /operation must be one of drain, maint, ready/],
    [{ ...ok, address: '127.0.0.1:9999' }, /exactly one of socket .* or address/],
    [{ backend: 'web', operation: 'drain' }, /exactly one of socket/],
    [{ ...ok, socket: undefined, address: 'nohost' }, /address must be host:port/],
    [{ ...ok, backend: undefined }, /give backend .* or map/],
    [{ ...ok, backend: undefined, map: { a: 'web' } }, /map.a must be "backend\/server"/],
    [{ ...ok, drainTimeout: 'soon' }, /drainTimeout/],
    [{ ...ok, onDrainTimeout: 'ignore' }, /onDrainTimeout must be fail or proceed/],
    [{ ...ok, operation: 'maint', drainTimeout: '5s' }, /apply to drain only/],
    [{ ...ok, healthCheck: { path: '/h' } }, /healthCheck applies to ready only/],
    [{ ...ok, operation: 'ready', healthCheck: { path: 'h' } }, /healthCheck.path must start with \//],
    [{ ...ok, operation: 'ready', healthCheck: { url: 'ftp://x' } }, /healthCheck.url must be an http/],
    [{ ...ok, operation: 'ready', healthCheck: { expectStatus: 99 } }, /expectStatus must be an HTTP status/],
    [{ ...ok, operation: 'ready', healthCheck: { port: 80 } }, /unknown field healthCheck.port/],
    [{ ...ok, sock: '/x' }, /unknown field sock/],
    [{ ...ok, afterHeartbeat: true }, /afterHeartbeat applies to ready only/],
    [{ ...ok, operation: 'ready', afterHeartbeat: 'yes' }, /afterHeartbeat must be true or false/],
  ])('%j is refused', (params, message) => {
    const p = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined));
    expect(() => haproxyAction.validate(p)).toThrow(message);
  });

  it('good params pass', () => {
    expect(() => haproxyAction.validate(ok)).not.toThrow();
    expect(() =>
      haproxyAction.validate({
        address: '127.0.0.1:9999',
        map: { vm1: 'web/vm1' },
        operation: 'ready',
        healthCheck: { url: 'http://{{vm}}:8080/health', expectStatus: 204, timeout: '3s' },
      }),
    ).not.toThrow();
  });
});
