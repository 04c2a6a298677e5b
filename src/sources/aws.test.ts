// The AWS source against the simulator over real HTTP: IMDSv2 tokens (reuse, refresh, 401, v1
// fallback), the three items, strict parsing, and no phantom transitions from a flaky service.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { observe, emptyState, type TrackerState } from '../agent/tracker.js';
import type { TransitionRecord } from '../core/transition.js';
import { seededRandom, startSim, type TestSim } from '../../test/helpers/sim.js';
import { AwsImdsSource, parseAwsRebalance, parseAwsScheduled, parseAwsSpot } from './aws.js';
import { SourceError } from './source.js';

let t: TestSim;
beforeEach(async () => {
  t = await startSim({ random: seededRandom(9) });
  t.sim.controller.fleet.add({ name: 'ec2-01', provider: 'aws', httpTokens: 'required' });
  t.sim.controller.fleet.add({ name: 'ec2-v1', provider: 'aws', httpTokens: 'optional' });
});
afterEach(() => t.close());

const source = (vm = 'ec2-01', extra: Partial<ConstructorParameters<typeof AwsImdsSource>[0]> = {}) =>
  new AwsImdsSource({ baseUrl: `${t.url}/vm/${vm}`, vm, ...extra });
const requests = (vm: string) => t.sim.context.log.list({ vm });
const puts = (vm: string) => requests(vm).filter((r) => r.method === 'PUT');

async function failure(p: Promise<unknown>): Promise<SourceError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SourceError);
  return err as SourceError;
}

describe('AWS source: items', () => {
  it('reads a scheduled event with its date format, code and id', async () => {
    const [a] = t.sim.controller.schedule({
      type: 'system-reboot',
      targets: { vms: ['ec2-01'] },
      notice: '2h',
    });
    const doc = await source().poll();
    expect(doc.incarnation).toBeUndefined();
    expect(doc.events).toEqual([
      expect.objectContaining({
        provider: 'aws',
        eventId: a!.eventId,
        vm: 'ec2-01',
        type: 'reboot',
        status: 'scheduled',
        notBefore: new Date(Math.floor(a!.notBefore / 1000) * 1000).toISOString(),
        description: 'scheduled reboot',
        resources: ['ec2-01'],
      }),
    ]);
    expect((doc.events[0]!.raw as { NotBefore: string }).NotBefore).toMatch(
      /^\d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/,
    );
  });

  it('reads nothing as nothing: [] and 404s', async () => {
    expect((await source().poll()).events).toEqual([]);
  });

  it('reads a spot interruption and a rebalance recommendation, ids fixed by their times', async () => {
    const c = t.sim.controller;
    c.schedule({ type: 'rebalance', targets: { vms: ['ec2-01'] } });
    const [spot] = c.schedule({ type: 'spot-stop', targets: { vms: ['ec2-01'] } });
    const s = source();
    const first = await s.poll();
    const second = await s.poll();
    expect(second.events.map((e) => e.eventId)).toEqual(first.events.map((e) => e.eventId));
    const notBefore = new Date(Math.floor(spot!.notBefore / 1000) * 1000).toISOString();
    expect(first.events).toEqual([
      expect.objectContaining({
        eventId: `ec2-01:spot-instance-action:${notBefore}`,
        type: 'preempt',
        status: 'scheduled',
        notBefore,
        description: 'Spot interruption: stop',
      }),
      expect.objectContaining({ eventId: expect.stringMatching(/^ec2-01:rebalance:/), type: 'rebalance' }),
    ]);
  });

  it('reports an event whose time has come as started', async () => {
    t.sim.controller.schedule({ type: 'instance-stop', targets: { vms: ['ec2-01'] }, notice: '1h' });
    const later = source('ec2-01', { now: () => Date.now() + 2 * 3600_000 });
    expect((await later.poll()).events[0]).toMatchObject({ type: 'stop', status: 'started' });
  });
});

describe('AWS source: IMDSv2 tokens', () => {
  it('puts one token and reuses it across polls', async () => {
    const s = source();
    for (let i = 0; i < 3; i++) await s.poll();
    expect(puts('ec2-01')).toHaveLength(1);
    expect(requests('ec2-01').filter((r) => r.method === 'GET')).toHaveLength(9);
  });

  it('refreshes the token when 15 s or less of its TTL are left', async () => {
    let clock = Date.now();
    const s = source('ec2-01', { tokenTtlSeconds: 100, now: () => clock });
    await s.poll();
    clock += 80_000; // 20 s left: still good
    await s.poll();
    expect(puts('ec2-01')).toHaveLength(1);
    clock += 6_000; // 14 s left: refresh first
    await s.poll();
    expect(puts('ec2-01')).toHaveLength(2);
  });

  it('on 401 (token revoked or expired early) gets a new token and retries once', async () => {
    const s = source();
    await s.poll();
    expect((await t.control('DELETE', '/vms/ec2-01/tokens')).status).toBe(200);
    await s.poll();
    expect(s.session.stats.retriesOn401).toBe(1);
    expect(puts('ec2-01')).toHaveLength(2);
    expect(requests('ec2-01').filter((r) => r.status === 401)).toHaveLength(1);
  });

  it('without v1 fallback, a failed token PUT is a failed poll', async () => {
    t.sim.faults.set({ errorRate: 1, errorStatus: 403, endpoints: ['aws-token'] }, 'ec2-v1');
    const err = await failure(source('ec2-v1').poll());
    expect(err).toMatchObject({ kind: 'http', status: 403 });
    expect(requests('ec2-v1').filter((r) => r.method === 'GET')).toHaveLength(0);
  });

  it('with v1 fallback, reads without a token where tokens are optional', async () => {
    t.sim.faults.set({ errorRate: 1, errorStatus: 403, endpoints: ['aws-token'] }, 'ec2-v1');
    t.sim.controller.schedule({ type: 'system-maintenance', targets: { vms: ['ec2-v1'] }, notice: '1h' });
    const s = source('ec2-v1', { allowV1Fallback: true });
    expect((await s.poll()).events).toHaveLength(1);
    await s.poll();
    expect(s.session.stats.v1Reads).toBe(6);
    expect(puts('ec2-v1')).toHaveLength(1); // not retried every poll
  });

  it('with v1 fallback where tokens are required, still fails (401), never reads an empty document', async () => {
    t.sim.faults.set({ errorRate: 1, errorStatus: 403, endpoints: ['aws-token'] }, 'ec2-01');
    t.sim.controller.schedule({ type: 'system-reboot', targets: { vms: ['ec2-01'] }, notice: '1h' });
    const err = await failure(source('ec2-01', { allowV1Fallback: true }).poll());
    expect(err.status).toBe(401);
  });
});

