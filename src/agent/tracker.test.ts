// The tracker is pure: documents in, transitions and state out. Every rule of the diff is pinned here.
import { describe, expect, it } from 'vitest';
import type { MaintenanceEvent } from '../core/event.js';
import type { SourceDocument } from '../sources/source.js';
import { emptyState, observe, REGRESSION_CONFIRMATIONS, type TrackerState } from './tracker.js';

const VM = 'web-01';

/** Most tests look at one document at a time: report a disappearance at once (confirmations: 1). */
const observe1 = (...[state, d, vm, now, options]: Parameters<typeof observe>) =>
  observe(state, d, vm, now, { confirmations: 1, ...options });
const T0 = Date.parse('2024-05-01T12:00:00.000Z');
const IN_1H = '2024-05-01T13:00:00.000Z';
const IN_2H = '2024-05-01T14:00:00.000Z';

function ev(eventId: string, extra: Partial<MaintenanceEvent> = {}): MaintenanceEvent {
  return {
    provider: 'azure',
    eventId,
    vm: VM,
    type: 'reboot',
    status: 'scheduled',
    notBefore: IN_1H,
    durationSeconds: 300,
    description: 'Virtual machine is going to be restarted as requested by authorized user.',
    origin: 'platform',
    resources: [VM],
    raw: { EventId: eventId },
    ...extra,
  };
}

const started = (e: MaintenanceEvent): MaintenanceEvent => ({
  ...e,
  status: 'started',
  notBefore: undefined,
});
const doc = (incarnation: number | undefined, ...events: MaintenanceEvent[]): SourceDocument => ({
  incarnation,
  events,
});

/** Feeds documents one after another, returning every observation. */
function run(docs: SourceDocument[], start: TrackerState = emptyState(), now = T0) {
  let state = start;
  return docs.map((d) => {
    const o = observe1(state, d, VM, now);
    state = o.state;
    return o;
  });
}

describe('observe: the first document', () => {
  it('emits scheduled for a Scheduled event, started for a Started one, and remembers both', () => {
    const a = ev('A');
    const b = started(ev('B'));
    const o = observe1(emptyState(), doc(5, a, b), VM, T0);
    expect(o.anomaly).toBeUndefined();
    expect(o.transitions).toEqual([
      { id: 'azure/A/scheduled', transition: 'scheduled', event: a, mine: true, observedAt: toIso(T0) },
      { id: 'azure/B/started', transition: 'started', event: b, mine: true, observedAt: toIso(T0) },
    ]);
    expect(o.state.incarnation).toBe(5);
    expect(Object.keys(o.state.events)).toEqual(['A', 'B']);
    expect(o.state.events.A).toEqual({ event: a, firstSeenAt: toIso(T0), generation: 0 });
  });

  it('emits nothing for an empty document but records its incarnation', () => {
    const o = observe1(emptyState(), doc(1), VM, T0);
    expect(o.transitions).toEqual([]);
    expect(o.state).toEqual({ incarnation: 1, events: {}, gone: {} });
  });

  it('emits nothing when the same document is seen again', () => {
    const [, second] = run([doc(2, ev('A')), doc(2, ev('A'))]);
    expect(second!.transitions).toEqual([]);
    expect(second!.anomaly).toBeUndefined();
  });
});

function toIso(ms: number) {
  return new Date(ms).toISOString();
}

