// In-process notifications between the hub's rooms (ingest → planner, commands → long-polls).
import { EventEmitter } from 'node:events';
import type { IncomingTransition } from '../store/store.js';

export interface StoredTransition extends IncomingTransition {
  transitionId: number;
  eventKey: string;
  receivedAt: string;
}

export interface HubEventMap {
  transition: [StoredTransition];
  command: [string];
}

export class HubEvents extends EventEmitter<HubEventMap> {
  constructor() {
    super();
    this.setMaxListeners(0); // one listener per waiting long-poll
  }
}
