// One interface for every action (Alertmanager's Notifier shape): run once, say whether it worked
// and, if not, whether trying again can help.
import type { Logger } from 'pino';
import type { EventRow, Store } from '../store/store.js';
import type { Transition } from '../core/event.js';

export interface ActionContext {
  event: EventRow;
  /** The transition that triggered the run. */
  transition: Transition;
  /** The affected VM this run is for. */
  vm: string;
  rule: string;
  step: string;
  phase: 'do' | 'undo' | 'notice';
  /** Stable across retries, redrives and restarts: receivers dedupe on it. */
  idempotencyKey: string;
  attempt: number;
  deadline?: string;
  signal: AbortSignal;
  store: Store;
  log: Logger;
  now: () => number;
  /** Where an operator can see this event (dashboard or API). */
  eventUrl: string;
  /** Wakes agents' long-polls when a command is queued. */
  notifyCommand: (vm: string) => void;
}

export type ActionResult =
  | { ok: true; detail: string; output?: unknown }
  | {
      ok: false;
      retryable: boolean;
      detail: string;
      retryAfterMs?: number;
      status?: number;
      output?: unknown;
    };

export interface Action {
  readonly kind: string;
  /** Checks a step's `with:` when rules load, so a typo fails at load time, not at 3 a.m. */
  validate(params: Record<string, unknown>): void;
  run(ctx: ActionContext, params: Record<string, unknown>): Promise<ActionResult>;
  /** Releases what the action keeps between runs (connections); the hub calls it when it stops. */
  close?(): Promise<void>;
}

export class ActionConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ActionConfigError';
  }
}
