// Rules over real HTTP, publishing CloudEvents as an agent: matching, timing (immediate, lead
// before NotBefore, rescheduled, canceled with undo), Event Grid filters explained per clause by
// POST /api/v1/rules/test, and the rules API (roles, validation naming the path).
// Timing bounds are generous: these check behaviour, not speed.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN, OPERATOR, READER, startHub, type TestHub } from '../helpers/hub.js';
import { cloudEvent, maintenance, publishOne } from '../helpers/hub-publish.js';
import { startRawReceiver, type RawReceiver } from '../helpers/raw-receiver.js';
import { waitFor } from '../helpers/wait.js';

let h: TestHub | undefined;
let rx: RawReceiver | undefined;
afterEach(async () => {
  await h?.close();
  await rx?.close();
  h = rx = undefined;
});

async function setup(rules: (url: string) => unknown[]) {
  rx = await startRawReceiver();
  h = await startHub({ rules: rules(rx.url) });
  return { h, rx };
}

const at = (msFromNow: number) => new Date(Date.now() + msFromNow).toISOString();

async function publish(data: Record<string, any>, transition = 'scheduled', id?: string) {
  const res = await publishOne(h!, h!.agentToken(data.vm), cloudEvent(data, transition, id ? { id } : {}));
  expect(res.status, res.text).toBe(200);
  return res.body;
}

async function stepsOf(eventId: string): Promise<any[]> {
  await h!.hub.idle();
  const res = await h!.api('GET', `/api/v1/steps?event=azure/${eventId.toLowerCase()}`, undefined, READER);
  expect(res.status).toBe(200);
  return res.body.steps;
}

const hook = (url: string, extra: Record<string, unknown> = {}) => ({
  name: 'hook',
  action: 'webhook',
  with: { url },
  ...extra,
});

