// The tracker diffs each document against the last one it accepted and emits transitions.
// Pure: state in, state out, so the caller can store both in one transaction.
// Rules (metadata-apis.md §1.6): the incarnation goes up on every change; a document with the
// same incarnation holds the same events; removal is the only completion signal.
import { createHash } from 'node:crypto';
import { concernsVm, type MaintenanceEvent, type Transition } from '../core/event.js';
import type { TransitionRecord } from '../core/transition.js';
import type { SourceDocument } from '../sources/source.js';

export interface TrackedEvent {
  event: MaintenanceEvent;
  firstSeenAt: string;
  /** Bumped when an id reappears after it was removed, so its transitions get new ids. */
  generation: number;
}

export interface TrackerState {
  incarnation?: number;
  events: Record<string, TrackedEvent>;
  /** Recently removed ids and their generation (bounded). */
  gone: Record<string, number>;
  /** A lower incarnation seen repeatedly; accepted as the new baseline after REGRESSION_CONFIRMATIONS polls. */
  regression?: { incarnation: number; count: number };
  /** Events absent from accepted documents, and how many in a row; reported gone once confirmed. */
  missing?: Record<string, number>;
}

export interface TrackerOptions {
  /** What a vanished Scheduled event means: `infer` (canceled, or completed if past NotBefore) or always `completed` (legacy). */
  disappearance?: 'infer' | 'completed';
  /**
   * Accepted documents in a row an event must be absent from before it is reported gone (default 2).
   * One glitched document (an event vanishing for one poll) then never fakes a completion; the
   * cost is one poll interval on `completed`/`canceled`, which nobody races against.
   */
  confirmations?: number;
}

export interface Observation {
  state: TrackerState;
  transitions: TransitionRecord[];
  /** Documents ignored as inconsistent, with why. */
  anomaly?: string;
}

export const REGRESSION_CONFIRMATIONS = 3;
const GONE_LIMIT = 500;

export function emptyState(): TrackerState {
  return { events: {}, gone: {} };
}

/** The fields whose change makes a Scheduled event `rescheduled`. */
function fingerprint(e: MaintenanceEvent): string {
  return JSON.stringify([
    e.notBefore ?? '',
    e.type,
    e.durationSeconds ?? null,
    e.description ?? '',
    e.origin,
    [...e.resources].sort(),
  ]);
}

function shortHash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 12);
}

function transitionId(e: MaintenanceEvent, t: Transition, generation: number, change?: string): string {
  return [
    e.provider,
    e.eventId,
    t,
    ...(generation > 0 ? [`g${generation}`] : []),
    ...(change ? [change] : []),
  ].join('/');
}

