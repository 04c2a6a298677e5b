// Local responses to a transition that work with no hub at all: each sink says which
// transitions it wants and handles one at a time. The agent runs them at least once.
import type { EventType, Transition } from '../core/event.js';
import type { TransitionRecord } from '../core/transition.js';
import { hookEnv, runHook, type HookResult, type HookSpec } from './hooks.js';

export interface TransitionSink {
  readonly name: string;
  wants(t: TransitionRecord): boolean;
  /** Throws to be retried. */
  handle(t: TransitionRecord): Promise<unknown>;
}

export interface Selector {
  types?: EventType[];
  transitions?: Transition[];
  /** Also for siblings' events (default: only events that concern this VM). */
  siblings?: boolean;
}

export function selects(selector: Selector, t: TransitionRecord): boolean {
  return (
    (selector.siblings === true || t.mine) &&
    (!selector.types || selector.types.includes(t.event.type)) &&
    (!selector.transitions || selector.transitions.includes(t.transition))
  );
}

export class HookSink implements TransitionSink {
  readonly name: string;
  constructor(
    private readonly spec: HookSpec,
    private readonly selector: Selector,
    private readonly onResult: (t: TransitionRecord, r: HookResult) => void = () => {},
  ) {
    this.name = `hook:${spec.name}`;
  }

  wants(t: TransitionRecord): boolean {
    return selects(this.selector, t);
  }

  /** A failing hook is recorded, not retried: running a drain script twice is worse than once. */
  async handle(t: TransitionRecord): Promise<HookResult> {
    const result = await runHook(this.spec, { env: hookEnv(t), stdin: JSON.stringify(t) });
    this.onResult(t, result);
    return result;
  }
}