describe('timing', () => {
  it('an immediate step fires at once, with the event, rule and VM in the body', async () => {
    await setup((url) => [{ name: 'now', match: { types: ['reboot'] }, steps: [hook(url)] }]);
    const data = maintenance('web-01');
    const t0 = Date.now();
    await publish(data);
    await waitFor(() => rx!.calls.length === 1, 3000);
    expect(rx!.calls[0]!.at - t0).toBeLessThan(2000);
    expect(rx!.calls[0]!.body).toMatchObject({
      rule: 'now',
      step: 'hook',
      phase: 'do',
      vm: 'web-01',
      transition: 'scheduled',
      event: { eventId: data.eventId, type: 'reboot', notBefore: data.notBefore },
    });
  });

  it('a rule that does not match does nothing', async () => {
    await setup((url) => [{ name: 'freeze-only', match: { types: ['freeze'] }, steps: [hook(url)] }]);
    const data = maintenance('web-01');
    await publish(data);
    expect(await stepsOf(data.eventId)).toEqual([]);
    await sleep(300);
    expect(rx!.calls).toHaveLength(0);
  });

  it('lead: 2s before a NotBefore 3 s away fires about 1 s later, before NotBefore', async () => {
    await setup((url) => [{ name: 'lead', match: {}, steps: [hook(url, { timing: { lead: '2s' } })] }]);
    const t0 = Date.now();
    const notBefore = t0 + 3000;
    await publish(maintenance('web-01', { notBefore: new Date(notBefore).toISOString() }));
    await sleep(500);
    expect(rx!.calls, 'fired too early').toHaveLength(0);
    await waitFor(() => rx!.calls.length === 1, 4000);
    const fired = rx!.calls[0]!.at;
    expect(fired).toBeGreaterThanOrEqual(notBefore - 2000 - 50);
    expect(fired).toBeLessThan(notBefore);
  });

  it('a NotBefore closer than the lead fires at once', async () => {
    await setup((url) => [{ name: 'lead', match: {}, steps: [hook(url, { timing: { lead: '5m' } })] }]);
    const t0 = Date.now();
    const notBefore = t0 + 2000;
    await publish(maintenance('web-01', { notBefore: new Date(notBefore).toISOString() }));
    await waitFor(() => rx!.calls.length === 1, 3000);
    expect(rx!.calls[0]!.at - t0).toBeLessThan(1500);
    expect(rx!.calls[0]!.at).toBeLessThan(notBefore);
  });

  it('rescheduled earlier moves a pending lead step, which then fires before the new NotBefore', async () => {
    await setup((url) => [{ name: 'lead', match: {}, steps: [hook(url, { timing: { lead: '2s' } })] }]);
    const data = maintenance('web-01', { notBefore: at(60_000) });
    await publish(data);
    const [pending] = await stepsOf(data.eventId);
    expect(pending).toMatchObject({
      status: 'pending',
      dueAt: new Date(Date.parse(data.notBefore) - 2000).toISOString(),
    });
    const notBefore = Date.now() + 3000;
    await publish(
      { ...data, notBefore: new Date(notBefore).toISOString(), previousNotBefore: data.notBefore },
      'rescheduled',
    );
    const [moved] = await stepsOf(data.eventId);
    expect(moved).toMatchObject({ id: pending.id, dueAt: new Date(notBefore - 2000).toISOString() });
    await waitFor(() => rx!.calls.length === 1, 4000);
    expect(rx!.calls[0]!.at).toBeLessThan(notBefore);
    expect(rx!.calls[0]!.at).toBeGreaterThanOrEqual(notBefore - 2000 - 50);
  });

  it('rescheduled later moves the due time and deadline later', async () => {
    await setup((url) => [{ name: 'lead', match: {}, steps: [hook(url, { timing: { lead: '10s' } })] }]);
    const data = maintenance('web-01', { notBefore: at(60_000) });
    await publish(data);
    const later = at(120_000);
    await publish({ ...data, notBefore: later }, 'rescheduled');
    const [step] = await stepsOf(data.eventId);
    expect(step).toMatchObject({
      status: 'pending',
      dueAt: new Date(Date.parse(later) - 10_000).toISOString(),
      deadline: later,
    });
  });

  it('every reschedule moves the step, also back to a time it had before (A → B → C → B → C)', async () => {
    await setup((url) => [{ name: 'lead', match: {}, steps: [hook(url, { timing: { lead: '10s' } })] }]);
    const data = maintenance('web-01', { notBefore: at(60_000) });
    await publish(data);
    const [b, c] = [at(120_000), at(180_000)];
    // As the agent reports them: a distinct id per change, and the NotBefore it moved from.
    let previous = data.notBefore as string;
    for (const [n, to] of [b, c, b, c].entries()) {
      await publish({ ...data, notBefore: to, previousNotBefore: previous }, 'rescheduled', `change-${n}`);
      previous = to;
      const [step] = await stepsOf(data.eventId);
      expect(step, `after change ${n} to ${to}`).toMatchObject({
        status: 'pending',
        dueAt: new Date(Date.parse(to) - 10_000).toISOString(),
        deadline: to,
      });
      const detail = await h!.api('GET', `/api/v1/events/azure/${data.eventId}`, undefined, READER);
      expect(detail.body.event.notBefore, `event after change ${n}`).toBe(to);
    }
  });

  it('canceled skips the pending steps and runs the undo steps', async () => {
    await setup((url) => [
      {
        name: 'drain',
        match: { types: ['reboot'] },
        steps: [{ name: 'out', action: 'webhook', timing: { lead: '10s' }, with: { url: `${url}?out` } }],
        undo: [{ name: 'back', action: 'webhook', with: { url: `${url}?back` } }],
      },
    ]);
    const data = maintenance('web-01', { notBefore: at(60_000) });
    await publish(data);
    expect((await stepsOf(data.eventId)).map((s) => s.status)).toEqual(['pending']);
    await publish({ ...data, status: 'canceled' }, 'canceled');
    await waitFor(() => rx!.calls.length === 1, 3000);
    expect(rx!.calls[0]!.path).toBe('/hook?back');
    expect(rx!.calls[0]!.body).toMatchObject({
      rule: 'drain',
      step: 'back',
      phase: 'undo',
      transition: 'canceled',
    });
    const steps = await waitFor(async () => {
      const s = await stepsOf(data.eventId);
      return s.length === 2 && s.every((x) => x.status !== 'pending' && x.status !== 'running')
        ? s
        : undefined;
    });
    const byName = Object.fromEntries(steps.map((s) => [s.name, s]));
    expect(byName.out).toMatchObject({ status: 'skipped', phase: 'do' });
    expect(byName.back).toMatchObject({ status: 'succeeded', phase: 'undo' });
    await sleep(200);
    expect(rx!.calls.map((c) => c.path)).toEqual(['/hook?back']);
  });

  it('a rule on completed acts even though the event’s NotBefore has passed (NotBefore is no deadline then)', async () => {
    await setup((url) => [{ name: 'done', match: { transitions: ['completed'] }, steps: [hook(url)] }]);
    const data = maintenance('web-01', { notBefore: at(-60_000), status: 'completed' });
    await publish(data, 'completed');
    const steps = await waitFor(async () => {
      const s = await stepsOf(data.eventId);
      return s[0] && s[0].status !== 'pending' && s[0].status !== 'running' ? s : undefined;
    });
    expect(steps[0], JSON.stringify(steps[0])).toMatchObject({ status: 'succeeded' });
    expect(rx!.calls).toHaveLength(1);
  });
});

