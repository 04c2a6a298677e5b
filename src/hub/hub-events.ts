// In-process notifications between the hub's rooms (ingest → planner, commands → long-polls,
// everything → the dashboard's live stream), fed on replicas also by what the shared store says
// the other replicas did.
import { EventEmitter } from 'node:events';
import type { CommandRow, IncomingTransition, StoreChange } from '../store/store.js';
import type { ExecutorOptions } from './executor.js';

export interface StoredTransition extends IncomingTransition {
  transitionId: number;
  eventKey: string;
  receivedAt: string;
}

export type AttemptInfo = Parameters<NonNullable<ExecutorOptions['onAttempt']>>[0];
/** A step attempt began or ended (the executor emits these; src/hub/notices.ts listens). */
export interface StepNotice {
  stage: 'started' | 'finished';
  runKey: string;
  step: string;
  action: string;
  attempt: number;
  /** For `finished`: the step's state after the attempt (pending = will retry). */
  outcome?: 'succeeded' | 'pending' | 'dead';
  ok?: boolean;
  detail?: string;
}

/** Something happened to a run as a whole (the planner emits these). */
export interface RunNotice {
  /** received: a rule matched and its run was written; completed/canceled: the event ended. */
  kind: 'received' | 'completed' | 'canceled';
  runKey: string;
}

export type HeldInfo = Parameters<NonNullable<ExecutorOptions['onHeld']>>[0];

export interface HubEventMap {
  transition: [StoredTransition];
  /** A command was queued for this VM (wakes its agent's long-poll). */
  command: [string];
  /** An agent reported a command's result. */
  commandDone: [CommandRow];
  /** A step attempt finished. */
  attempt: [AttemptInfo];
  /** A disruptive step was held (pool full, outside its window, or blocked), or for a new reason. */
  held: [HeldInfo];
  /** An agent heartbeat was stored, for this VM. */
  heartbeat: [string];
  step: [StepNotice];
  run: [RunNotice];
  /** Something changed, on this hub or (shared store) any replica: dashboards refresh on it. */
  change: [StoreChange];
}

export class HubEvents extends EventEmitter<HubEventMap> {
  constructor() {
    super();
    this.setMaxListeners(0); // one listener per waiting long-poll
  }
}