describe('observe: an event’s life', () => {
  it('scheduled → started → gone is scheduled, started, completed', () => {
    const a = ev('A');
    const obs = run([doc(1, a), doc(2, started(a)), doc(3)]);
    expect(obs.map((o) => o.transitions.map((t) => [t.transition, t.id]))).toEqual([
      [['scheduled', 'azure/A/scheduled']],
      [['started', 'azure/A/started']],
      [['completed', 'azure/A/completed']],
    ]);
    const completed = obs[2]!.transitions[0]!;
    expect(completed.event.status).toBe('completed');
    expect(completed.inferred).toBeUndefined();
    expect(obs[2]!.state.events).toEqual({});
    expect(obs[2]!.state.gone).toEqual({ A: 0 });
  });

  it('scheduled → gone before NotBefore is canceled', () => {
    const obs = run([doc(1, ev('A')), doc(2)]);
    expect(obs[1]!.transitions).toHaveLength(1);
    expect(obs[1]!.transitions[0]).toMatchObject({
      id: 'azure/A/canceled',
      transition: 'canceled',
      event: { status: 'canceled', eventId: 'A' },
    });
    expect(obs[1]!.transitions[0]!.inferred).toBeUndefined();
  });

  it('scheduled → gone after NotBefore is an inferred completion', () => {
    const first = observe1(emptyState(), doc(1, ev('A')), VM, T0);
    const later = Date.parse(IN_1H) + 1000;
    const o = observe1(first.state, doc(2), VM, later);
    expect(o.transitions).toEqual([
      expect.objectContaining({
        id: 'azure/A/completed',
        transition: 'completed',
        inferred: true,
        observedAt: toIso(later),
        event: expect.objectContaining({ status: 'completed' }),
      }),
    ]);
  });

  it('a host failure (first seen Started) is started only, then completed when gone', () => {
    const b = started(ev('B'));
    const obs = run([doc(1, b), doc(1, b), doc(2)]);
    expect(obs.map((o) => o.transitions.map((t) => t.transition))).toEqual([['started'], [], ['completed']]);
  });

  it('a Started event staying Started emits nothing more', () => {
    const a = ev('A');
    const obs = run([doc(1, a), doc(2, started(a)), doc(3, { ...started(a), description: 'changed' })]);
    expect(obs[2]!.transitions).toEqual([]);
  });
});

describe('observe: rescheduled', () => {
  it.each([
    ['NotBefore', { notBefore: IN_2H }],
    ['Description', { description: 'Host OS update' }],
    ['Resources', { resources: [VM, 'web-02'] }],
    ['DurationInSeconds', { durationSeconds: 900 }],
    ['EventType', { type: 'redeploy' as const }],
  ])('when %s changes while Scheduled', (_field, change) => {
    const a = ev('A');
    const obs = run([doc(1, a), doc(2, { ...a, ...change })]);
    expect(obs[1]!.transitions).toHaveLength(1);
    const t = obs[1]!.transitions[0]!;
    expect(t.transition).toBe('rescheduled');
    expect(t.id).toMatch(/^azure\/A\/rescheduled\/[0-9a-f]{12}$/);
    expect(t.event).toMatchObject(change);
    expect(t.previousNotBefore).toBe(IN_1H);
  });

  it('not when only the order of Resources or the raw document changes', () => {
    const a = ev('A', { resources: ['web-02', VM] });
    const obs = run([doc(1, a), doc(2, { ...a, resources: [VM, 'web-02'], raw: { other: true } })]);
    expect(obs[1]!.transitions).toEqual([]);
  });

  it('two different reschedules get distinct ids; recomputing from the same inputs gives the same id', () => {
    const a = ev('A');
    const [, r1, r2] = run([
      doc(1, a),
      doc(2, { ...a, notBefore: IN_2H }),
      doc(3, { ...a, notBefore: IN_1H }),
    ]);
    const id1 = r1!.transitions[0]!.id;
    const id2 = r2!.transitions[0]!.id;
    expect(id1).not.toBe(id2);
    // The same previous state and document, observed again (e.g. after a crash before the commit): same id.
    const first = observe1(emptyState(), doc(1, a), VM, T0);
    const again = observe1(first.state, doc(2, { ...a, notBefore: IN_2H }), VM, T0 + 5000);
    expect(again.transitions[0]!.id).toBe(id1);
  });

  it('a reschedule back and forth (A→B→A→B) gets a new id every time', () => {
    // The id is the idempotency key downstream: a repeated id is dropped by the outbox and the hub,
    // so the last move (back to B) would never be heard of.
    const a = ev('A');
    const b = { ...a, notBefore: IN_2H };
    const obs = run([doc(1, a), doc(2, b), doc(3, a), doc(4, b)]);
    const ids = obs.slice(1).map((o) => o.transitions[0]!.id);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(3);
  });

  it('previousNotBefore is omitted when the event had none', () => {
    const a = ev('A', { notBefore: undefined });
    const obs = run([doc(1, a), doc(2, { ...a, notBefore: IN_1H })]);
    expect(obs[1]!.transitions[0]!.transition).toBe('rescheduled');
    expect(obs[1]!.transitions[0]).not.toHaveProperty('previousNotBefore');
  });
});