describe('filters explained by POST /api/v1/rules/test', () => {
  const event = (o: Record<string, unknown> = {}) => maintenance('web-01', { durationSeconds: 60, ...o });
  async function explain(rule: unknown, ev = event()) {
    const res = await h!.api('POST', '/api/v1/rules/test', { event: ev, rule }, READER);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.results[0];
  }
  const rule = (filters: unknown[], match: Record<string, unknown> = {}) => ({
    name: 'f',
    match: { ...match, filters },
    steps: [{ name: 'log', action: 'log' }],
  });

  it('string operators are case-insensitive in values and keys', async () => {
    await setup(() => []);
    const r = await explain(
      rule([
        {
          operatorType: 'StringIn',
          key: 'data.description',
          values: ['HOST SERVER IS UNDERGOING MAINTENANCE.'],
        },
        { operatorType: 'StringBeginsWith', key: 'DATA.TYPE', values: ['REB'] },
        { operatorType: 'StringContains', key: 'data.vm', values: ['WEB'] },
      ]),
    );
    expect(r.matched).toBe(true);
    expect(r.clauses.filter((c: any) => c.clause.startsWith('filters'))).toHaveLength(3);
    const strict = await explain(
      rule([{ operatorType: 'StringIn', key: 'data.type', values: ['REBOOT'], caseSensitive: true }]),
    );
    expect(strict.matched).toBe(false);
  });

  it('NumberGreaterThan on data.durationSeconds', async () => {
    await setup(() => []);
    const f = [{ operatorType: 'NumberGreaterThan', key: 'data.durationSeconds', value: 30 }];
    expect((await explain(rule(f), event({ durationSeconds: 60 }))).matched).toBe(true);
    const no = await explain(rule(f), event({ durationSeconds: 10 }));
    expect(no.matched).toBe(false);
    expect(no.clauses.find((c: any) => c.clause === 'filters[0]')).toMatchObject({
      matched: false,
      reason: expect.stringContaining('10'),
    });
  });

  it('StringNotIn on a missing key does not match without matchMissing, and does with it', async () => {
    await setup(() => []);
    const f = { operatorType: 'StringNotIn', key: 'data.zone', values: ['1'] };
    const no = await explain(rule([f]));
    expect(no.matched).toBe(false);
    expect(no.clauses.find((c: any) => c.clause === 'filters[0]').reason).toMatch(/missing/);
    expect((await explain(rule([{ ...f, matchMissing: true }]))).matched).toBe(true);
  });

  it('explains every clause, matched or not, for each loaded rule', async () => {
    await setup(() => [
      {
        name: 'reboots',
        match: { types: ['reboot'], origins: ['platform'], vms: ['web-*'] },
        steps: [{ name: 'l', action: 'log' }],
      },
      {
        name: 'freezes',
        match: { types: ['freeze'], transitions: ['started'] },
        steps: [{ name: 'l', action: 'log' }],
      },
    ]);
    const res = await h!.api('POST', '/api/v1/rules/test', { event: event() }, READER);
    expect(res.status).toBe(200);
    const [reboots, freezes] = res.body.results;
    expect(reboots).toMatchObject({ rule: 'reboots', matched: true });
    expect(reboots.clauses.map((c: any) => c.clause)).toEqual(['types', 'transitions', 'origins', 'vms']);
    expect(freezes.matched).toBe(false);
    expect(freezes.clauses).toEqual([
      { clause: 'types', matched: false, reason: expect.stringContaining('reboot') },
      { clause: 'transitions', matched: false, reason: expect.stringContaining('scheduled') },
    ]);
  });
});

