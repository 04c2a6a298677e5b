// In-process notifications between the hub's rooms (ingest → planner, commands → long-polls),
// fed on replicas also by what the shared store says the other replicas did.
import { EventEmitter } from 'node:events';
import type { IncomingTransition, StoreChange } from '../store/store.js';

export interface StoredTransition extends IncomingTransition {
  transitionId: number;
  eventKey: string;
  receivedAt: string;
}

export interface HubEventMap {
  transition: [StoredTransition];
  command: [string];
  /** Something changed, on this hub or (shared store) any replica: dashboards refresh on it. */
  change: [StoreChange];
}

export class HubEvents extends EventEmitter<HubEventMap> {
  constructor() {
    super();
    this.setMaxListeners(0); // one listener per waiting long-poll
  }
}
