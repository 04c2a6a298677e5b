// Maintenance windows and blockers through a real hub, on a clock the test moves: a disruptive
// step waits outside its rule's window (and says until when), runs once the window opens, runs
// anyway as NotBefore nears (with the alert), and waits while a real HTTP blocker says no.
import { afterEach, describe, expect, it } from 'vitest';
import { READER, startHub, type TestHub } from '../helpers/hub.js';
import { cloudEvent, maintenance, publishOne } from '../helpers/hub-publish.js';
import { startRawReceiver, type RawReceiver } from '../helpers/raw-receiver.js';
import { waitFor } from '../helpers/wait.js';

let h: TestHub | undefined;
let receivers: RawReceiver[] = [];
afterEach(async () => {
  await h?.close();
  h = undefined;
  await Promise.all(receivers.map((r) => r.close()));
  receivers = [];
});

/** Real time passing from `start`, moved forward by `jump`. */
function clock(start: string) {
  const t0 = Date.now();
  const c = {
    offset: Date.parse(start) - t0,
    now: () => Date.now() + c.offset,
    jump: (ms: number) => (c.offset += ms),
  };
  return c;
}

async function receiver(): Promise<RawReceiver> {
  const r = await startRawReceiver();
  receivers.push(r);
  return r;
}

function rule(url: string, extra: Record<string, unknown>) {
  return {
    name: 'masked',
    match: { types: ['reboot'] },
    steps: [{ name: 'drain', action: 'webhook', disruptive: true, with: { url } }],
    ...extra,
  };
}

async function publish(data: Record<string, any>) {
  const res = await publishOne(h!, h!.agentToken(data.vm), cloudEvent(data));
  expect(res.status, res.text).toBe(200);
}

async function step(eventId: string): Promise<any> {
  const res = await h!.api('GET', `/api/v1/steps?event=azure/${eventId.toLowerCase()}`, undefined, READER);
  return res.body.steps[0];
}

async function audit(eventId: string): Promise<any[]> {
  const res = await h!.api('GET', `/api/v1/events/azure/${eventId.toLowerCase()}`, undefined, READER);
  return res.body.audit;
}

const WEEKDAY_NIGHTS = {
  days: ['mon', 'tue', 'wed', 'thu', 'fri'],
  start: '02:00',
  end: '04:00',
  timeZone: 'Europe/Berlin',
};

describe('maintenance windows', () => {
  it('holds a disruptive step outside the window, saying when it opens; runs it once open', async () => {
    const rx = await receiver();
    const c = clock('2026-11-23T00:30:00Z'); // Monday 01:30 in Berlin: 30 min before the window
    h = await startHub({ now: c.now, rules: [rule(rx.url, { window: WEEKDAY_NIGHTS })] });
    const data = maintenance('web-01', { notBefore: new Date(c.now() + 3 * 3600_000).toISOString() });
    await publish(data);
    const held = await waitFor(
      async () => ((await step(data.eventId))?.heldReason ? step(data.eventId) : undefined),
      10_000,
    );
    expect(held.status).toBe('pending');
    expect(held.heldReason).toBe(
      'rule masked runs disruptive steps only in its window mon,tue,wed,thu,fri 02:00–04:00 Europe/Berlin; it opens 2026-11-23T01:00:00.000Z',
    );
    expect((await audit(data.eventId)).find((a) => a.action === 'budget.held').detail).toMatchObject({
      cause: 'window',
    });
    expect(rx.calls).toEqual([]);

    c.jump(30 * 60_000); // 02:00 in Berlin
    await waitFor(() => rx.calls.length === 1, 10_000);
    const done = await waitFor(
      async () => ((await step(data.eventId))?.status === 'succeeded' ? step(data.eventId) : undefined),
      10_000,
    );
    expect(done.heldReason ?? null).toBeNull();
    expect(Date.parse(done.finishedAt)).toBeGreaterThanOrEqual(Date.parse('2026-11-23T01:00:00Z'));
  });

  it('runs it anyway outside the window when NotBefore is near, and the audit says so', async () => {
    const rx = await receiver();
    const c = clock('2026-11-28T12:00:00Z'); // Saturday: the window opens on Monday
    h = await startHub({ now: c.now, rules: [rule(rx.url, { window: WEEKDAY_NIGHTS })] });
    const data = maintenance('web-01', { notBefore: new Date(c.now() + 90_000).toISOString() });
    await publish(data);
    await waitFor(() => rx.calls.length === 1, 10_000);
    const forced = await waitFor(
      async () => (await audit(data.eventId)).find((a) => a.action === 'budget.overridden'),
      10_000,
    );
    expect(forced.detail).toMatchObject({ cause: 'window', vm: 'web-01' });
    expect(forced.detail.reason).toMatch(
      /only in its window .* it opens 2026-11-30T01:00:00.000Z; NotBefore .* is near, running anyway$/,
    );
    const metrics = await h.api('GET', '/metrics', undefined, READER);
    expect(metrics.body).toMatch(/forewarn_budget_decisions_total\{outcome="forced"\} 1/);
  });

  it('a rule without a window or blockers is not held', async () => {
    const rx = await receiver();
    const c = clock('2026-11-28T12:00:00Z');
    h = await startHub({ now: c.now, rules: [rule(rx.url, {})] });
    const data = maintenance('web-01', { notBefore: new Date(c.now() + 3600_000).toISOString() });
    await publish(data);
    await waitFor(() => rx.calls.length === 1, 10_000);
    expect((await audit(data.eventId)).map((a) => a.action)).not.toContain('budget.held');
  });
});