describe('explaining timer rules', () => {
  it('a timer rule: its own firings match, with its next slots and the VMs it fires for; others do not', async () => {
    await setup(() => [
      {
        name: 'nightly',
        schedule: { cron: '0 3 * * *', timezone: 'Asia/Shanghai', vms: ['build-*', 'db-01'] },
        steps: [{ name: 'l', action: 'log' }],
      },
      { name: 'everything', match: { transitions: ['scheduled'] }, steps: [{ name: 'l', action: 'log' }] },
    ]);
    for (const vm of ['build-1', 'build-2', 'web-01'])
      expect(
        (await h!.api('POST', `/api/v1/agents/${vm}/heartbeat`, { vm: { name: vm } }, h!.agentToken(vm)))
          .status,
      ).toBe(200);
    const firing = maintenance('build-1', {
      provider: 'schedule',
      eventId: 'nightly@2030-01-01T19:00:00.000Z~build-1',
      type: 'reboot',
      origin: 'user',
    });
    const res = await h!.api('POST', '/api/v1/rules/test', { event: firing }, READER);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const [nightly, everything] = res.body.results;
    expect(nightly).toMatchObject({ rule: 'nightly', matched: true });
    expect(nightly.clauses).toContainEqual({
      clause: 'schedule',
      matched: true,
      reason: 'a firing of this rule',
    });
    // 03:00 in Shanghai is 19:00 UTC, every day, from now on.
    expect(nightly.timer).toMatchObject({ cron: '0 3 * * *', timezone: 'Asia/Shanghai' });
    expect(nightly.timer.next).toHaveLength(5);
    const slots = nightly.timer.next.map((t: string) => Date.parse(t));
    expect(slots[0]).toBeGreaterThan(Date.now());
    expect(nightly.timer.next.every((t: string) => t.endsWith('T19:00:00.000Z'))).toBe(true);
    expect(slots.slice(1).map((t: number, i: number) => t - slots[i])).toEqual(Array(4).fill(86_400_000));
    // Globs over the VMs the hub knows, plus the one named outright before its agent reported.
    expect(nightly.timer.vms).toEqual(['build-1', 'build-2', 'db-01']);
    // A catch-all rule never acts on a timer's firings unless it names the schedule provider.
    expect(everything.matched).toBe(false);
    expect(everything.clauses[0]).toMatchObject({ clause: 'providers', matched: false });
    expect(everything.timer).toBeUndefined();

    // Another rule's firing is not this one's; an unknown provider is still refused.
    const other = await h!.api(
      'POST',
      '/api/v1/rules/test',
      { event: { ...firing, eventId: 'weekly@2030-01-01T19:00:00.000Z~build-1' } },
      READER,
    );
    expect(other.body.results[0]).toMatchObject({ rule: 'nightly', matched: false });
    const bad = await h!.api(
      'POST',
      '/api/v1/rules/test',
      { event: { ...firing, provider: 'cron' } },
      READER,
    );
    expect(bad.status).toBe(400);
  });
});

