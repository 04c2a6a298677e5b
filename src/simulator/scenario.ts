// Scenarios: a fleet and a timeline of cloud actions, played with the controller's time scale.
// A scenario is validated whole, and every VM name and event reference checked, before anything changes.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { parseDuration, toIso } from '../core/time.js';
import type { Activity, Controller, ScheduleInput } from './controller.js';
import type { FaultInjector } from './faults.js';
import { SimError, type SimVmInput } from './fleet.js';
import { Scenario, STEP_ACTIONS, type ScenarioStepT, type ScenarioT, type StepAction } from './schemas.js';
import { assertValid } from './validate.js';

export interface PlayedStep {
  index: number;
  action: StepAction;
  dueAt: string;
  state: 'pending' | 'done' | 'failed';
  result?: string;
}

export interface ScenarioStatus {
  name: string;
  description?: string;
  startedAt: string;
  timeScale: number;
  steps: PlayedStep[];
}

export async function readScenarioFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SimError(400, `cannot read scenario ${path}: ${(err as Error).message}`);
  }
  try {
    return parseYaml(text);
  } catch (err) {
    throw new SimError(400, `scenario ${path} is not valid YAML: ${(err as Error).message}`);
  }
}

/**
 * Expands `generate:` entries: the prefix and a number from `start` (default 1), zero-padded to the
 * width of the largest number and at least two digits unless `pad` is false (`web-01`…, or
 * `batch-vmss_0`… with `start: 0, pad: false`), spread round-robin over fault and update domains.
 */
export function expandFleet(fleet: ScenarioT['fleet']): SimVmInput[] {
  const out: SimVmInput[] = [];
  for (const entry of fleet) {
    if (!('generate' in entry)) {
      out.push(entry as SimVmInput);
      continue;
    }
    const g = entry.generate;
    const start = g.start ?? 1;
    const width = g.pad === false ? 0 : Math.max(2, String(start + g.count - 1).length);
    for (let i = 0; i < g.count; i++) {
      out.push({
        name: `${g.prefix}${String(start + i).padStart(width, '0')}`,
        ...(g.provider ? { provider: g.provider } : {}),
        pool: g.pool,
        availabilitySet: g.availabilitySet,
        scaleSet: g.scaleSet,
        zone: g.zone,
        faultDomain: i % (g.faultDomains ?? 1),
        updateDomain: i % (g.updateDomains ?? 1),
        tags: g.tags,
      });
    }
  }
  return out;
}

function actionOf(step: ScenarioStepT, index: number): StepAction {
  const keys = Object.keys(step).filter((k) => k !== 'at' && k !== 'id');
  const unknown = keys.filter((k) => !(k in STEP_ACTIONS));
  if (unknown.length) {
    throw new SimError(
      400,
      `/timeline/${index}/${unknown[0]}: unknown action; one of ${Object.keys(STEP_ACTIONS).join(', ')}`,
    );
  }
  if (keys.length !== 1)
    throw new SimError(400, `/timeline/${index}: give exactly one action, got ${keys.length}`);
  return keys[0] as StepAction;
}