describe('blockers', () => {
  it('holds while a real HTTP blocker answers 503, runs once it answers 200', async () => {
    const rx = await receiver();
    const alerts = await receiver();
    let firing = true;
    alerts.decide = () => ({ status: firing ? 503 : 200 });
    const c = clock('2026-11-23T01:30:00Z');
    h = await startHub({
      now: c.now,
      rules: [
        rule(rx.url, {
          window: WEEKDAY_NIGHTS,
          blockers: [{ url: `${alerts.base}/no-alerts`, timeout: '2s' }],
        }),
      ],
    });
    const data = maintenance('web-01', { notBefore: new Date(c.now() + 3600_000).toISOString() });
    await publish(data);
    const held = await waitFor(
      async () => ((await step(data.eventId))?.heldReason ? step(data.eventId) : undefined),
      10_000,
    );
    expect(held.heldReason).toBe(
      `rule masked is blocked: blocker ${alerts.base}/no-alerts answered 503, not 200`,
    );
    expect((await audit(data.eventId)).find((a) => a.action === 'budget.held').detail).toMatchObject({
      cause: 'blocker',
    });
    // No pool: GET /api/v1/pools lists it apart, with its reason.
    const pools = await h.api('GET', '/api/v1/pools', undefined, READER);
    expect(pools.body).toMatchObject({
      pools: [],
      outsidePools: [{ vm: 'web-01', step: 'drain', rule: 'masked', reason: held.heldReason }],
    });
    expect(alerts.calls.length).toBeGreaterThanOrEqual(1);
    expect(rx.calls).toEqual([]);

    firing = false;
    c.jump(10_000); // the blocker's recheck is due
    await waitFor(() => rx.calls.length === 1, 10_000);
    expect(alerts.calls.at(-1)!.status).toBe(200);
  });

  it('an unreachable blocker blocks too (it cannot say all is well)', async () => {
    const rx = await receiver();
    const gone = await receiver();
    const url = `${gone.base}/ok`;
    await gone.close();
    receivers = receivers.filter((r) => r !== gone);
    const c = clock('2026-11-23T01:30:00Z');
    h = await startHub({ now: c.now, rules: [rule(rx.url, { blockers: [{ url }] })] });
    const data = maintenance('web-01', { notBefore: new Date(c.now() + 3600_000).toISOString() });
    await publish(data);
    const held = await waitFor(
      async () => ((await step(data.eventId))?.heldReason ? step(data.eventId) : undefined),
      10_000,
    );
    expect(held.heldReason).toMatch(new RegExp(`^rule masked is blocked: blocker ${url} failed: `));
    expect(rx.calls).toEqual([]);
  });

  it('PUT of a rule with a bad window or blocker: 400 naming the field, nothing stored; a good one takes effect', async () => {
    h = await startHub();
    const bad = [
      [
        { window: { start: '02:00', end: '04:00', timeZone: 'Europe/Berlinn' } },
        /^rule masked: \/window\/timeZone: unknown time zone/,
      ],
      [{ window: { start: '24:00', end: '04:00' } }, /^rule masked: \/window\/start: /],
      [{ blockers: [{ command: ['true'], timeout: 'never' }] }, /^rule masked: \/blockers\/0\/timeout: /],
    ] as const;
    for (const [extra, message] of bad) {
      const res = await h.api('PUT', '/api/v1/rules/masked', rule('http://127.0.0.1:1/hook', extra));
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(message);
    }
    expect((await h.api('GET', '/api/v1/rules', undefined, READER)).body.rules).toEqual([]);
    const good = rule('http://127.0.0.1:1/hook', { window: WEEKDAY_NIGHTS });
    expect((await h.api('PUT', '/api/v1/rules/masked', good)).status).toBe(200);
    expect(h.hub.rules.all()[0]!.window).toEqual(WEEKDAY_NIGHTS);
  });

  it('a rule with a bad time zone is refused when the hub starts, naming the rule and field', async () => {
    await expect(
      startHub({
        rules: [
          rule('http://127.0.0.1:1/hook', {
            window: { start: '02:00', end: '04:00', timeZone: 'Europe/Berlinn' },
          }),
        ],
      }),
    ).rejects.toThrow(/^rule masked: \/rules\/0\/window\/timeZone: unknown time zone "Europe\/Berlinn"/);
  });
});