describe('rules API', () => {
  const good = (url: string) => ({ name: 'api-rule', match: { types: ['reboot'] }, steps: [hook(url)] });

  it('PUT needs admin (read and operate get 403), the rule takes effect, DELETE removes it', async () => {
    await setup(() => []);
    const r = good(rx!.url);
    expect((await h!.api('PUT', '/api/v1/rules/api-rule', r, READER)).status).toBe(403);
    expect((await h!.api('PUT', '/api/v1/rules/api-rule', r, OPERATOR)).status).toBe(403);
    expect((await h!.api('PUT', '/api/v1/rules/api-rule', r, '')).status).toBe(401);
    expect((await h!.api('PUT', '/api/v1/rules/api-rule', r, ADMIN)).status).toBe(200);
    const list = await h!.api('GET', '/api/v1/rules', undefined, READER);
    expect(list.body.rules).toEqual([expect.objectContaining({ name: 'api-rule', source: 'api' })]);
    await publish(maintenance('web-01'));
    await waitFor(() => rx!.calls.length === 1, 3000);
    expect((await h!.api('DELETE', '/api/v1/rules/api-rule', undefined, READER)).status).toBe(403);
    expect((await h!.api('DELETE', '/api/v1/rules/api-rule', undefined, OPERATOR)).status).toBe(403);
    expect((await h!.api('DELETE', '/api/v1/rules/api-rule', undefined, ADMIN)).status).toBe(200);
    expect((await h!.api('DELETE', '/api/v1/rules/api-rule', undefined, ADMIN)).status).toBe(404);
    await publish(maintenance('web-01'));
    await sleep(300);
    expect(rx!.calls).toHaveLength(1);
  });

  it.each([
    [
      'an unknown action',
      (r: any) => ({ ...r, steps: [{ name: 'x', action: 'explode' }] }),
      /\/steps\/0\/action/,
    ],
    [
      'a bad lead duration',
      (r: any) => ({ ...r, steps: [{ ...r.steps[0], timing: { lead: 'soon' } }] }),
      /\/steps\/0\/timing\/lead/,
    ],
    [
      'a bad timeout',
      (r: any) => ({ ...r, steps: [{ ...r.steps[0], timeout: '5 minutes' }] }),
      /\/steps\/0\/timeout/,
    ],
    [
      'a webhook with an inline secret',
      (r: any) => ({ ...r, steps: [{ ...r.steps[0], with: { url: 'http://x/', secret: 's' } }] }),
      /\/steps\/0\/with.*secretEnv/,
    ],
    [
      'a webhook without a url',
      (r: any) => ({ ...r, steps: [{ name: 'x', action: 'webhook', with: {} }] }),
      /\/steps\/0\/with.*url/,
    ],
    ['an unknown match field', (r: any) => ({ ...r, match: { type: ['reboot'] } }), /\/match\/type/],
    ['an unknown event type', (r: any) => ({ ...r, match: { types: ['exploded'] } }), /\/match\/types\/0/],
    [
      'a bad undo step',
      (r: any) => ({ ...r, undo: [{ name: 'u', action: 'log', with: { level: 'loud' } }] }),
      /\/undo\/0\/with/,
    ],
    ['two steps with one name', (r: any) => ({ ...r, steps: [r.steps[0], r.steps[0]] }), /\/steps\/1\/name/],
  ])('refuses %s with 400 naming the path, and stores nothing', async (_name, change, path) => {
    await setup(() => []);
    const res = await h!.api('PUT', '/api/v1/rules/api-rule', change(good(rx!.url)), ADMIN);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.message).toMatch(path);
    expect((await h!.api('GET', '/api/v1/rules', undefined, READER)).body.rules).toEqual([]);
  });

  it('refuses a body whose name differs from the URL, and a rule named like a file rule', async () => {
    await setup((url) => [good(url)]);
    const other = { ...good(rx!.url), name: 'other' };
    expect((await h!.api('PUT', '/api/v1/rules/api-rule', other, ADMIN)).status).toBe(400);
    const clash = await h!.api('PUT', '/api/v1/rules/api-rule', good(rx!.url), ADMIN);
    expect(clash.status).toBe(400);
    expect(clash.body.message).toMatch(/config file/);
    expect((await h!.api('DELETE', '/api/v1/rules/api-rule', undefined, ADMIN)).status).toBe(409);
  });
});
