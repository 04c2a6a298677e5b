// Pool budgets: at most maxUnavailable VMs of a pool in disruptive steps at once; the next one is
// held (and says why) until the first event is over; a held step runs over budget as NotBefore
// nears, with an alert. And the approval policy of `approve` steps.
import { afterEach, describe, expect, it } from 'vitest';
import { READER, startHub, type TestHub } from '../helpers/hub.js';
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

async function publish(data: Record<string, any>, transition = 'scheduled') {
  const res = await publishOne(h!, h!.agentToken(data.vm), cloudEvent(data, transition));
  expect(res.status, res.text).toBe(200);
}

const vmsCalled = () => rx!.calls.map((c) => (c.body as { vm: string }).vm);

async function pools() {
  const res = await h!.api('GET', '/api/v1/pools', undefined, READER);
  expect(res.status).toBe(200);
  return res.body.pools as any[];
}

describe('pool budgets', () => {
  it('holds the second VM of a pool until the first one’s event is over, and says why', async () => {
    rx = await startRawReceiver();
    h = await startHub({
      pools: [{ name: 'web', match: { vms: ['web-*'] }, maxUnavailable: 1 }],
      rules: [
        {
          name: 'drain',
          match: { types: ['reboot'] },
          steps: [{ name: 'drain', action: 'webhook', disruptive: true, with: { url: rx.url } }],
        },
      ],
    });
    const one = maintenance('web-01');
    const two = maintenance('web-02');
    await publish(one);
    await waitFor(() => vmsCalled().includes('web-01'), 5000);
    await publish(two);
    await waitFor(async () => (await pools())[0].held.length === 1, 5000);
    const [web] = await pools();
    expect(web).toMatchObject({ name: 'web', max: 1, inUse: [{ vm: 'web-01' }], held: [{ vm: 'web-02' }] });
    expect(web.held[0].reason).toMatch(/pool web is full.*web-01/);
    expect(vmsCalled()).toEqual(['web-01']);

    await publish({ ...one, status: 'completed' }, 'completed');
    await waitFor(() => vmsCalled().includes('web-02'), 8000);
    expect(vmsCalled()).toEqual(['web-01', 'web-02']);
    const after = (await pools())[0];
    expect(after.inUse.map((s: any) => s.vm)).toEqual(['web-02']);
    expect(after.held).toEqual([]);
    const audit = await h.api('GET', `/api/v1/events/azure/${two.eventId.toLowerCase()}`, undefined, READER);
    expect(audit.body.audit.map((e: any) => e.action)).toContain('budget.held');
  });

  it('a VM outside every pool never waits; a percentage of no known VMs is still one slot', async () => {
    rx = await startRawReceiver();
    h = await startHub({
      pools: [{ name: 'db', match: { vms: ['db-*'] }, maxUnavailable: '50%' }],
      rules: [
        {
          name: 'drain',
          match: { types: ['reboot'] },
          steps: [{ name: 'drain', action: 'webhook', disruptive: true, with: { url: rx.url } }],
        },
      ],
    });
    await publish(maintenance('web-01'));
    await publish(maintenance('web-02'));
    await waitFor(() => vmsCalled().length === 2, 5000);
    // No db VM is known yet: 50 % of nothing is still one slot.
    expect((await pools())[0].max).toBe(1);
  });

  it('as NotBefore nears, a held step runs over budget and the event’s audit says so', async () => {
    rx = await startRawReceiver();
    h = await startHub({
      pools: [{ name: 'web', match: { vms: ['web-*'] }, maxUnavailable: 1, forceBefore: '2m' }],
      rules: [
        {
          name: 'drain',
          match: { types: ['reboot'] },
          steps: [{ name: 'drain', action: 'webhook', disruptive: true, with: { url: rx.url } }],
        },
      ],
    });
    await publish(maintenance('web-01'));
    await waitFor(() => vmsCalled().includes('web-01'), 5000);
    // NotBefore in 90 s, inside forceBefore: no time to wait for web-01's event to end.
    const late = maintenance('web-02', { notBefore: new Date(Date.now() + 90_000).toISOString() });
    await publish(late);
    await waitFor(() => vmsCalled().includes('web-02'), 5000);
    const log = await h.api('GET', `/api/v1/events/azure/${late.eventId.toLowerCase()}`, undefined, READER);
    expect(log.body.audit.map((e: any) => e.action)).toContain('budget.overridden');
    expect((await pools())[0].inUse.map((s: any) => s.vm).sort()).toEqual(['web-01', 'web-02']);
  });

  it('refuses a pool with a bad duration when the hub starts, naming the field', async () => {
    await expect(
      startHub({ pools: [{ name: 'p', match: {}, maxUnavailable: 1, leaseTimeout: 'soon' }] }),
    ).rejects.toThrow(/pools\/0\/leaseTimeout/);
  });
});

describe('approval policy', () => {
  it('a redeploy is not approved early by default: the step succeeds without a command', async () => {
    h = await startHub({
      rules: [
        {
          name: 'approve',
          match: { types: ['redeploy', 'reboot'] },
          steps: [{ name: 'ok', action: 'approve' }],
        },
      ],
    });
    const data = maintenance('web-01', { type: 'redeploy' });
    await publish(data);
    await h.hub.idle();
    await waitFor(async () => {
      const res = await h!.api(
        'GET',
        `/api/v1/steps?event=azure/${data.eventId.toLowerCase()}`,
        undefined,
        READER,
      );
      return res.body.steps[0]?.status === 'succeeded';
    }, 5000);
    const event = await h.api('GET', `/api/v1/events/azure/${data.eventId.toLowerCase()}`, undefined, READER);
    expect(event.body.commands).toEqual([]);
  });

  it('refuses an approve step listing an unknown type when rules load', async () => {
    await expect(
      startHub({
        rules: [
          { name: 'a', match: {}, steps: [{ name: 'ok', action: 'approve', with: { types: ['nap'] } }] },
        ],
      }),
    ).rejects.toThrow(/types/);
  });
});
