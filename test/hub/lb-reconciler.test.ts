// The load-balancer reconciler with a REAL HAProxy: a VM whose event is over but whose server
// is still drained (its undo dead-lettered while the VM was down and the hub was then stopped;
// or the rule was deleted while the VM was drained) is put back; a VM still inside its event,
// or one its undo already restored, is left alone.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, READER, startHub, TEST_STORE, type TestHub } from '../helpers/hub.js';
import { cloudEvent, maintenance, publishOne } from '../helpers/hub-publish.js';
import { haproxySkipReason, startHaproxy, type TestHaproxy } from '../helpers/haproxy.js';
import { waitFor } from '../helpers/wait.js';

const skip = haproxySkipReason();
if (skip) console.warn(`skipping load-balancer reconciler tests: ${skip}`);

let hp: TestHaproxy;
let h: TestHub | undefined;

function lbRule(socket: string, undo = true) {
  const lb = { socket, backend: 'web' };
  return {
    name: 'lb',
    match: { types: ['reboot'] },
    steps: [{ name: 'drain', action: 'haproxy', with: { ...lb, operation: 'drain' } }],
    ...(undo
      ? {
          undo: [
            {
              name: 'restore',
              action: 'haproxy',
              with: { ...lb, operation: 'ready', healthCheck: { path: '/health', timeout: '1s' } },
              retry: { maxAttempts: 2, maxBackoff: '100ms' },
            },
          ],
        }
      : {}),
  };
}

async function publish(data: Record<string, any>, transition: string) {
  const res = await publishOne(h!, h!.agentToken(data.vm), cloudEvent(data, transition));
  expect(res.status, res.text).toBe(200);
}

async function stepsSettled(eventId: string, n: number): Promise<Record<string, any>> {
  const all = await waitFor(async () => {
    const res = await h!.api('GET', `/api/v1/steps?event=azure/${eventId.toLowerCase()}`, undefined, READER);
    const s = res.body.steps as any[];
    return s.length === n && s.every((x) => x.status === 'succeeded' || x.status === 'dead') ? s : undefined;
  }, 20_000);
  return Object.fromEntries(all.map((s) => [s.name, s]));
}

async function auditOf(eventId: string): Promise<any[]> {
  const res = await h!.api('GET', `/api/v1/events/azure/${eventId}`, undefined, READER);
  expect(res.status).toBe(200);
  return res.body.audit.filter((a: any) => a.actor === 'lb-reconciler');
}