describe('AWS source: malformed documents are failed polls', () => {
  const now = Date.UTC(2026, 0, 1);
  const good = {
    Code: 'system-reboot',
    EventId: 'instance-event-1',
    State: 'active',
    NotBefore: '7 Mar 2026 02:00:00 GMT',
    NotAfter: '7 Mar 2026 04:00:00 GMT',
    Description: 'scheduled reboot',
  };
  it.each([
    ['not JSON', '[{"Code":'],
    ['not an array', '{"Code":"system-reboot"}'],
    ['an entry not an object', '[42]'],
    ['no EventId', JSON.stringify([{ ...good, EventId: undefined }])],
    [
      'an RFC 1123 date with weekday',
      JSON.stringify([{ ...good, NotBefore: 'Sat, 7 Mar 2026 02:00:00 GMT' }]),
    ],
    ['an ISO date', JSON.stringify([{ ...good, NotBefore: '2026-03-07T02:00:00Z' }])],
    ['a bad NotAfter', JSON.stringify([{ ...good, NotAfter: 'soon' }])],
  ])('scheduled: %s', (_name, body) => {
    expect(() => parseAwsScheduled(body, 'vm', now)).toThrow(SourceError);
  });
  it('skips finished entries and reads an empty body as none', () => {
    expect(parseAwsScheduled(JSON.stringify([{ ...good, State: 'completed' }]), 'vm', now)).toEqual([]);
    expect(parseAwsScheduled('', 'vm', now)).toEqual([]);
    expect(parseAwsScheduled(JSON.stringify([good]), 'vm', now)[0]).toMatchObject({
      notBefore: '2026-03-07T02:00:00.000Z',
    });
  });
  it.each([
    ['garbage', '<html>'],
    ['unknown action', '{"action":"explode","time":"2026-03-07T08:22:00Z"}'],
    ['time without zone', '{"action":"terminate","time":"2026-03-07T08:22:00"}'],
    ['an array', '[]'],
  ])('spot: %s', (_name, body) => {
    expect(() => parseAwsSpot(body, 'vm', now)).toThrow(SourceError);
  });
  it('rebalance without noticeTime', () => {
    expect(() => parseAwsRebalance('{}', 'vm')).toThrow(SourceError);
  });
  it('a garbled answer from the simulator fails the poll', async () => {
    t.sim.faults.set({ malformedRate: 1, malformedKind: 'wrong-shape', endpoints: ['aws'] }, 'ec2-01');
    expect(await failure(source().poll())).toMatchObject({ kind: 'parse' });
  });
});

describe('AWS source: a flaky metadata service', () => {
  it('yields exactly one scheduled and one canceled transition, nothing phantom', async () => {
    const c = t.sim.controller;
    const [a] = c.schedule({ type: 'system-reboot', targets: { vms: ['ec2-01'] }, notice: '2h' });
    t.sim.faults.set(
      { errorRate: 0.15, malformedRate: 0.15, malformedKind: 'truncated', vanishRate: 0.15 },
      'ec2-01',
    );
    const s = source();
    let state: TrackerState = emptyState();
    const transitions: TransitionRecord[] = [];
    const run = async (polls: number) => {
      for (let i = 0; i < polls; i++) {
        try {
          const doc = await s.poll();
          const r = observe(state, doc, 'ec2-01', Date.now());
          state = r.state;
          transitions.push(...r.transitions);
        } catch (err) {
          expect(err).toBeInstanceOf(SourceError);
        }
      }
    };
    await run(60);
    c.cancel(a!.eventId);
    t.sim.faults.clear('ec2-01');
    await run(3);
    expect(transitions.map((x) => `${x.transition}:${x.event.eventId}`)).toEqual([
      `scheduled:${a!.eventId}`,
      `canceled:${a!.eventId}`,
    ]);
    // The run did meet every fault: errors, garbled bodies and documents without the event.
    const faults = requests('ec2-01').flatMap((r) => r.faults ?? []);
    for (const kind of ['status 500', 'malformed truncated', 'events vanished'])
      expect(faults).toContain(kind);
  });
});
