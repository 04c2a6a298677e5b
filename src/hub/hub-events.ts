// In-process notifications between the hub's rooms (ingest → planner, commands → long-polls,
// everything → the dashboard's live stream).
import { EventEmitter } from 'node:events';
import type { CommandRow, IncomingTransition } from '../store/store.js';
import type { ExecutorOptions } from './executor.js';

export interface StoredTransition extends IncomingTransition {
  transitionId: number;
  eventKey: string;
  receivedAt: string;
}

export type AttemptInfo = Parameters<NonNullable<ExecutorOptions['onAttempt']>>[0];
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
}

export class HubEvents extends EventEmitter<HubEventMap> {
  constructor() {
    super();
    this.setMaxListeners(0); // one listener per waiting long-poll
  }
}
