// The GCP source against the simulator over real HTTP: wait_for_change long-polls with ETags, a
// poll that returns when either key changes, cancel of a hanging long-poll, and ids that survive
// a restart.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seededRandom, startSim, type TestSim } from '../../test/helpers/sim.js';
import { emptyState, observe, type TrackerState } from '../agent/tracker.js';
import type { TransitionRecord } from '../core/transition.js';
import { waitFor } from '../../test/helpers/wait.js';
import { gcpEtag } from '../simulator/gcp-metadata.js';
import { GcpMetadataSource, identifyGcpVm, parseUpcoming } from './gcp.js';
import { SourceError, type SourceDocument } from './source.js';

let t: TestSim;
const sources: AbortController[] = [];
beforeEach(async () => {
  t = await startSim({ random: seededRandom(5) });
  t.sim.controller.fleet.add({ name: 'gce-01', provider: 'gcp' });
});
afterEach(async () => {
  for (const a of sources.splice(0)) a.abort();
  await t.close();
});

function source(extra: Partial<ConstructorParameters<typeof GcpMetadataSource>[0]> = {}) {
  const abort = new AbortController();
  sources.push(abort);
  const s = new GcpMetadataSource({ baseUrl: `${t.url}/vm/gce-01`, vm: 'gce-01', waitSeconds: 30, ...extra });
  return { s, poll: () => s.poll(abort.signal), abort };
}
const gets = () => t.sim.context.log.list({ vm: 'gce-01' });

