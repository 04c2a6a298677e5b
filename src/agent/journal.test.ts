// The journal on a real SQLite file: one transaction per poll, dedup by transition id, order,
// survival across reopen, and the bounded outbox's drop order.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MaintenanceEvent, Transition } from '../core/event.js';
import type { TransitionRecord } from '../core/transition.js';
import { AgentJournal } from './journal.js';
import { emptyState, type TrackerState } from './tracker.js';

const dirs: string[] = [];
const open: AgentJournal[] = [];

function dbPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'forewarn-journal-'));
  dirs.push(dir);
  return join(dir, 'nested', 'agent.db'); // the directory is created on open
}

function journal(path = dbPath(), limit?: number): AgentJournal {
  const j = new AgentJournal(path, limit);
  open.push(j);
  return j;
}

function close(j: AgentJournal) {
  j.close();
  open.splice(open.indexOf(j), 1);
}

afterEach(() => {
  for (const j of open.splice(0)) j.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function event(eventId: string, extra: Partial<MaintenanceEvent> = {}): MaintenanceEvent {
  return {
    provider: 'azure',
    eventId,
    vm: 'web-01',
    type: 'reboot',
    status: 'scheduled',
    notBefore: '2024-05-01T13:00:00.000Z',
    origin: 'platform',
    resources: ['web-01'],
    raw: { EventId: eventId },
    ...extra,
  };
}

function rec(eventId: string, transition: Transition, mine = true, id?: string): TransitionRecord {
  return {
    id: id ?? `azure/${eventId}/${transition}`,
    transition,
    event: event(eventId),
    mine,
    observedAt: '2024-05-01T12:00:00.000Z',
  };
}

function stateWith(incarnation: number, ...ids: string[]): TrackerState {
  return {
    incarnation,
    events: Object.fromEntries(
      ids.map((id) => [id, { event: event(id), firstSeenAt: '2024-05-01T12:00:00.000Z', generation: 0 }]),
    ),
    gone: {},
  };
}

const ids = (j: AgentJournal, n = 1000) => j.peek(n).map((r) => r.record.id);

describe('AgentJournal', () => {
  it('starts with an empty tracker state and an empty outbox', () => {
    const j = journal();
    expect(j.trackerState('azure')).toEqual(emptyState());
    expect(j.peek(10)).toEqual([]);
    expect(j.outboxSize()).toBe(0);
    expect(j.counters()).toEqual({});
  });

  it('commits tracker state, outbox rows and local tasks together', () => {
    const j = journal();
    const state = stateWith(3, 'A');
    const t = rec('A', 'scheduled');
    expect(j.commit('azure', state, [t], [{ sink: 'syslog', record: t }])).toBe(0);
    expect(j.trackerState('azure')).toEqual(state);
    expect(j.trackerState('azure-legacy')).toEqual(emptyState()); // per source
    expect(j.peek(10)).toEqual([{ seq: expect.any(Number), record: t, attempts: 0 }]);
    expect(j.peekTasks(10)).toEqual([{ seq: expect.any(Number), sink: 'syslog', record: t, attempts: 0 }]);
  });

  it('a commit that fails part-way leaves nothing behind: not the state, not the rows', () => {
    const j = journal();
    const before = stateWith(1, 'A');
    j.commit('azure', before, [rec('A', 'scheduled')]);
    const good = rec('B', 'scheduled');
    // The local task cannot be serialised (BigInt): the error comes after the state and the outbox
    // row were written inside the transaction.
    const bad = { ...rec('B', 'scheduled', true, 'bad'), event: { ...event('B'), raw: { n: 1n } } };
    expect(() =>
      j.commit('azure', stateWith(2, 'A', 'B'), [good], [{ sink: 'syslog', record: bad }]),
    ).toThrow();
    expect(j.trackerState('azure')).toEqual(before);
    expect(ids(j)).toEqual(['azure/A/scheduled']);
    expect(j.peekTasks(10)).toEqual([]);
    // And the journal still works afterwards.
    j.commit('azure', stateWith(2, 'A', 'B'), [good]);
    expect(ids(j)).toEqual(['azure/A/scheduled', 'azure/B/scheduled']);
  });

  it('ignores a transition id it already holds (a poll repeated after a crash)', () => {
    const j = journal();
    const t = rec('A', 'scheduled');
    j.commit('azure', stateWith(1, 'A'), [t], [{ sink: 'syslog', record: t }]);
    j.commit(
      'azure',
      stateWith(1, 'A'),
      [{ ...t, observedAt: '2024-05-01T12:00:05.000Z' }],
      [{ sink: 'syslog', record: t }],
    );
    expect(j.outboxSize()).toBe(1);
    expect(j.peek(10)[0]!.record.observedAt).toBe('2024-05-01T12:00:00.000Z');
    expect(j.peekTasks(10)).toHaveLength(1);
    // The same transition for two sinks is two tasks.
    j.commit('azure', stateWith(1, 'A'), [t], [{ sink: 'hook:drain', record: t }]);
    expect(j.peekTasks(10).map((x) => x.sink)).toEqual(['syslog', 'hook:drain']);
  });

  it('peeks in commit order, limited, and acks remove exactly the given rows', () => {
    const j = journal();
    j.commit('azure', stateWith(1, 'A'), [rec('A', 'scheduled'), rec('B', 'scheduled', false)]);
    j.commit('azure', stateWith(2, 'A'), [rec('A', 'started'), rec('B', 'canceled', false)]);
    j.commit('azure', stateWith(3), [rec('A', 'completed')]);
    expect(ids(j)).toEqual([
      'azure/A/scheduled',
      'azure/B/scheduled',
      'azure/A/started',
      'azure/B/canceled',
      'azure/A/completed',
    ]);
    const first = j.peek(2);
    expect(first.map((r) => r.record.id)).toEqual(['azure/A/scheduled', 'azure/B/scheduled']);
    expect(first[0]!.seq).toBeLessThan(first[1]!.seq);
    j.markAttempt(first.map((r) => r.seq));
    j.markAttempt([first[0]!.seq]);
    expect(j.peek(2).map((r) => r.attempts)).toEqual([2, 1]);
    j.ack(first.map((r) => r.seq));
    expect(ids(j)).toEqual(['azure/A/started', 'azure/B/canceled', 'azure/A/completed']);
    expect(j.outboxSize()).toBe(3);
    expect(j.counters().delivered).toBe(2);
    j.ack([j.peek(1)[0]!.seq]);
    expect(j.counters().delivered).toBe(3);
  });

  it('local tasks: finish removes one, fail counts an attempt', () => {
    const j = journal();
    const a = rec('A', 'scheduled');
    const b = rec('B', 'scheduled');
    j.commit(
      'azure',
      stateWith(1, 'A', 'B'),
      [a, b],
      [
        { sink: 'syslog', record: a },
        { sink: 'syslog', record: b },
      ],
    );
    const [ta, tb] = j.peekTasks(10);
    j.failTask(ta!.seq);
    expect(j.peekTasks(10)[0]!.attempts).toBe(1);
    j.finishTask(ta!.seq);
    expect(j.peekTasks(10)).toEqual([{ ...tb!, attempts: 0 }]);
  });

  it('reopening the same file gives the same state, outbox, tasks, counters and actions', () => {
    const path = dbPath();
    const j = journal(path);
    const state = stateWith(7, 'A', 'B');
    state.gone = { OLD: 1 };
    state.regression = { incarnation: 3, count: 1 };
    const t = rec('A', 'started');
    j.commit('azure', state, [rec('A', 'scheduled'), t], [{ sink: 'syslog', record: t }]);
    j.ack([j.peek(1)[0]!.seq]);
    j.recordAction('command:c1', { ok: true, detail: 'done' });
    const outbox = j.peek(10);
    close(j);

    const again = journal(path);
    expect(again.trackerState('azure')).toEqual(state);
    expect(again.peek(10)).toEqual(outbox);
    expect(ids(again)).toEqual(['azure/A/started']);
    expect(again.peekTasks(10).map((x) => x.record)).toEqual([t]);
    expect(again.counters()).toEqual({ delivered: 1 });
    expect(again.action('command:c1')).toEqual({ ok: true, detail: 'done' });
    expect(again.action('command:nope')).toBeUndefined();
    // New rows continue after the old ones.
    again.commit('azure', state, [rec('A', 'completed')]);
    expect(ids(again)).toEqual(['azure/A/started', 'azure/A/completed']);
  });
});

describe('AgentJournal: the bounded outbox', () => {
  it('drops siblings first, then rescheduled, scheduled, canceled, and started/completed last', () => {
    const limit = 6;
    const j = journal(undefined, limit);
    // Oldest first, deliberately in the "wrong" order: the important rows are the oldest.
    const rows = [
      rec('A', 'completed', true),
      rec('A', 'started', true),
      rec('B', 'canceled', true),
      rec('C', 'scheduled', true),
      rec('D', 'rescheduled', true, 'azure/D/rescheduled/aaaa'),
      rec('S', 'completed', false), // a sibling's completion is still less important than ours
      rec('S', 'scheduled', false),
    ];
    expect(j.commit('azure', stateWith(1), rows)).toBe(1);
    const dropOrder: string[] = [];
    let present = new Set(ids(j));
    dropOrder.push(...rows.map((r) => r.id).filter((id) => !present.has(id)));
    // Each further (important) row pushes one more out, until only started/completed are left.
    for (let i = 0; i < rows.length - 3; i++) {
      expect(j.commit('azure', stateWith(1), [rec(`F${i}`, 'completed', true)])).toBe(1);
      const now = new Set(ids(j));
      dropOrder.push(...[...present].filter((id) => !now.has(id)));
      present = now;
      expect(j.outboxSize()).toBe(limit);
    }
    expect(dropOrder).toEqual([
      'azure/S/scheduled',
      'azure/S/completed',
      'azure/D/rescheduled/aaaa',
      'azure/C/scheduled',
      'azure/B/canceled',
    ]);
    // Only started/completed rows are left: every one of ours that was ever committed is still here.
    expect(ids(j).filter((id) => !id.startsWith('azure/F'))).toEqual([
      'azure/A/completed',
      'azure/A/started',
    ]);
    expect(j.counters()).toEqual({
      'dropped.scheduled': 2,
      'dropped.completed': 1,
      'dropped.rescheduled': 1,
      'dropped.canceled': 1,
    });
  });

  it('within a kind, the oldest goes first; started/completed stay while anything else is left', () => {
    const j = journal(undefined, 3);
    j.commit('azure', stateWith(1), [rec('A', 'started'), rec('B', 'completed')]);
    j.commit('azure', stateWith(2), [rec('C', 'scheduled'), rec('D', 'scheduled')]);
    expect(ids(j)).toEqual(['azure/A/started', 'azure/B/completed', 'azure/D/scheduled']);
    j.commit('azure', stateWith(3), [rec('E', 'rescheduled'), rec('F', 'scheduled')]);
    expect(ids(j)).toEqual(['azure/A/started', 'azure/B/completed', 'azure/F/scheduled']);
  });

  it('counts what it drops as dropped.<transition>, across commits and reopen', () => {
    const path = dbPath();
    const j = journal(path, 2);
    const dropped = j.commit('azure', stateWith(1), [
      rec('A', 'scheduled'),
      rec('B', 'scheduled'),
      rec('C', 'rescheduled'),
      rec('S', 'scheduled', false),
      rec('D', 'started'),
    ]);
    expect(dropped).toBe(3);
    expect(ids(j)).toEqual(['azure/B/scheduled', 'azure/D/started']);
    expect(j.counters()).toEqual({ 'dropped.scheduled': 2, 'dropped.rescheduled': 1 });
    j.commit('azure', stateWith(2), [rec('E', 'canceled')]);
    expect(ids(j)).toEqual(['azure/D/started', 'azure/E/canceled']);
    j.commit('azure', stateWith(3), [rec('D', 'completed')]);
    expect(ids(j)).toEqual(['azure/D/started', 'azure/D/completed']);
    const counted = { 'dropped.scheduled': 3, 'dropped.rescheduled': 1, 'dropped.canceled': 1 };
    expect(j.counters()).toEqual(counted);
    close(j);
    expect(journal(path, 2).counters()).toEqual(counted);
  });

  it('does not drop anything at or under the limit', () => {
    const j = journal(undefined, 2);
    expect(j.commit('azure', stateWith(1), [rec('A', 'scheduled'), rec('B', 'scheduled', false)])).toBe(0);
    expect(j.outboxSize()).toBe(2);
    expect(j.counters()).toEqual({});
  });
});