describe('observe: inconsistent documents', () => {
  it('same incarnation with fewer or other events is ignored with an anomaly, state unchanged', () => {
    const first = observe1(emptyState(), doc(4, ev('A')), VM, T0);
    for (const bad of [doc(4), doc(4, ev('B'))]) {
      const o = observe1(first.state, bad, VM, T0 + 1000);
      expect(o.transitions).toEqual([]);
      expect(o.anomaly).toMatch(/incarnation 4 unchanged/);
      expect(o.state).toBe(first.state);
    }
  });

  it('same incarnation with MORE events corrects an earlier glitched document', () => {
    const first = observe1(emptyState(), doc(4, ev('A')), VM, T0);
    const o = observe1(first.state, doc(4, ev('A'), ev('B')), VM, T0 + 1000);
    expect(o.anomaly).toBeUndefined();
    expect(o.transitions.map((t) => `${t.transition}:${t.event.eventId}`)).toEqual(['scheduled:B']);
  });

  it(`incarnation going back is ignored until seen ${REGRESSION_CONFIRMATIONS} times in a row, then accepted`, () => {
    const a = ev('A');
    const base = observe1(emptyState(), doc(10, a), VM, T0).state;
    let state = base;
    // The lower document misses A: if it were believed, A would be canceled.
    for (let i = 1; i < REGRESSION_CONFIRMATIONS; i++) {
      const o = observe1(state, doc(3), VM, T0 + i * 1000);
      expect(o.transitions).toEqual([]);
      expect(o.anomaly).toMatch(new RegExp(`went back from 10 to 3.*${i}/${REGRESSION_CONFIRMATIONS}`));
      expect(o.state.incarnation).toBe(10);
      expect(o.state.events).toEqual(base.events);
      state = o.state;
    }
    const accepted = observe1(state, doc(3), VM, T0 + 10_000);
    expect(accepted.anomaly).toBeUndefined();
    expect(accepted.state.incarnation).toBe(3);
    expect(accepted.state.regression).toBeUndefined();
    expect(accepted.transitions.map((t) => t.id)).toEqual(['azure/A/canceled']);
  });

  it('the regression count restarts when the higher incarnation comes back in between', () => {
    const base = observe1(emptyState(), doc(10, ev('A')), VM, T0).state;
    const docs = [doc(3), doc(10, ev('A'))];
    for (let i = 1; i < REGRESSION_CONFIRMATIONS; i++) docs.push(doc(3));
    const obs = run(docs, base);
    expect(obs.flatMap((o) => o.transitions)).toEqual([]);
    expect(obs.at(-1)!.state.incarnation).toBe(10);
    expect(obs.at(-1)!.anomaly).toMatch(`${REGRESSION_CONFIRMATIONS - 1}/${REGRESSION_CONFIRMATIONS}`);
  });

  it('a different lower incarnation restarts the count', () => {
    const base = observe1(emptyState(), doc(10, ev('A')), VM, T0).state;
    const docs = [];
    for (let i = 1; i < REGRESSION_CONFIRMATIONS; i++) docs.push(doc(3));
    docs.push(doc(4));
    const obs = run(docs, base);
    expect(obs.at(-1)!.anomaly).toMatch(`went back from 10 to 4: ignored (1/${REGRESSION_CONFIRMATIONS})`);
    expect(obs.flatMap((o) => o.transitions)).toEqual([]);
  });
});

