// The webhook action and the executor against a local receiver that fails on purpose: stable
// Idempotency-Key, HMAC signature, CloudEvents format, retries (5xx, 4xx, 429 + Retry-After,
// maxAttempts), the dead-letter and its redrive (with roles), and steps that expire at NotBefore.
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { HTTP } from 'cloudevents';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OPERATOR, READER, startHub, type TestHub } from '../helpers/hub.js';
import { cloudEvent, maintenance, publishOne } from '../helpers/hub-publish.js';
import { startRawReceiver, type RawReceiver } from '../helpers/raw-receiver.js';
import { waitFor } from '../helpers/wait.js';

const SECRET_ENV = 'FOREWARN_TEST_WEBHOOK_SECRET';
const SECRET = 'webhook-signing-secret';

let h: TestHub | undefined;
let rx: RawReceiver;
beforeEach(async () => {
  process.env[SECRET_ENV] = SECRET;
  rx = await startRawReceiver();
});
afterEach(async () => {
  await h?.close();
  await rx.close();
  h = undefined;
  delete process.env[SECRET_ENV];
});

async function withRule(step: Record<string, unknown>, params: Record<string, unknown> = {}) {
  h = await startHub({
    rules: [
      {
        name: 'notify',
        match: {},
        steps: [{ name: 'hook', action: 'webhook', ...step, with: { url: rx.url, ...params } }],
      },
    ],
  });
}

async function publish(data = maintenance('web-01')) {
  const res = await publishOne(h!, h!.agentToken(data.vm), cloudEvent(data));
  expect(res.status, res.text).toBe(200);
  return data;
}

/** The event's only step once it is finished (succeeded, dead or skipped). */
async function finishedStep(eventId: string, timeoutMs = 5000): Promise<any> {
  return waitFor(async () => {
    const res = await h!.api('GET', `/api/v1/steps?event=azure/${eventId.toLowerCase()}`, undefined, READER);
    const s = res.body.steps?.[0];
    return s && ['succeeded', 'dead', 'skipped'].includes(s.status) ? s : undefined;
  }, timeoutMs);
}

async function attempts(stepId: number): Promise<any[]> {
  const res = await h!.api('GET', `/api/v1/steps/${stepId}`, undefined, READER);
  expect(res.status).toBe(200);
  return res.body.attempts;
}

