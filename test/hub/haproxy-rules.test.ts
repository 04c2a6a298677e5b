// Through the hub, with a REAL HAProxy: a rule drains the VM's server on `scheduled` and puts it
// back as its undo on `completed` (after the VM answers its health check) or `canceled` (at
// once), driven by ingesting an agent's CloudEvents. A client sends requests through HAProxy the
// whole time, also while the drained VM's backend is down for its "reboot".
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { READER, startHub, type TestHub } from '../helpers/hub.js';
import { cloudEvent, maintenance, publishOne } from '../helpers/hub-publish.js';
import { haproxySkipReason, startClient, startHaproxy, type TestHaproxy } from '../helpers/haproxy.js';
import { waitFor } from '../helpers/wait.js';

const skip = haproxySkipReason();
if (skip) console.warn(`skipping HAProxy hub tests: ${skip}`);

let hp: TestHaproxy;
let h: TestHub | undefined;

function lbRule(socket: string) {
  const lb = { socket, backend: 'web', server: '{{vm}}' };
  return {
    name: 'lb',
    match: { types: ['reboot'] },
    steps: [{ name: 'drain', action: 'haproxy', with: { ...lb, operation: 'drain', drainTimeout: '10s' } }],
    undo: [
      {
        name: 'restore',
        action: 'haproxy',
        with: { ...lb, operation: 'ready', healthCheck: { path: '/health', timeout: '1s' } },
        retry: { maxAttempts: 100, maxBackoff: '500ms' },
      },
    ],
  };
}

async function publish(data: Record<string, any>, transition: string) {
  const res = await publishOne(h!, h!.agentToken(data.vm), cloudEvent(data, transition));
  expect(res.status, res.text).toBe(200);
}

async function steps(eventId: string): Promise<any[]> {
  const res = await h!.api('GET', `/api/v1/steps?event=azure/${eventId.toLowerCase()}`, undefined, READER);
  expect(res.status).toBe(200);
  return res.body.steps;
}

async function settled(eventId: string, n: number): Promise<Record<string, any>> {
  const all = await waitFor(async () => {
    const s = await steps(eventId);
    return s.length === n && s.every((x) => x.status === 'succeeded' || x.status === 'dead') ? s : undefined;
  }, 20_000);
  return Object.fromEntries(all.map((s) => [s.name, s]));
}

describe.skipIf(skip)('hub rules with a haproxy step (real HAProxy)', () => {
  beforeAll(async () => {
    hp = await startHaproxy();
  }, 30_000);
  afterAll(async () => {
    await hp?.stop();
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
    for (const b of hp.backends) if (!b.running) await b.start();
    for (const s of ['vm1', 'vm2', 'vm3']) await hp.cli(`set server web/${s} state ready`);
  });

  it('scheduled → drained; the VM reboots unnoticed; completed → back only once it is healthy', async () => {
    h = await startHub({ rules: [lbRule(hp.socket)] });
    const client = startClient(hp.url);
    const data = maintenance('vm1');
    await publish(data, 'scheduled');
    await waitFor(async () => (await hp.status('vm1')) === 'DRAIN', 15_000);
    const drained = await settled(data.eventId, 1);
    expect(drained.drain).toMatchObject({ status: 'succeeded', phase: 'do' });

    // The reboot: vm1's backend is gone; HAProxy sees it DOWN, clients see nothing.
    await hp.backends[0]!.stop();
    await publish({ ...data, status: 'started', notBefore: undefined }, 'started');
    await waitFor(async () => (await hp.status('vm1')).includes('DOWN'), 15_000);
    await publish({ ...data, status: 'completed', notBefore: undefined }, 'completed');

    // The restore waits for the health check: retried, still drained while the VM is down.
    const retried = await waitFor(async () => {
      const restore = (await steps(data.eventId)).find((s) => s.name === 'restore');
      return restore && restore.attempts >= 2 && restore.status !== 'succeeded' ? restore : undefined;
    }, 15_000);
    expect(retried.lastError).toMatch(/web\/vm1 stays drain: health check .* failed/);
    expect(await hp.mode('vm1')).toBe('drain');

    await hp.backends[0]!.start();
    const done = await settled(data.eventId, 2);
    expect(done.restore).toMatchObject({ status: 'succeeded', phase: 'undo' });
    await waitFor(async () => (await hp.status('vm1')) === 'UP', 15_000);
    const okAtUp = client.ok;
    const servedAtUp = client.byServer.vm1 ?? 0;
    await waitFor(() => client.ok > okAtUp + 30 && (client.byServer.vm1 ?? 0) > servedAtUp, 15_000);
    await client.stop();
    expect(client.failed, client.errors.slice(0, 5).join('; ')).toBe(0);

    // The history shows each step with its attempts and timestamps.
    const detail = await h.api('GET', `/api/v1/steps/${done.restore.id}`, undefined, READER);
    expect(detail.body.attempts.length).toBeGreaterThanOrEqual(2);
    expect(detail.body.attempts.at(-1)).toMatchObject({ ok: true, detail: 'web/vm1 is ready' });
    expect(Date.parse(detail.body.attempts.at(-1).finishedAt)).toBeGreaterThan(
      Date.parse(drained.drain.finishedAt),
    );
  });

  it('canceled while drained → restored at once', async () => {
    h = await startHub({ rules: [lbRule(hp.socket)] });
    const data = maintenance('vm2');
    await publish(data, 'scheduled');
    await waitFor(async () => (await hp.status('vm2')) === 'DRAIN', 15_000);
    await publish({ ...data, status: 'canceled' }, 'canceled');
    const done = await settled(data.eventId, 2);
    expect(done.restore).toMatchObject({ status: 'succeeded', phase: 'undo' });
    expect(await hp.status('vm2')).toBe('UP');
  });

  it('a VM with no server in the backend is dead-lettered at once as non-retryable', async () => {
    h = await startHub({ rules: [lbRule(hp.socket)] });
    const data = maintenance('db-1');
    await publish(data, 'scheduled');
    const done = await settled(data.eventId, 1);
    expect(done.drain).toMatchObject({ status: 'dead', attempts: 1, deadReason: 'NonRetryable' });
    expect(done.drain.lastError).toMatch(/web\/db-1: No such server/);
  });

  it('a rule with bad haproxy params is refused when it loads', async () => {
    await expect(
      startHub({
        rules: [
          {
            ...lbRule(hp.socket),
            steps: [{ name: 'drain', action: 'haproxy', with: { operation: 'drain' } }],
          },
        ],
      }),
    ).rejects.toThrow(/haproxy: give exactly one of socket/);
  });
});