describe('observe: ids stay unique', () => {
  it('an id that reappears after removal gets generation-suffixed ids', () => {
    const a = ev('A');
    const obs = run([
      doc(1, a),
      doc(2, started(a)),
      doc(3),
      doc(4, a),
      doc(5, started(a)),
      doc(6),
      doc(7, a),
      doc(8),
    ]);
    const ids = obs.flatMap((o) => o.transitions.map((t) => t.id));
    expect(ids).toEqual([
      'azure/A/scheduled',
      'azure/A/started',
      'azure/A/completed',
      'azure/A/scheduled/g1',
      'azure/A/started/g1',
      'azure/A/completed/g1',
      'azure/A/scheduled/g2',
      'azure/A/canceled/g2',
    ]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(obs[3]!.state.events.A!.generation).toBe(1);
    expect(obs[3]!.state.gone).toEqual({});
    expect(obs.at(-1)!.state.gone).toEqual({ A: 2 });
  });

  it('a reschedule in a later generation has a different id from the same reschedule before', () => {
    const a = ev('A');
    const b = { ...a, notBefore: IN_2H };
    const obs = run([doc(1, a), doc(2, b), doc(3), doc(4, a), doc(5, b)]);
    const reschedules = obs.flatMap((o) => o.transitions).filter((t) => t.transition === 'rescheduled');
    expect(reschedules).toHaveLength(2);
    expect(reschedules[0]!.id).not.toBe(reschedules[1]!.id);
    expect(reschedules[1]!.id).toMatch(/^azure\/A\/rescheduled\/g1\//);
  });

  it('keeps at most 500 removed ids, forgetting the oldest first', () => {
    const events = Array.from({ length: 501 }, (_, i) => ev(`E-${String(i).padStart(4, '0')}`));
    let state = observe1(emptyState(), doc(1, ...events), VM, T0).state;
    // Remove them one poll at a time so "oldest" is well defined.
    for (let i = 0; i < events.length; i++) {
      state = observe1(state, doc(2 + i, ...events.slice(i + 1)), VM, T0).state;
    }
    const gone = Object.keys(state.gone);
    expect(gone).toHaveLength(500);
    expect(gone).not.toContain('E-0000');
    expect(gone).toContain('E-0001');
    expect(gone).toContain('E-0500');
  });
});

describe('observe: siblings and legacy', () => {
  it('marks an event that does not list this VM as not mine, and still tracks it', () => {
    const sibling = ev('S', { resources: ['web-02'] });
    const both = ev('B', { resources: ['web-02', 'WEB-01'] });
    const obs = run([doc(1, sibling, both), doc(2, started(sibling), both), doc(3, both)]);
    expect(obs.flatMap((o) => o.transitions.map((t) => [t.id, t.mine]))).toEqual([
      ['azure/S/scheduled', false],
      ['azure/B/scheduled', true],
      ['azure/S/started', false],
      ['azure/S/completed', false],
    ]);
  });

  it('with disappearance "completed" (legacy), a vanished Scheduled event is completed, not canceled', () => {
    const a = ev('a', { provider: 'azure-legacy', notBefore: undefined });
    const first = observe1(emptyState(), doc(undefined, a), VM, T0, { disappearance: 'completed' });
    expect(first.transitions.map((t) => t.id)).toEqual(['azure-legacy/a/scheduled']);
    const o = observe1(first.state, doc(undefined), VM, T0 + 1000, { disappearance: 'completed' });
    expect(o.transitions).toEqual([
      expect.objectContaining({ id: 'azure-legacy/a/completed', transition: 'completed' }),
    ]);
    expect(o.transitions[0]!.inferred).toBeUndefined();
    // The default would have called it canceled.
    expect(observe1(first.state, doc(undefined), VM, T0 + 1000).transitions[0]!.transition).toBe('canceled');
  });

  it('without incarnations (legacy) every document is diffed', () => {
    const a = ev('a', { provider: 'azure-legacy' });
    const obs = run([doc(undefined, a), doc(undefined), doc(undefined, a)]);
    expect(obs.map((o) => o.transitions.map((t) => t.id))).toEqual([
      ['azure-legacy/a/scheduled'],
      ['azure-legacy/a/canceled'],
      ['azure-legacy/a/scheduled/g1'],
    ]);
  });
});

describe('disappearance needs confirmation (default: two documents)', () => {
  it('one document without the event is not a cancellation; the second one is', () => {
    const a = ev('A', { notBefore: IN_1H });
    const s1 = observe(emptyState(), doc(1, a), VM, T0).state;
    const gone1 = observe(s1, doc(2), VM, T0 + 1000);
    expect(gone1.transitions).toEqual([]);
    expect(gone1.state.missing).toEqual({ A: 1 });
    const gone2 = observe(gone1.state, doc(2), VM, T0 + 2000);
    expect(gone2.transitions.map((t) => t.transition)).toEqual(['canceled']);
    expect(gone2.state.missing).toBeUndefined();
  });

  it('an empty glitch on the first document after a bump is corrected by the next one at the same incarnation', () => {
    const a = ev('A', { notBefore: IN_1H });
    const s1 = observe(emptyState(), doc(1, a), VM, T0).state;
    const glitch = observe(s1, doc(2), VM, T0 + 1000);
    expect(glitch.transitions).toEqual([]);
    const real = observe(glitch.state, doc(2, started(a)), VM, T0 + 2000);
    expect(real.anomaly).toBeUndefined();
    expect(real.transitions.map((t) => t.transition)).toEqual(['started']);
    expect(real.state.missing).toBeUndefined();
  });

  it('an unchanged poll returns the very same state object (no disk write)', () => {
    const s1 = observe(emptyState(), doc(1, ev('A', { notBefore: IN_1H })), VM, T0).state;
    expect(observe(s1, doc(1, ev('A', { notBefore: IN_1H })), VM, T0 + 1000).state).toBe(s1);
  });
});