/** Validates the scenario against the schema and against itself (names, references, durations). */
export function checkScenario(input: unknown, existingVms: string[] = []): ScenarioT {
  assertValid(Scenario, input, '');
  const scenario = input as ScenarioT;
  const vms = new Set(existingVms);
  for (const [i, vm] of expandFleet(scenario.fleet).entries()) {
    if (vms.has(vm.name))
      throw new SimError(400, `/fleet/${i}: VM ${vm.name} is defined twice or already exists`);
    vms.add(vm.name);
  }
  const needVm = (name: string | undefined, path: string) => {
    if (name !== undefined && !vms.has(name))
      throw new SimError(400, `${path}: unknown VM ${JSON.stringify(name)}`);
  };
  const steps = scenario.timeline ?? [];
  const dueMs: number[] = [];
  /** Schedule step ids: where each is defined. */
  const ids = new Map<string, number>();
  for (const [i, step] of steps.entries()) {
    const action = actionOf(step, i);
    const path = `/timeline/${i}/${action}`;
    assertValid(STEP_ACTIONS[action], step[action], path);
    try {
      dueMs.push(parseDuration(step.at));
    } catch (err) {
      throw new SimError(400, `/timeline/${i}/at: ${(err as Error).message}`);
    }
    if (step.schedule) {
      step.schedule.targets.vms?.forEach((n, j) => needVm(n, `${path}/targets/vms/${j}`));
      for (const key of ['notice', 'startedFor'] as const) {
        const value = step.schedule[key];
        if (value === undefined) continue;
        try {
          parseDuration(value);
        } catch (err) {
          throw new SimError(400, `${path}/${key}: ${(err as Error).message}`);
        }
      }
      if (step.id !== undefined) {
        const first = ids.get(step.id);
        if (first !== undefined) {
          throw new SimError(
            400,
            `/timeline/${i}/id: id ${JSON.stringify(step.id)} is already given to /timeline/${first}`,
          );
        }
        ids.set(step.id, i);
      }
    } else if (step.id) {
      throw new SimError(400, `/timeline/${i}/id: only schedule steps take an id`);
    }
    if (step.reschedule?.notice !== undefined) {
      try {
        parseDuration(step.reschedule.notice);
      } catch (err) {
        throw new SimError(400, `${path}/notice: ${(err as Error).message}`);
      }
    }
    needVm(step.userReboot ?? step.userRedeploy, path);
    needVm(step.faults?.vm ?? step.clearFaults?.vm, `${path}/vm`);
  }
  // Steps run in time order (the same `at`: in file order), so a step may refer only to a schedule
  // step that runs before it, wherever that step is in the list.
  for (const [i, step] of steps.entries()) {
    const action = actionOf(step, i);
    const path = `/timeline/${i}/${action}`;
    const ref = step.start ?? step.complete ?? step.cancel ?? step.reschedule?.event;
    if (ref === undefined) continue;
    const where = step.reschedule ? `${path}/event` : path;
    const j = ids.get(ref);
    if (j === undefined) throw new SimError(400, `${where}: no schedule step has id ${JSON.stringify(ref)}`);
    if (dueMs[j]! > dueMs[i]! || (dueMs[j] === dueMs[i] && j > i)) {
      const when =
        dueMs[j] === dueMs[i]
          ? 'at the same time, later in the file'
          : `after this step (at ${steps[i]!.at})`;
      throw new SimError(
        400,
        `${where}: id ${JSON.stringify(ref)} is scheduled by /timeline/${j} at ${steps[j]!.at}, ${when}; ` +
          'a step can only refer to a schedule step that runs before it',
      );
    }
  }
  return scenario;
}

interface QueuedStep {
  step: ScenarioStepT;
  played: PlayedStep;
  offset: number;
}

/** What a schedule step with an `id` produced, for the steps that refer to it. */
type RefResult = { activities: Activity[] } | { failed: string; index: number };

/** Plays a checked scenario: creates the fleet now, runs each step at its scaled offset, in time order. */
export class ScenarioPlayer {
  private timer?: NodeJS.Timeout;
  private generation = 0;
  private current?: ScenarioStatus;
  private readonly refs = new Map<string, RefResult>();

  constructor(
    private readonly controller: Controller,
    private readonly faults: FaultInjector,
  ) {}

  status(): ScenarioStatus | undefined {
    return this.current;
  }