describe('webhook action', () => {
  it('keeps Idempotency-Key and custom headers across retries', async () => {
    await withRule({}, { headers: { 'X-Vm': '{{vm}}', 'x-static': 'yes' } });
    rx.script = [500, 500];
    const data = await publish();
    await waitFor(() => rx.calls.length === 3, 5000);
    const keys = new Set(rx.calls.map((c) => c.headers['idempotency-key']));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toMatch(/^fw-[0-9a-f]{32}$/);
    for (const c of rx.calls) {
      expect(c.headers).toMatchObject({
        'x-vm': 'web-01',
        'x-static': 'yes',
        'content-type': 'application/json; charset=utf-8',
      });
      expect(c.body).toMatchObject({ rule: 'notify', vm: 'web-01', event: { eventId: data.eventId } });
    }
  });

  it('sends a byte-identical body on every retry (a delivery count belongs in a header)', async () => {
    await withRule({});
    rx.script = [500, 500];
    await publish();
    await waitFor(() => rx.calls.length === 3, 5000);
    expect(rx.calls[1]!.raw).toBe(rx.calls[0]!.raw);
    expect(rx.calls[2]!.raw).toBe(rx.calls[0]!.raw);
  });

  it('keeps the body identical across retries even when the event changes in between', async () => {
    await withRule({});
    rx.script = [{ status: 429, headers: { 'retry-after': '1' } }];
    const data = await publish(maintenance('web-01', { resources: ['web-01'] }));
    await waitFor(() => rx.calls.length === 1, 3000);
    // Between the attempts, a sibling reports the same transition (merged: a new reporter).
    const sibling = { ...data, vm: 'web-02', mine: false };
    const res = await publishOne(
      h!,
      h!.agentToken('web-02'),
      cloudEvent(sibling, 'scheduled', { id: 'sib' }),
    );
    expect(res.body).toMatchObject({ merged: 1 });
    await waitFor(() => rx.calls.length === 2, 5000);
    expect(rx.calls[1]!.raw).toBe(rx.calls[0]!.raw);
  });

  it('signs with forewarn-signature t=…,kid=…,v1=HMAC-SHA256(secret, `${t}.${body}`) using secretEnv', async () => {
    await withRule({}, { secretEnv: SECRET_ENV, keyId: 'k1' });
    await publish();
    await waitFor(() => rx.calls.length === 1, 3000);
    const c = rx.calls[0]!;
    const sig = String(c.headers['forewarn-signature']);
    const m = /^t=(\d+),kid=([^,]+),v1=([0-9a-f]{64})$/.exec(sig);
    expect(m, sig).not.toBeNull();
    const [, t, kid, v1] = m!;
    expect(kid).toBe('k1');
    expect(Math.abs(Number(t) - Date.now() / 1000)).toBeLessThan(60);
    expect(v1).toBe(createHmac('sha256', SECRET).update(`${t}.${c.raw}`).digest('hex'));
    expect(v1).not.toBe(createHmac('sha256', 'another secret').update(`${t}.${c.raw}`).digest('hex'));
    expect(c.raw).not.toContain(SECRET);
  });

  it('an unset secretEnv dead-letters the step as NonRetryable without calling', async () => {
    await withRule({}, { secretEnv: 'FOREWARN_TEST_NOT_SET' });
    const data = await publish();
    const step = await finishedStep(data.eventId);
    expect(step).toMatchObject({ status: 'dead', deadReason: expect.stringMatching(/^NonRetryable/) });
    expect(rx.calls).toHaveLength(0);
  });

  it('format: cloudevents sends a structured CloudEvent whose id is the Idempotency-Key', async () => {
    await withRule(
      {},
      { format: 'cloudevents', body: { text: 'VM {{vm}}: {{event.type}}', id: '{{event.eventId}}' } },
    );
    const data = await publish();
    await waitFor(() => rx.calls.length === 1, 3000);
    const c = rx.calls[0]!;
    expect(c.headers['content-type']).toMatch(/^application\/cloudevents\+json/);
    const ce = HTTP.toEvent({ headers: c.headers as Record<string, string>, body: c.raw });
    expect(ce).toMatchObject({
      specversion: '1.0',
      id: c.headers['idempotency-key'],
      source: '/forewarn/hub',
      type: 'forewarn.maintenance.scheduled',
      datacontenttype: 'application/json',
      data: { text: 'VM web-01: reboot', id: data.eventId },
    });
  });
});

