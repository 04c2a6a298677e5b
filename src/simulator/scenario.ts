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

/** Expands `generate:` entries: prefix-01… spread round-robin over fault and update domains. */
export function expandFleet(fleet: ScenarioT['fleet']): SimVmInput[] {
  const out: SimVmInput[] = [];
  for (const entry of fleet) {
    if (!('generate' in entry)) {
      out.push(entry as SimVmInput);
      continue;
    }
    const g = entry.generate;
    const width = Math.max(2, String(g.count).length);
    for (let i = 0; i < g.count; i++) {
      out.push({
        name: `${g.prefix}${String(i + 1).padStart(width, '0')}`,
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
  const refs = new Set<string>();
  const needVm = (name: string | undefined, path: string) => {
    if (name !== undefined && !vms.has(name))
      throw new SimError(400, `${path}: unknown VM ${JSON.stringify(name)}`);
  };
  const needRef = (ref: string, path: string) => {
    if (!refs.has(ref))
      throw new SimError(400, `${path}: no earlier schedule step has id ${JSON.stringify(ref)}`);
  };
  for (const [i, step] of (scenario.timeline ?? []).entries()) {
    const action = actionOf(step, i);
    const path = `/timeline/${i}/${action}`;
    assertValid(STEP_ACTIONS[action], step[action], path);
    try {
      parseDuration(step.at);
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
      if (step.id) refs.add(step.id);
    } else if (step.id) {
      throw new SimError(400, `/timeline/${i}/id: only schedule steps take an id`);
    }
    if (step.start) needRef(step.start, path);
    if (step.complete) needRef(step.complete, path);
    if (step.cancel) needRef(step.cancel, path);
    if (step.reschedule) {
      needRef(step.reschedule.event, `${path}/event`);
      if (step.reschedule.notice !== undefined) {
        try {
          parseDuration(step.reschedule.notice);
        } catch (err) {
          throw new SimError(400, `${path}/notice: ${(err as Error).message}`);
        }
      }
    }
    needVm(step.userReboot ?? step.userRedeploy, path);
    needVm(step.faults?.vm ?? step.clearFaults?.vm, `${path}/vm`);
  }
  return scenario;
}

/** Plays a checked scenario: creates the fleet now, fires each step at its scaled offset. */
export class ScenarioPlayer {
  private timers: NodeJS.Timeout[] = [];
  private current?: ScenarioStatus;
  private readonly refs = new Map<string, Activity[]>();

  constructor(
    private readonly controller: Controller,
    private readonly faults: FaultInjector,
  ) {}

  status(): ScenarioStatus | undefined {
    return this.current;
  }

  load(input: unknown): ScenarioStatus {
    const scenario = checkScenario(
      input,
      this.controller.fleet.list().map((vm) => vm.name),
    );
    this.stop();
    if (scenario.timeScale !== undefined) this.controller.timeScale = scenario.timeScale;
    for (const vm of expandFleet(scenario.fleet)) this.controller.fleet.add(vm);
    const now = this.controller.now();
    const status: ScenarioStatus = {
      name: scenario.name,
      description: scenario.description,
      startedAt: toIso(now),
      timeScale: this.controller.timeScale,
      steps: [],
    };
    for (const [index, step] of (scenario.timeline ?? []).entries()) {
      const offset = parseDuration(step.at) / this.controller.timeScale;
      const played: PlayedStep = {
        index,
        action: actionOf(step, index),
        dueAt: toIso(now + offset),
        state: 'pending',
      };
      status.steps.push(played);
      const timer = setTimeout(() => this.run(step, played, scenario), offset);
      timer.unref();
      this.timers.push(timer);
    }
    this.current = status;
    return status;
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    this.refs.clear();
  }

  /** Stops the scenario and forgets it: after a reset no step is pending. */
  reset(): void {
    this.stop();
    this.current = undefined;
  }

  private run(step: ScenarioStepT, played: PlayedStep, scenario: ScenarioT): void {
    const c = this.controller;
    const byRef = (ref: string) => this.refs.get(ref) ?? [];
    try {
      let done: Activity[] = [];
      if (step.schedule) {
        const input: ScheduleInput = { approval: scenario.approval, ...step.schedule };
        done = c.schedule(input);
        if (step.id) this.refs.set(step.id, done);
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