describe.skipIf(skip)('load-balancer reconciler (real HAProxy)', () => {
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

  // Restarts the hub on the same SQLite file; restart.test.ts covers a restart on PostgreSQL.
  it.skipIf(TEST_STORE === 'postgres')(
    'undo dead-lettered while the VM was down, hub stopped: after restart the reconciler restores it',
    async () => {
      const pools = [{ name: 'web', match: { vms: ['vm*'] }, maxUnavailable: 1 }];
      h = await startHub({ rules: [lbRule(hp.socket)], lbReconcileIntervalMs: 0, pools });
      const dbPath = h.dbPath;
      const data = maintenance('vm1');
      await publish(data, 'scheduled');
      await stepsSettled(data.eventId, 1);
      expect(await hp.mode('vm1')).toBe('drain');
      await hp.backends[0]!.stop();
      await publish({ ...data, status: 'completed', notBefore: undefined }, 'completed');
      const steps = await stepsSettled(data.eventId, 2);
      expect(steps.restore).toMatchObject({ status: 'dead', deadReason: 'MaxDeliveryAttemptsExceeded' });
      // Still out of service: its pool slot stays taken (until the lease expires, or it is back).
      const inUse = async () =>
        (await h!.api('GET', '/api/v1/pools', undefined, READER)).body.pools[0].inUse.map((s: any) => s.vm);
      expect(await inUse()).toEqual(['vm1']);
      await h.close();
      h = undefined;
      expect(await hp.mode('vm1')).toBe('drain');

      // The VM is back; a hub starts on the same store with the reconciler on.
      await hp.backends[0]!.start();
      h = await startHub({
        rules: [lbRule(hp.socket)],
        dbPath,
        lbReconcileIntervalMs: 200,
        lbReconcileGraceMs: 0,
        pools,
      });
      await waitFor(async () => (await hp.mode('vm1')) === 'ready', 15_000);
      const audit = await waitFor(async () => {
        const a = await auditOf(data.eventId);
        return a.length >= 2 ? a.sort((x, y) => x.id - y.id) : undefined;
      });
      expect(audit).toMatchObject([
        {
          action: 'lb.restored',
          detail: { vm: 'vm1', server: 'web/vm1', was: 'drain', result: 'web/vm1 is ready' },
        },
        { action: 'budget.released', detail: { vm: 'vm1', slots: 1 } },
      ]);
      expect(await inUse()).toEqual([]);
      // Once restored, later passes leave it alone (an operator may drain it for other reasons).
      await hp.cli('set server web/vm1 state drain');
      expect(await h.hub.lbReconciler.reconcile()).toMatchObject({ checked: 0 });
      expect(await hp.mode('vm1')).toBe('drain');
    },
  );

  it('the rule was deleted while the VM was drained: no undo ran, the reconciler restores it', async () => {
    h = await startHub({ lbReconcileIntervalMs: 0, lbReconcileGraceMs: 0 });
    const put = await h.api('PUT', '/api/v1/rules/lb', lbRule(hp.socket, false), ADMIN);
    expect(put.status, JSON.stringify(put.body)).toBeLessThan(300);
    const data = maintenance('vm2');
    await publish(data, 'scheduled');
    await stepsSettled(data.eventId, 1);
    expect(await hp.mode('vm2')).toBe('drain');
    expect((await h.api('DELETE', '/api/v1/rules/lb', undefined, ADMIN)).status).toBeLessThan(300);
    await publish({ ...data, status: 'canceled' }, 'canceled');
    await h.hub.idle();
    expect(await hp.mode('vm2')).toBe('drain');

    const report = await h.hub.lbReconciler.reconcile();
    expect(report).toEqual({ checked: 1, restored: ['web/vm2'], alreadyReady: [], failed: [] });
    expect(await hp.mode('vm2')).toBe('ready');
    const metrics = await h.api('GET', '/metrics', undefined, READER);
    expect(metrics.body).toMatch(/forewarn_lb_reconciled_total\{outcome="restored"\} 1/);
  });

  it('leaves alone a VM still inside its event and one its undo restored', async () => {
    h = await startHub({ rules: [lbRule(hp.socket)], lbReconcileIntervalMs: 0, lbReconcileGraceMs: 0 });
    const inside = maintenance('vm3');
    await publish(inside, 'scheduled');
    await stepsSettled(inside.eventId, 1);
    const done = maintenance('vm1');
    await publish(done, 'scheduled');
    await stepsSettled(done.eventId, 1);
    await publish({ ...done, status: 'canceled' }, 'canceled');
    expect((await stepsSettled(done.eventId, 2)).restore).toMatchObject({ status: 'succeeded' });

    expect(await h.hub.lbReconciler.reconcile()).toEqual({
      checked: 0,
      restored: [],
      alreadyReady: [],
      failed: [],
    });
    expect(await hp.mode('vm3')).toBe('drain');
    expect(await hp.mode('vm1')).toBe('ready');
  });

  it('a second event of the same VM that keeps it drained holds the restore back', async () => {
    h = await startHub({
      rules: [lbRule(hp.socket, false)],
      lbReconcileIntervalMs: 0,
      lbReconcileGraceMs: 0,
    });
    const first = maintenance('vm2');
    const second = maintenance('vm2');
    await publish(first, 'scheduled');
    await publish(second, 'scheduled');
    await stepsSettled(first.eventId, 1);
    await stepsSettled(second.eventId, 1);
    await publish({ ...first, status: 'canceled' }, 'canceled');
    await h.hub.idle();
    expect(await h.hub.lbReconciler.reconcile()).toMatchObject({ checked: 0, restored: [] });
    expect(await hp.mode('vm2')).toBe('drain');
    await publish({ ...second, status: 'completed', notBefore: undefined }, 'completed');
    await h.hub.idle();
    expect(await h.hub.lbReconciler.reconcile()).toMatchObject({ restored: ['web/vm2'] });
    expect(await hp.mode('vm2')).toBe('ready');
  });
});