describe('GCP source', () => {
  it('starts with last_etag=0 (answered at once), then long-polls with the ETag it was given', async () => {
    const { poll } = source();
    expect((await poll()).events).toEqual([]);
    const first = gets().map((r) => r.url);
    expect(
      first.some((u) => u.includes('maintenance-event?wait_for_change=true&last_etag=0&timeout_sec=30')),
    ).toBe(true);
    const pending = poll();
    // The next requests carry the ETags of what was read, and are held: nothing changed.
    await waitFor(() => t.sim.controller.listenerCount('changed') === 2);
    const [a] = t.sim.controller.schedule({ type: 'migrate', targets: { vms: ['gce-01'] } });
    const doc = await pending;
    expect(doc.events).toEqual([
      expect.objectContaining({
        provider: 'gcp',
        eventId: expect.stringMatching(/^gce-01:maintenance-event:\d{4}-.*Z$/),
        type: 'live-migrate',
        status: 'scheduled',
        resources: ['gce-01'],
        raw: { key: 'maintenance-event', value: 'MIGRATE_ON_HOST_MAINTENANCE' },
      }),
    ]);
    const seenAt = Date.parse(doc.events[0]!.eventId.split(':maintenance-event:')[1]!);
    expect(Date.parse(doc.events[0]!.notBefore!)).toBe(seenAt + 60_000);
    const urls = gets().map((r) => r.url);
    expect(
      urls.some((u) => u.includes(`maintenance-event?wait_for_change=true&last_etag=${gcpEtag('NONE')}`)),
    ).toBe(true);
    expect(a!.status).toBe('Scheduled');
  });

  it('follows the ETag: the value returning to NONE removes the event, a new one gets a new id', async () => {
    const c = t.sim.controller;
    const { poll } = source();
    await poll();
    const [a] = c.schedule({ type: 'terminate', targets: { vms: ['gce-01'] } });
    const one = await poll();
    expect(one.events[0]).toMatchObject({ type: 'stop' });
    const ended = poll();
    c.start(a!.eventId);
    c.complete(a!.eventId);
    expect((await ended).events).toEqual([]);
    expect((await poll()).events).toEqual([]); // the confirming read, at once
    await new Promise((r) => setTimeout(r, 1100)); // ids are minted to the second
    const next = poll();
    c.schedule({ type: 'terminate', targets: { vms: ['gce-01'] } });
    const two = await next;
    expect(two.events[0]!.eventId).not.toBe(one.events[0]!.eventId);
  });

  it('returns when the other key changes: preempted TRUE while maintenance-event waits', async () => {
    const { poll } = source();
    await poll();
    const pending = poll();
    t.sim.controller.schedule({ type: 'preempt', targets: { vms: ['gce-01'] } });
    const doc = await pending;
    expect(doc.events).toEqual([expect.objectContaining({ type: 'preempt', status: 'scheduled' })]);
  });

  it('reads upcoming-maintenance as a scheduled event with the window start as NotBefore', async () => {
    const [a] = t.sim.controller.schedule({
      type: 'upcoming-maintenance',
      targets: { vms: ['gce-01'] },
      notice: '3d',
    });
    const { s, poll } = source({ watch: 'upcoming' });
    expect(s.name).toBe('gcp-upcoming');
    const doc = await poll();
    const start = new Date(Math.floor(a!.notBefore / 1000) * 1000).toISOString();
    expect(doc.events).toEqual([
      expect.objectContaining({
        type: 'system-maintenance',
        status: 'scheduled',
        notBefore: start,
        durationSeconds: 7200,
      }),
    ]);
  });

  it('stops a hanging long-poll at once when told to', async () => {
    const { poll, abort } = source({ waitSeconds: 600 });
    await poll();
    const pending = poll();
    // Both long-polls held by the simulator, waiting for a change.
    await waitFor(() => t.sim.controller.listenerCount('changed') === 2);
    abort.abort();
    const err = await pending.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SourceError);
    // The connections closed: the simulator lets go of every held long-poll.
    await waitFor(() => t.sim.controller.listenerCount('changed') === 0);
  });

  it('times out a long-poll the server holds past timeout_sec', async () => {
    const { poll } = source({ waitSeconds: 1, timeoutMs: 300 });
    t.sim.faults.set({ hangRate: 1, hangMs: 60_000, endpoints: ['gcp'] }, 'gce-01');
    const err = await poll().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ kind: 'timeout' });
  });

  it('answers 503 with a retryable failure and a garbled value with a parse failure', async () => {
    t.sim.faults.set({ errorRate: 1, errorStatus: 503, count: 3 }, 'gce-01');
    const e1 = await source()
      .poll()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(e1).toMatchObject({ kind: 'http', status: 503, retryAfterMs: 1000 });
    t.sim.faults.set({ malformedRate: 1, malformedKind: 'garbage' }, 'gce-01');
    const e2 = await source()
      .poll()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(e2).toMatchObject({ kind: 'parse' });
  });

  it('keeps a minted id across a restart (restore from the tracker)', async () => {
    t.sim.controller.schedule({ type: 'migrate', targets: { vms: ['gce-01'] } });
    const before = await source().poll();
    await new Promise((r) => setTimeout(r, 1100));
    const after = source();
    after.s.restore(before.events);
    const doc = await after.poll();
    expect(doc.events.map((e) => [e.eventId, e.notBefore])).toEqual(
      before.events.map((e) => [e.eventId, e.notBefore]),
    );
  });

  it('a flaky server (a NONE that is not true, errors, garbage) yields one scheduled, nothing phantom', async () => {
    let state: TrackerState = emptyState();
    const transitions: TransitionRecord[] = [];
    const run = async (poll: () => Promise<SourceDocument>, polls: number) => {
      for (let i = 0; i < polls; i++) {
        try {
          const r = observe(state, await poll(), 'gce-01', Date.now(), { disappearance: 'completed' });
          state = r.state;
          transitions.push(...r.transitions);
        } catch (err) {
          expect(err).toBeInstanceOf(SourceError);
        }
      }
    };
    const first = source({ waitSeconds: 30 });
    await run(first.poll, 1);
    // The notice arrives: maintenance-event answers, preempted's long-poll stays held.
    const pending = run(first.poll, 1);
    const [a] = t.sim.controller.schedule({ type: 'migrate', targets: { vms: ['gce-01'] }, notice: '1h' });
    await pending;
    await new Promise((r) => setTimeout(r, 1100)); // a re-minted id would now differ
    // So the next request is maintenance-event's alone, and it says NONE though the notice is out.
    t.sim.faults.set({ vanishRate: 1, count: 1 }, 'gce-01');
    await run(first.poll, 3);
    const vanished = t.sim.context.log
      .list({ vm: 'gce-01' })
      .filter((r) => r.faults?.includes('events vanished'))
      .map((r) => r.url.split('?')[0]!.split('/').pop());
    expect(vanished).toEqual(['maintenance-event']);
    first.abort.abort();
    // Then errors and garbage at a rate, read by a restarted source: no failed read is a document.
    const second = source({ waitSeconds: 1 });
    second.s.restore(Object.values(state.events).map((x) => x.event));
    t.sim.faults.set(
      { errorRate: 0.3, errorStatus: 503, malformedRate: 0.3, malformedKind: 'garbage' },
      'gce-01',
    );
    await run(second.poll, 10);
    expect(transitions.map((x) => x.transition)).toEqual(['scheduled']);
    const faults = t.sim.context.log.list({ vm: 'gce-01' }).flatMap((r) => r.faults ?? []);
    for (const kind of ['status 503', 'malformed garbage']) expect(faults).toContain(kind);
    expect(a!.status).toBe('Scheduled');
  });

  it('identifies the VM by instance/name', async () => {
    expect(await identifyGcpVm(`${t.url}/vm/gce-01`)).toMatchObject({
      name: 'gce-01',
      zone: 'us-central1-a',
    });
  });
});

describe('parseUpcoming', () => {
  it.each(['', 'NONE', '{}', '{ }', '{"error":"no notifications have been received yet, try again later"}'])(
    'reads %j as nothing scheduled',
    (body) => expect(parseUpcoming(body)).toBeUndefined(),
  );
  it('accepts the wrapped and the bare object', () => {
    const bare = {
      maintenance_status: 'PENDING',
      window_start_time: '2026-04-01T19:00:01Z',
      type: 'SCHEDULED',
    };
    expect(parseUpcoming(JSON.stringify(bare))).toEqual(bare);
    expect(parseUpcoming(JSON.stringify({ 'Upcoming maintenance': bare }))).toEqual(bare);
  });
  it.each([
    ['garbage', '<html>'],
    ['no window', '{"maintenance_status":"PENDING"}'],
    ['a bad time', '{"maintenance_status":"PENDING","window_start_time":"tomorrow"}'],
    ['an array', '[]'],
  ])('rejects %s', (_n, body) => expect(() => parseUpcoming(body)).toThrow(SourceError));
});
