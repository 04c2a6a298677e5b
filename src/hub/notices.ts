// Lifecycle notices: a rule's `notify: [{on: [...], action, with}]` tells people what happens to
// its runs as it happens, with the outcome (the top complaint about the old handlers: one notice,
// late, without the outcome). The planner and the executor announce runs and step attempts on
// HubEvents; each notice becomes a one-step run of its own (phase `notice`) that the executor
// delivers like any step: retries, dead-letter, an idempotency key per notice. A notice's run key
// is derived from what it is about, so announcing the same thing twice (a replanned transition)
// writes it once.
//
// Gap, by choice: the notice run is written just after the step's attempt is committed, not in
// the same transaction; a hub killed in between loses that one notice (the step's own record is
// intact). Keeping the executor's commit path untouched was worth more here.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { NOT_APPROVED } from '../actions/agent-command.js';
import { NOTICE_PARAM, type NoticeInfo } from '../actions/event-context.js';
import type { Store } from '../store/store.js';
import type { HubEvents, RunNotice, StepNotice } from './hub-events.js';
import { planSteps } from './planner.js';
import type { NoticeKind, RuleT } from './rules.js';

export interface NoticesOptions {
  store: Store;
  rules: () => RuleT[];
  events: HubEvents;
  log: Logger;
  now: () => number;
  /** Called when notice runs were written, so the executor looks now. */
  onPlanned: () => void;
}

const MARK = '|notice:';
const short = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);

/** Which notices a finished attempt means: a failure that ends in the dead-letter is both. */
export function kindsOf(n: StepNotice): NoticeKind[] {
  if (n.stage === 'started') return ['step-started'];
  if (n.outcome === 'succeeded')
    // An approve step the policy declined succeeded without approving anything.
    return n.action === 'approve' && !n.detail?.startsWith(NOT_APPROVED)
      ? ['step-succeeded', 'approved']
      : ['step-succeeded'];
  const kinds: NoticeKind[] = n.ok === false && n.outcome !== undefined ? ['step-failed'] : [];
  if (n.outcome === 'dead') kinds.push('dead-lettered');
  return kinds;
}

export class Notices {
  /** Notices being written, so tests and shutdown can wait for them. */
  private pending = new Set<Promise<void>>();
  private readonly onStep = (n: StepNotice) => this.track(this.fromStep(n));
  private readonly onRun = (n: RunNotice) =>
    this.track(this.notify([n.kind], n.runKey, { kind: n.kind }, n.kind));

  constructor(private readonly o: NoticesOptions) {}

  start(): void {
    this.o.events.on('step', this.onStep);
    this.o.events.on('run', this.onRun);
  }

  async stop(): Promise<void> {
    this.o.events.off('step', this.onStep);
    this.o.events.off('run', this.onRun);
    await this.idle();
  }

  async idle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((err: Error) =>
      this.o.log.error({ err: err.message }, 'writing a lifecycle notice failed'),
    );
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  private async fromStep(n: StepNotice): Promise<void> {
    const kinds = kindsOf(n);
    if (!kinds.length) return;
    const info: NoticeInfo = { kind: '', step: n.step, attempt: n.attempt, detail: n.detail };
    await this.notify(kinds, n.runKey, info, `${n.step}:${n.attempt}`);
  }

  private async notify(kinds: NoticeKind[], runKey: string, info: NoticeInfo, about: string): Promise<void> {
    if (runKey.includes(MARK)) return; // no notices about notices
    // A run key starts with its rule's name (names cannot contain '|'): rules without `notify`
    // cost no store read, so the executor's hot path stays as it was.
    const rule = this.o.rules().find((r) => r.name === runKey.slice(0, runKey.indexOf('|')));
    if (!rule?.notify?.length) return;
    const run = await this.o.store.getRun(runKey);
    if (!run) return;
    const event = run.snapshot ?? (await this.o.store.getEventRow(run.eventKey));
    if (!event) return;
    const now = this.o.now();
    const iso = new Date(now).toISOString();
    // The transition part stays 4th, where the executor reads which transition a run is for.
    const transition = runKey.split('|')[3] ?? event.lastTransition;
    let created = 0;
    for (const [i, entry] of rule.notify.entries()) {
      for (const kind of kinds.filter((k) => entry.on.includes(k))) {
        const ended = kind === 'completed' || kind === 'canceled';
        // The event's end is one notice per rule and VM, however many runs the rule had.
        const key = `${run.rule}|${run.eventKey}|${run.vm}|${ended ? kind : transition}${MARK}${i}:${kind}:${ended ? '' : `${short(runKey)}:${about}`}`;
        const steps = planSteps(
          [
            {
              name: `notify-${kind}`,
              action: entry.action,
              with: { ...(entry.with ?? {}), [NOTICE_PARAM]: { ...info, kind } },
              retry: entry.retry,
              timeout: entry.timeout,
              runAfterDeadline: true,
            },
          ],
          key,
          undefined,
          now,
          'undo',
        );
        const written = await this.o.store.createRun(
          {
            key,
            rule: run.rule,
            eventKey: run.eventKey,
            vm: run.vm,
            phase: 'notice',
            triggerTransitionId: run.triggerTransitionId,
            createdAt: iso,
            snapshot: event,
          },
          steps,
        );
        if (written) created++;
      }
    }
    if (created) this.o.onPlanned();
  }
}