  /**
   * Checks and plays a scenario. `timeScale` is an explicit scale (the `--time-scale` option) that
   * beats the scenario's own `timeScale`; the step offsets use whichever applies.
   */
  load(input: unknown, options: { timeScale?: number } = {}): ScenarioStatus {
    const scenario = checkScenario(
      input,
      this.controller.fleet.list().map((vm) => vm.name),
    );
    this.stop();
    const scale = options.timeScale ?? scenario.timeScale;
    if (scale !== undefined) this.controller.timeScale = scale;
    for (const vm of expandFleet(scenario.fleet)) this.controller.fleet.add(vm);
    const now = this.controller.now();
    const status: ScenarioStatus = {
      name: scenario.name,
      description: scenario.description,
      startedAt: toIso(now),
      timeScale: this.controller.timeScale,
      steps: [],
    };
    const queue: QueuedStep[] = [];
    for (const [index, step] of (scenario.timeline ?? []).entries()) {
      const offset = parseDuration(step.at) / this.controller.timeScale;
      const played: PlayedStep = {
        index,
        action: actionOf(step, index),
        dueAt: toIso(now + offset),
        state: 'pending',
      };
      status.steps.push(played);
      queue.push({ step, played, offset });
    }
    // A stable sort: steps due at the same time keep their file order.
    queue.sort((a, b) => a.offset - b.offset);
    this.current = status;
    this.playFrom(queue, 0, performance.now(), scenario, this.generation);
    return status;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.generation++;
    this.refs.clear();
  }

  /** Stops the scenario and forgets it: after a reset no step is pending. */
  reset(): void {
    this.stop();
    this.current = undefined;
  }

  /** One timer at a time: when it fires, every step due by then runs, in order. */
  private playFrom(
    queue: QueuedStep[],
    next: number,
    startedAt: number,
    scenario: ScenarioT,
    generation: number,
  ): void {
    if (next >= queue.length) return;
    const wait = Math.max(0, queue[next]!.offset - (performance.now() - startedAt));
    this.timer = setTimeout(() => {
      if (generation !== this.generation) return;
      const elapsed = performance.now() - startedAt;
      let i = next;
      do {
        this.run(queue[i]!.step, queue[i]!.played, scenario);
        i++;
      } while (i < queue.length && queue[i]!.offset <= elapsed);
      this.playFrom(queue, i, startedAt, scenario, generation);
    }, wait);
    this.timer.unref();
  }

  private run(step: ScenarioStepT, played: PlayedStep, scenario: ScenarioT): void {
    const c = this.controller;
    const byRef = (ref: string): Activity[] => {
      const result = this.refs.get(ref);
      // checkScenario guarantees the schedule step ran before; this guards the impossible.
      if (!result) throw new Error(`the schedule step with id ${JSON.stringify(ref)} has not run`);
      if ('failed' in result) {
        throw new Error(
          `schedule step /timeline/${result.index} (id ${JSON.stringify(ref)}) failed: ${result.failed}`,
        );
      }
      return result.activities;
    };
    try {
      let done: Activity[] = [];
      if (step.schedule) {
        const input: ScheduleInput = { approval: scenario.approval, ...step.schedule };
        try {
          done = c.schedule(input);
        } catch (err) {
          if (step.id) this.refs.set(step.id, { failed: (err as Error).message, index: played.index });
          throw err;
        }
        if (step.id) this.refs.set(step.id, { activities: done });
      } else if (step.start) done = byRef(step.start).map((a) => c.start(a.eventId, 'started by scenario'));
      else if (step.complete) done = byRef(step.complete).map((a) => c.complete(a.eventId));
      else if (step.cancel) done = byRef(step.cancel).map((a) => c.cancel(a.eventId));
      else if (step.reschedule)
        done = byRef(step.reschedule.event).map((a) => c.reschedule(a.eventId, step.reschedule!));
      else if (step.userReboot)
        done = [c.userAction(step.userReboot, 'Reboot', undefined, scenario.approval)];
      else if (step.userRedeploy)
        done = [c.userAction(step.userRedeploy, 'Redeploy', undefined, scenario.approval)];
      else if (step.faults) this.faults.set(step.faults.spec, step.faults.vm);
      else if (step.clearFaults) this.faults.clear(step.clearFaults.vm);
      played.state = 'done';
      played.result = done.length ? done.map((a) => `${a.type} ${a.eventId} ${a.status}`).join('; ') : 'ok';
    } catch (err) {
      // A step can fail legitimately (an event already started on its own): record it, keep playing.
      played.state = 'failed';
      played.result = (err as Error).message;
    }
    c.emit('scenario-step', played);
  }
}