export function observe(
  prev: TrackerState,
  doc: SourceDocument,
  vm: string,
  now: number,
  options: TrackerOptions = {},
): Observation {
  const observedAt = new Date(now).toISOString();
  const confirmations = options.confirmations ?? 2;
  const missingBefore = prev.missing ?? {};
  // What the last accepted documents showed: events not already counted missing.
  const visible = Object.keys(prev.events).filter((id) => !missingBefore[id]);
  const docIds = new Set(doc.events.map((e) => e.eventId));

  if (doc.incarnation !== undefined && prev.incarnation !== undefined) {
    if (doc.incarnation === prev.incarnation) {
      // Same incarnation must mean same events. Fewer events is a glitch: ignore the document.
      // More (or other) events means the document we accepted at this incarnation was the glitch: take this one.
      const lacks = visible.filter((id) => !docIds.has(id));
      const adds = [...docIds].filter((id) => !visible.includes(id));
      if (lacks.length && !adds.length) {
        return {
          state: prev,
          transitions: [],
          anomaly: `incarnation ${doc.incarnation} unchanged but ${lacks.length} event(s) vanished: ignored`,
        };
      }
      if (adds.length && lacks.length) {
        return {
          state: prev,
          transitions: [],
          anomaly: `incarnation ${doc.incarnation} unchanged but its events differ: ignored`,
        };
      }
    } else if (doc.incarnation < prev.incarnation) {
      const count = prev.regression?.incarnation === doc.incarnation ? prev.regression.count + 1 : 1;
      if (count < REGRESSION_CONFIRMATIONS) {
        return {
          state: { ...prev, regression: { incarnation: doc.incarnation, count } },
          transitions: [],
          anomaly: `incarnation went back from ${prev.incarnation} to ${doc.incarnation}: ignored (${count}/${REGRESSION_CONFIRMATIONS})`,
        };
      }
      // Seen consistently: the service really restarted its count (e.g. after a redeploy). Diff normally.
    }
  }

  const transitions: TransitionRecord[] = [];
  const events: Record<string, TrackedEvent> = {};
  const missing: Record<string, number> = {};
  const gone = { ...prev.gone };
  const emit = (
    t: Transition,
    tracked: TrackedEvent,
    extra: Partial<TransitionRecord> = {},
    change?: string,
  ) =>
    transitions.push({
      id: transitionId(tracked.event, t, tracked.generation, change),
      transition: t,
      event: tracked.event,
      mine: concernsVm(tracked.event, vm),
      observedAt,
      ...extra,
    });

  for (const event of doc.events) {
    const before = prev.events[event.eventId];
    if (!before) {
      const generation = gone[event.eventId] !== undefined ? gone[event.eventId]! + 1 : 0;
      delete gone[event.eventId];
      const tracked: TrackedEvent = { event, firstSeenAt: observedAt, generation };
      events[event.eventId] = tracked;
      emit(event.status === 'started' ? 'started' : 'scheduled', tracked);
      continue;
    }
    const tracked: TrackedEvent = { ...before, event };
    events[event.eventId] = tracked;
    if (before.event.status === 'scheduled' && event.status === 'started') {
      emit('started', tracked);
    } else if (event.status === 'scheduled' && fingerprint(before.event) !== fingerprint(event)) {
      // The incarnation is in the id: moving back to an earlier time is a new reschedule, not a repeat.
      emit(
        'rescheduled',
        tracked,
        before.event.notBefore ? { previousNotBefore: before.event.notBefore } : {},
        shortHash(`${doc.incarnation ?? ''}|${fingerprint(event)}`),
      );
    }
  }

  for (const [id, before] of Object.entries(prev.events)) {
    if (events[id]) continue;
    const absent = (missingBefore[id] ?? 0) + 1;
    if (absent < confirmations) {
      events[id] = before; // keep it until a second document confirms it is gone
      missing[id] = absent;
      continue;
    }
    const last = before.event;
    let transition: Transition;
    let inferred = false;
    if (last.status === 'started' || options.disappearance === 'completed') {
      transition = 'completed';
    } else if (last.notBefore && Date.parse(last.notBefore) <= now) {
      // Gone after NotBefore while Scheduled: it ran between two of our polls.
      transition = 'completed';
      inferred = true;
    } else {
      transition = 'canceled';
    }
    const ended: TrackedEvent = {
      ...before,
      event: { ...last, status: transition === 'completed' ? 'completed' : 'canceled' },
    };
    emit(transition, ended, inferred ? { inferred } : {});
    gone[id] = before.generation;
  }

  const goneIds = Object.keys(gone);
  for (const id of goneIds.slice(0, Math.max(0, goneIds.length - GONE_LIMIT))) delete gone[id];
  const state: TrackerState = {
    incarnation: doc.incarnation,
    events,
    gone,
    ...(Object.keys(missing).length ? { missing } : {}),
  };
  // Nothing changed: hand back the same object so the caller skips a disk write.
  if (transitions.length === 0 && JSON.stringify(state) === JSON.stringify(prev))
    return { state: prev, transitions };
  return { state, transitions };
}