describe('retries and the dead-letter', () => {
  it('500, 500, 200: one success after 3 attempts, all recorded', async () => {
    await withRule({});
    rx.script = [500, 500];
    const data = await publish();
    const step = await finishedStep(data.eventId);
    expect(step).toMatchObject({ status: 'succeeded', attempts: 3 });
    const a = await attempts(step.id);
    expect(a.map((x) => [x.n, x.ok, x.status ?? null])).toEqual([
      [1, false, 500],
      [2, false, 500],
      [3, true, null],
    ]);
    expect(a[0]).toMatchObject({ retryable: true });
    await sleep(200);
    expect(rx.calls).toHaveLength(3);
  });

  it('400 is dead-lettered at once as NonRetryable', async () => {
    await withRule({});
    rx.script = [400];
    const data = await publish();
    const step = await finishedStep(data.eventId);
    expect(step).toMatchObject({ status: 'dead', attempts: 1, deadReason: 'NonRetryable (400)' });
    await sleep(300);
    expect(rx.calls).toHaveLength(1);
  });

  it('429 with Retry-After: 1 waits about a second before the next attempt', async () => {
    await withRule({});
    rx.script = [{ status: 429, headers: { 'retry-after': '1' } }];
    const data = await publish();
    const step = await finishedStep(data.eventId, 5000);
    expect(step).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(rx.calls[1]!.at - rx.calls[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('maxAttempts exhausted → dead as MaxDeliveryAttemptsExceeded', async () => {
    await withRule({ retry: { maxAttempts: 2 } });
    rx.script = [500, 500, 500];
    const data = await publish();
    const step = await finishedStep(data.eventId);
    expect(step).toMatchObject({ status: 'dead', attempts: 2, deadReason: 'MaxDeliveryAttemptsExceeded' });
    expect(step.lastError).toMatch(/500/);
    expect(rx.calls).toHaveLength(2);
  });

  it('GET /api/v1/dead-letter lists dead steps; redrive needs operate and re-runs them with the same key', async () => {
    await withRule({ retry: { maxAttempts: 1 } });
    rx.script = [400, 503];
    const a = await publish();
    const b = await publish();
    const [sa, sb] = [await finishedStep(a.eventId), await finishedStep(b.eventId)];
    expect([sa.status, sb.status]).toEqual(['dead', 'dead']);
    const dead = await h!.api('GET', '/api/v1/dead-letter', undefined, READER);
    expect(dead.status).toBe(200);
    expect(dead.body.steps.map((s: any) => s.id).sort()).toEqual([sa.id, sb.id].sort());
    expect(dead.body.steps.map((s: any) => s.deadReason).sort()).toEqual([
      'MaxDeliveryAttemptsExceeded',
      'NonRetryable (400)',
    ]);
    expect(dead.body.steps[0].params).toBeUndefined();
    const keys = rx.calls.map((c) => c.key);

    expect((await h!.api('POST', '/api/v1/dead-letter/redrive', {}, READER)).status).toBe(403);
    expect((await h!.api('POST', '/api/v1/dead-letter/redrive', {}, '')).status).toBe(401);
    const redrive = await h!.api('POST', '/api/v1/dead-letter/redrive', { ids: [sa.id, sb.id] }, OPERATOR);
    expect(redrive).toMatchObject({ status: 200, body: { redriven: 2 } });
    await waitFor(() => rx.calls.length === 4, 5000);
    expect(
      rx.calls
        .slice(2)
        .map((c) => c.key)
        .sort(),
    ).toEqual([...keys].sort());
    for (const e of [a, b]) expect(await finishedStep(e.eventId)).toMatchObject({ status: 'succeeded' });
    expect((await h!.api('GET', '/api/v1/dead-letter', undefined, READER)).body.steps).toEqual([]);
  });

  it('a lead step whose NotBefore passed before it could run is dead as Expired, never called', async () => {
    await withRule({ timing: { lead: '5m' } });
    const data = await publish(
      maintenance('web-01', { notBefore: new Date(Date.now() - 1000).toISOString() }),
    );
    const step = await finishedStep(data.eventId);
    expect(step).toMatchObject({ status: 'dead', deadReason: 'Expired' });
    expect(rx.calls).toHaveLength(0);
  });

  it('a receiver that keeps failing until past NotBefore: retries stop at the deadline, dead as Expired', async () => {
    await withRule({});
    rx.decide = () => ({ status: 500 });
    const notBefore = Date.now() + 1500;
    const data = await publish(maintenance('web-01', { notBefore: new Date(notBefore).toISOString() }));
    const step = await finishedStep(data.eventId, 6000);
    expect(step).toMatchObject({ status: 'dead', deadReason: 'Expired' });
    expect(step.attempts).toBeGreaterThan(1);
    expect(rx.calls.length).toBe(step.attempts);
    for (const c of rx.calls) expect(c.at).toBeLessThanOrEqual(notBefore);
  });

  it('runAfterDeadline: true runs a step even after NotBefore', async () => {
    await withRule({ runAfterDeadline: true });
    const data = await publish(
      maintenance('web-01', { notBefore: new Date(Date.now() - 1000).toISOString() }),
    );
    expect(await finishedStep(data.eventId)).toMatchObject({ status: 'succeeded' });
    expect(rx.calls).toHaveLength(1);
  });
});
