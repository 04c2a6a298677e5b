// Scenarios: every example file is valid; a played timeline acts at its scaled offsets; a bad
// scenario is refused with the path of the bad field and changes nothing.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { checkScenario, expandFleet, readScenarioFile } from '../../src/simulator/scenario.js';
import { ScenarioDocument, STEP_ACTIONS } from '../../src/simulator/schemas.js';
import { createSimulator, type Simulator } from '../../src/simulator/server.js';
import { client, type Client } from '../helpers/sim-http.js';
import { waitFor } from '../helpers/wait.js';

const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;
// examples/ also holds other files (the agent's rule files: a top-level `rules:`); every other YAML
// file there is a scenario and must stay valid.
const exampleFiles = readdirSync(EXAMPLES).filter(
  (f) => f.endsWith('.yaml') && !/^rules:/m.test(readFileSync(join(EXAMPLES, f), 'utf8')),
);

let sim: Simulator;
let api: Client;

beforeEach(async () => {
  sim = await createSimulator({ rateLimit: 0 });
  api = client(await sim.listen(0));
});

afterEach(async () => {
  await sim.close();
});

interface Step {
  index: number;
  action: string;
  dueAt: string;
  state: string;
  result?: string;
}
interface EventView {
  eventId: string;
  type: string;
  status: string;
  source: string;
  resources: string[];
  createdAt: string;
  notBefore: string;
  endedAt?: string;
  history: { at: string; status: string; reason: string }[];
}

const ms = (iso: string) => Date.parse(iso);

describe('example scenarios', () => {
  it('there is at least one example', () => {
    expect(exampleFiles.length).toBeGreaterThan(0);
  });

  it.each(exampleFiles)('%s parses, passes checkScenario and loads', async (file) => {
    const input = await readScenarioFile(join(EXAMPLES, file));
    const scenario = checkScenario(input);
    const vms = expandFleet(scenario.fleet);
    expect(vms.length).toBeGreaterThan(0);
    const res = await api.post('/sim/scenario', input);
    expect(res.status, res.text).toBe(201);
    expect(res.body.steps).toHaveLength(scenario.timeline?.length ?? 0);
    expect((await api.get('/sim/vms')).body.vms.map((v: { name: string }) => v.name)).toEqual(
      vms.map((v) => v.name),
    );
  });

  it.each(exampleFiles)('%s is valid against the published scenario schema', async (file) => {
    const input = await readScenarioFile(join(EXAMPLES, file));
    expect([...Value.Errors(ScenarioDocument, input)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
  });

  it('readScenarioFile names the file it cannot read or parse', async () => {
    await expect(readScenarioFile(join(EXAMPLES, 'no-such.yaml'))).rejects.toThrow(/no-such\.yaml/);
  });
});

describe('generate:', () => {
  const names = (generate: Record<string, unknown>) =>
    expandFleet([{ generate } as never]).map((vm) => vm.name);

  it('by default: the prefix and a 1-based number zero-padded to at least two digits', () => {
    expect(names({ prefix: 'web-', count: 3 })).toEqual(['web-01', 'web-02', 'web-03']);
    expect(names({ prefix: 'web-', count: 150 }).slice(0, 1)).toEqual(['web-001']);
    expect(names({ prefix: 'web-', count: 150 }).at(-1)).toBe('web-150');
  });

  it('start and pad give VMSS instance names, numbered from 0 and unpadded', () => {
    expect(names({ prefix: 'batch-vmss_', count: 4, start: 0, pad: false })).toEqual([
      'batch-vmss_0',
      'batch-vmss_1',
      'batch-vmss_2',
      'batch-vmss_3',
    ]);
    expect(names({ prefix: 'n', count: 3, start: 9 })).toEqual(['n09', 'n10', 'n11']);
    expect(names({ prefix: 'n', count: 2, start: 99, pad: false })).toEqual(['n99', 'n100']);
  });

  it('refuses a bad start or pad, naming the path', () => {
    const bad = (generate: Record<string, unknown>) => ({ name: 'g', fleet: [{ generate }] });
    expect(() => checkScenario(bad({ prefix: 'a', count: 1, start: -1 }))).toThrow(
      /^\/fleet\/0\/generate\/start: Expected integer to be greater or equal to 0/,
    );
    expect(() => checkScenario(bad({ prefix: 'a', count: 1, pad: 'no' }))).toThrow(
      /^\/fleet\/0\/generate\/pad: Expected boolean/,
    );
  });

  it('examples/scale-set-terminate.yaml has the four batch-vmss and two spot-vmss instances', async () => {
    const input = await readScenarioFile(join(EXAMPLES, 'scale-set-terminate.yaml'));
    const fleet = expandFleet(checkScenario(input).fleet).map((vm) => [
      vm.name,
      vm.scaleSet,
      vm.pool,
      vm.zone,
      vm.faultDomain,
      vm.tags,
    ]);
    const batch = { role: 'batch' };
    const spot = { role: 'batch', priority: 'spot' };
    expect(fleet).toEqual([
      ['batch-vmss_0', 'batch-vmss', 'batch', '1', 0, batch],
      ['batch-vmss_1', 'batch-vmss', 'batch', '1', 1, batch],
      ['batch-vmss_2', 'batch-vmss', 'batch', '1', 2, batch],
      ['batch-vmss_3', 'batch-vmss', 'batch', '1', 3, batch],
      ['spot-vmss_0', 'spot-vmss', 'spot', '2', 0, spot],
      ['spot-vmss_1', 'spot-vmss', 'spot', '2', 1, spot],
    ]);
  });
});

describe('the published scenario schema', () => {
  const published = JSON.parse(
    readFileSync(new URL('../../docs/scenario.schema.json', import.meta.url), 'utf8'),
  );
  const steps = published.properties.timeline.items.anyOf as {
    required: string[];
    properties: Record<string, unknown>;
    additionalProperties: boolean;
  }[];

  it('describes each timeline action as its own step shape', () => {
    expect(steps.map((s) => s.required.filter((k) => k !== 'at'))).toEqual(
      Object.keys(STEP_ACTIONS).map((a) => [a]),
    );
    for (const shape of steps) expect(shape.additionalProperties).toBe(false);
    // Only a schedule step takes an id.
    expect(steps.filter((s) => 'id' in s.properties).map((s) => s.required)).toEqual([['at', 'schedule']]);
  });

  it('refuses what checkScenario refuses: two actions, an unknown action, an id on a cancel', () => {
    const fleet = [{ name: 'v-1' }];
    const schedule = { type: 'Reboot', targets: { vms: ['v-1'] } };
    const ok = {
      name: 's',
      fleet,
      timeline: [
        { at: '1m', id: 'e', schedule },
        { at: '2m', cancel: 'e' },
      ],
    };
    expect(Value.Check(ScenarioDocument, ok)).toBe(true);
    for (const bad of [
      [{ at: '1m', schedule, cancel: 'e' }],
      [{ at: '1m', explode: 'e' }],
      [{ at: '1m', id: 'x', cancel: 'e' }],
      [{ at: '1m', schedule: { ...schedule, type: 'Explode' } }],
      [{ at: '1m' }],
    ]) {
      expect(Value.Check(ScenarioDocument, { name: 's', fleet, timeline: bad }), JSON.stringify(bad)).toBe(
        false,
      );
    }
  });

  it('is what GET /sim/scenario/schema serves', async () => {
    expect((await api.get('/sim/scenario/schema')).body).toEqual(
      JSON.parse(JSON.stringify(ScenarioDocument)),
    );
  });
});

describe('playing a scenario', () => {
  // timeScale 1200: one cloud minute is 50 ms real.
  const played = {
    name: 'played',
    timeScale: 1200,
    fleet: [
      { name: 's-1', availabilitySet: 'as' },
      { name: 's-2', availabilitySet: 'as' },
      { generate: { prefix: 'g-', count: 2, pool: 'gen', faultDomains: 2 } },
    ],
    timeline: [
      { at: '0s', id: 'a', schedule: { type: 'Reboot', targets: { vms: ['s-1'] }, notice: '1h' } },
      {
        at: '5m',
        id: 'b',
        schedule: { type: 'Freeze', targets: { pool: 'gen', faultDomain: 1 }, notice: '1h' },
      },
      { at: '10m', cancel: 'a' },
      { at: '15m', reschedule: { event: 'b', notice: '2h' } },
      {
        at: '20m',
        faults: { vm: 'g-01', spec: { errorRate: 1, errorStatus: 503, endpoints: ['scheduledevents'] } },
      },
      { at: '25m', userRedeploy: 's-2' },
      { at: '40m', clearFaults: { vm: 'g-01' } },
    ],
  };
  const scale = 1200;
  const offset = (minutes: number) => (minutes * 60_000) / scale;

  it('schedules, cancels, reschedules and applies faults at their scaled offsets', async () => {
    const loaded = await api.post('/sim/scenario', played);
    expect(loaded.status, loaded.text).toBe(201);
    expect(loaded.body.timeScale).toBe(scale);
    const start = ms(loaded.body.startedAt);
    const steps = loaded.body.steps as Step[];
    expect(steps.map((s) => s.action)).toEqual([
      'schedule',
      'schedule',
      'cancel',
      'reschedule',
      'faults',
      'userRedeploy',
      'clearFaults',
    ]);
    [0, 5, 10, 15, 20, 25, 40].forEach((m, i) => expect(ms(steps[i]!.dueAt) - start).toBe(offset(m)));
    expect((await api.get('/sim/config')).body.timeScale).toBe(scale);
    expect((await api.get('/sim/vms')).body.vms.map((v: { name: string }) => v.name)).toEqual([
      's-1',
      's-2',
      'g-01',
      'g-02',
    ]);

    // Nothing later than the first step has run yet.
    const early = (await api.get('/sim/scenario')).body.steps as Step[];
    expect(early.slice(2).every((s) => s.state === 'pending')).toBe(true);

    // Faults arrive at 20m and leave at 40m: the VM fails while they are on.
    await waitFor(async () => (await api.get('/sim/faults')).body.vms['g-01'], 5000, 10);
    const faultSeen = Date.now();
    expect(faultSeen).toBeGreaterThanOrEqual(start + offset(20) - 5);
    expect((await api.metadata('g-01')).status).toBe(503);
    expect((await api.metadata('g-02')).status).toBe(200);

    const final = await waitFor(async () => {
      const s = (await api.get('/sim/scenario')).body.steps as Step[];
      return s.every((x) => x.state !== 'pending') && s;
    }, 5000);
    expect(final.map((s) => s.state)).toEqual(Array(7).fill('done'));
    expect((await api.get('/sim/faults')).body).toEqual({ vms: {} });
    expect((await api.metadata('g-01')).status).toBe(200);

    const events = (await api.get('/sim/events')).body.events as EventView[];
    const [a, b, redeploy] = events;
    expect(events).toHaveLength(3);

    // a: scheduled at 0, canceled at 10m.
    expect(a).toMatchObject({ type: 'Reboot', resources: ['s-1'], status: 'Canceled' });
    expect(ms(a!.createdAt) - start).toBeLessThan(offset(5));
    expect(ms(a!.endedAt!)).toBeGreaterThanOrEqual(start + offset(10) - 5);
    expect(ms(a!.endedAt!)).toBeLessThan(start + offset(15));

    // b: scheduled at 5m on the odd fault domain, moved at 15m to 2 h (6 s real) from then.
    expect(b).toMatchObject({ type: 'Freeze', resources: ['g-02'], status: 'Scheduled' });
    expect(ms(b!.createdAt)).toBeGreaterThanOrEqual(start + offset(5) - 5);
    const moved = b!.history.find((h) => h.reason.startsWith('rescheduled'));
    expect(moved, JSON.stringify(b!.history)).toBeDefined();
    expect(ms(moved!.at)).toBeGreaterThanOrEqual(start + offset(15) - 5);
    expect(Math.abs(ms(b!.notBefore) - (ms(moved!.at) + offset(120)))).toBeLessThanOrEqual(1000);

    // The user redeploy at 25m.
    expect(redeploy).toMatchObject({ type: 'Redeploy', source: 'User', resources: ['s-2'] });
    expect(ms(redeploy!.createdAt)).toBeGreaterThanOrEqual(start + offset(25) - 5);
    expect(final[5]!.result).toContain(redeploy!.eventId);

    // The injected failure is in the request log.
    const log = (await api.get('/sim/requests?vm=g-01')).body.requests as {
      status: number;
      faults?: string[];
    }[];
    expect(log[0]).toMatchObject({ status: 503, faults: ['status 503'] });
  });

  it('records a step that cannot run as failed and keeps playing', async () => {
    const res = await api.post('/sim/scenario', {
      name: 'late-cancel',
      timeScale: 1200,
      fleet: [{ name: 'x-1' }],
      timeline: [
        { at: '0s', id: 'e', schedule: { type: 'Freeze', targets: { vms: ['x-1'] }, notice: '1m' } },
        { at: '5m', cancel: 'e' },
        { at: '6m', userReboot: 'x-1' },
      ],
    });
    expect(res.status, res.text).toBe(201);
    const steps = await waitFor(async () => {
      const s = (await api.get('/sim/scenario')).body.steps as Step[];
      return s.every((x) => x.state !== 'pending') && s;
    });
    expect(steps.map((s) => s.state)).toEqual(['done', 'failed', 'done']);
    expect(steps[1]!.result).toMatch(/only a Scheduled event can be canceled/);
  });
});

describe("a scenario's approval mode", () => {
  it('applies to schedule steps and to userReboot and userRedeploy steps', async () => {
    const res = await api.post('/sim/scenario', {
      name: 'all-mode',
      timeScale: 1200,
      approval: 'all',
      fleet: [{ name: 'u-1' }, { name: 'u-2' }],
      timeline: [
        { at: '0s', schedule: { type: 'Freeze', targets: { vms: ['u-1'] }, notice: '1h' } },
        { at: '0s', userReboot: 'u-1' },
        { at: '0s', userRedeploy: 'u-2' },
      ],
    });
    expect(res.status, res.text).toBe(201);
    await waitFor(async () => (await api.get('/sim/events')).body.events.length === 3);
    const events = (await api.get('/sim/events')).body.events as { type: string; approvalMode: string }[];
    expect(events.map((e) => [e.type, e.approvalMode])).toEqual([
      ['Freeze', 'all'],
      ['Reboot', 'all'],
      ['Redeploy', 'all'],
    ]);
  });
});

describe('a step whose schedule step failed', () => {
  it('is marked failed with the reason, not done', async () => {
    const res = await api.post('/sim/scenario', {
      name: 'failed-ref',
      timeScale: 1200,
      fleet: [{ name: 'f-1' }],
      timeline: [
        // No VM is in pool "nobody": the schedule step fails when it runs.
        { at: '0s', id: 'e', schedule: { type: 'Freeze', targets: { pool: 'nobody' } } },
        { at: '1m', cancel: 'e' },
        { at: '1m', reschedule: { event: 'e', notice: '5m' } },
      ],
    });
    expect(res.status, res.text).toBe(201);
    const steps = await waitFor(async () => {
      const s = (await api.get('/sim/scenario')).body.steps as Step[];
      return s.every((x) => x.state !== 'pending') && s;
    });
    expect(steps.map((s) => s.state)).toEqual(['failed', 'failed', 'failed']);
    expect(steps[0]!.result).toMatch(/no VM matches/);
    for (const step of steps.slice(1))
      expect(step.result).toMatch(/^schedule step \/timeline\/0 \(id "e"\) failed: no VM matches/);
  });
});

describe('reset during a scenario', () => {
  it('stops the scenario: later steps never run and none is reported pending', async () => {
    const res = await api.post('/sim/scenario', {
      name: 'interrupted',
      timeScale: 1200,
      fleet: [{ name: 'r-1' }],
      timeline: [{ at: '4m', schedule: { type: 'Freeze', targets: { vms: ['r-1'] } } }],
    });
    expect(res.status, res.text).toBe(201);
    expect((await api.post('/sim/reset', { fleet: false })).status).toBe(200);
    const due = Date.parse(res.body.steps[0].dueAt);
    await waitFor(() => Date.now() > due + 50, 2000, 10);
    expect((await api.get('/sim/events')).body.events).toEqual([]);
    const status = (await api.get('/sim/scenario')).body as { steps: Step[] };
    expect(status.steps.filter((s) => s.state === 'pending')).toEqual([]);
  });
});

describe('refused scenarios', () => {
  const base = (extra: Record<string, unknown> = {}) => ({
    name: 'bad',
    fleet: [
      { name: 'b-1', pool: 'p' },
      { name: 'b-2', pool: 'p' },
    ],
    timeline: [{ at: '1m', id: 'e', schedule: { type: 'Reboot', targets: { vms: ['b-1'] } } }],
    ...extra,
  });
  const step = (...more: Record<string, unknown>[]) => ({
    timeline: [{ at: '1m', id: 'e', schedule: { type: 'Reboot', targets: { vms: ['b-1'] } } }, ...more],
  });

  const cases: { name: string; input: unknown; message: RegExp }[] = [
    {
      name: 'unknown action key',
      input: base(step({ at: '2m', explode: 'e' })),
      message: /^\/timeline\/1\/explode: unknown action/,
    },
    {
      name: 'two actions in one step',
      input: base(step({ at: '2m', start: 'e', cancel: 'e' })),
      message: /^\/timeline\/1: give exactly one action/,
    },
    {
      name: 'unknown VM in targets',
      input: base({
        timeline: [{ at: '1m', schedule: { type: 'Reboot', targets: { vms: ['b-1', 'ghost'] } } }],
      }),
      message: /^\/timeline\/0\/schedule\/targets\/vms\/1: unknown VM "ghost"/,
    },
    {
      name: 'unknown VM to reboot',
      input: base(step({ at: '2m', userReboot: 'ghost' })),
      message: /^\/timeline\/1\/userReboot: unknown VM "ghost"/,
    },
    {
      name: 'unknown VM for faults',
      input: base(step({ at: '2m', faults: { vm: 'ghost', spec: {} } })),
      message: /^\/timeline\/1\/faults\/vm: unknown VM/,
    },
    {
      name: 'reference to an undefined id',
      input: base(step({ at: '2m', cancel: 'nope' })),
      message: /^\/timeline\/1\/cancel: no schedule step has id "nope"/,
    },
    {
      name: 'reschedule of an undefined id',
      input: base(step({ at: '2m', reschedule: { event: 'nope', notice: '5m' } })),
      message: /^\/timeline\/1\/reschedule\/event: .*"nope"/,
    },
    {
      name: 'reference to a later id',
      input: base({
        timeline: [
          { at: '0s', start: 'later' },
          { at: '1m', id: 'later', schedule: { type: 'Freeze', targets: { pool: 'p' } } },
        ],
      }),
      message:
        /^\/timeline\/0\/start: id "later" is scheduled by \/timeline\/1 at 1m, after this step \(at 0s\)/,
    },
    {
      name: 'reference to a schedule step listed earlier but due later',
      input: base({
        timeline: [
          { at: '2m', id: 'e2', schedule: { type: 'Reboot', targets: { vms: ['b-1'] } } },
          { at: '1m', cancel: 'e2' },
        ],
      }),
      message:
        /^\/timeline\/1\/cancel: id "e2" is scheduled by \/timeline\/0 at 2m, after this step \(at 1m\)/,
    },
    {
      name: 'reference to a schedule step due at the same time but later in the file',
      input: base({
        timeline: [
          { at: '60s', reschedule: { event: 'e2', notice: '5m' } },
          { at: '1m', id: 'e2', schedule: { type: 'Reboot', targets: { vms: ['b-1'] } } },
        ],
      }),
      message:
        /^\/timeline\/0\/reschedule\/event: id "e2" is scheduled by \/timeline\/1 .*same time, later in the file/,
    },
    {
      name: 'an id given twice',
      input: base(step({ at: '2m', id: 'e', schedule: { type: 'Freeze', targets: { pool: 'p' } } })),
      message: /^\/timeline\/1\/id: id "e" is already given to \/timeline\/0/,
    },
    {
      name: 'duplicate VM name',
      input: base({ fleet: [{ name: 'b-1' }, { name: 'b-2' }, { name: 'b-1' }] }),
      message: /^\/fleet\/2: VM b-1 is defined twice/,
    },
    {
      name: 'generated name clashing with a named VM',
      input: base({ fleet: [{ name: 'b-1' }, { name: 'b-01' }, { generate: { prefix: 'b-', count: 2 } }] }),
      message: /^\/fleet\/2: VM b-01 is defined twice/,
    },
    {
      name: 'bad at duration',
      input: base(step({ at: '2 minutes', cancel: 'e' })),
      message: /^\/timeline\/1\/at: .*2 minutes/,
    },
    {
      name: 'negative at',
      input: base(step({ at: -5, cancel: 'e' })),
      message: /^\/timeline\/1\/at: must be a non-negative number of seconds or a duration string/,
    },
    {
      name: 'unknown field on a fleet VM',
      input: base({ fleet: [{ name: 'b-1', colour: 'red' }] }),
      message: /^\/fleet\/0\/colour: unknown field$/,
    },
    {
      name: 'a fleet entry that is neither a VM nor a generator',
      input: base({ fleet: ['b-1'] }),
      message: /^\/fleet\/0: must be a VM or a generator/,
    },
    {
      name: 'bad approval mode',
      input: base({ approval: 'some' }),
      message: /^\/approval: must be one of any, all$/,
    },
    {
      name: 'bad notice duration',
      input: base({
        timeline: [{ at: '1m', schedule: { type: 'Reboot', targets: { pool: 'p' }, notice: 'later' } }],
      }),
      message: /^\/timeline\/0\/schedule\/notice: .*later/,
    },
    {
      name: 'bad reschedule notice',
      input: base(step({ at: '2m', reschedule: { event: 'e', notice: '15 minutes' } })),
      message: /^\/timeline\/1\/reschedule\/notice/,
    },
    { name: 'extra top-level field', input: base({ colour: 'red' }), message: /^\/colour: unknown field/ },
    {
      name: 'extra field in a schedule',
      input: base({
        timeline: [{ at: '1m', schedule: { type: 'Reboot', targets: { pool: 'p' }, colour: 'red' } }],
      }),
      message: /^\/timeline\/0\/schedule\/colour: unknown field/,
    },
    {
      name: 'id on a non-schedule step',
      input: base(step({ at: '2m', id: 'x', cancel: 'e' })),
      message: /^\/timeline\/1\/id/,
    },
    { name: 'missing fleet', input: { name: 'bad' }, message: /fleet/ },
    {
      name: 'bad event type',
      input: base({ timeline: [{ at: '1m', schedule: { type: 'Explode', targets: { pool: 'p' } } }] }),
      message: /^\/timeline\/0\/schedule\/type/,
    },
  ];

  const snapshot = async () => ({
    vms: (await api.get('/sim/vms')).text,
    events: (await api.get('/sim/events')).text,
    scenario: (await api.get('/sim/scenario')).text,
    config: (await api.get('/sim/config')).text,
  });

  for (const c of cases) {
    it(`refuses ${c.name}, naming the path, and changes nothing`, async () => {
      expect(() => checkScenario(c.input)).toThrow(c.message);
      expect((await api.post('/sim/vms', { name: 'existing' })).status).toBe(201);
      const before = await snapshot();
      const res = await api.post('/sim/scenario', { ...(c.input as object), timeScale: 77 });
      expect(res.status, res.text).toBe(400);
      expect(res.body.message).toMatch(c.message);
      expect(await snapshot()).toEqual(before);
    });
  }

  it('refuses a VM that already exists in the simulator, and changes nothing', async () => {
    await api.post('/sim/vms', { name: 'b-2' });
    const before = await snapshot();
    const res = await api.post('/sim/scenario', base());
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^\/fleet\/1: VM b-2 .*already exists/);
    expect(await snapshot()).toEqual(before);
  });

  it('accepts a reference to a schedule step listed later but due earlier, and plays them in time order', async () => {
    const input = {
      name: 'out-of-order',
      timeScale: 1200,
      fleet: [{ name: 'o-1' }],
      timeline: [
        { at: '2m', cancel: 'e' },
        { at: '1m', id: 'e', schedule: { type: 'Reboot', targets: { vms: ['o-1'] }, notice: '1h' } },
      ],
    };
    expect(() => checkScenario(input)).not.toThrow();
    const res = await api.post('/sim/scenario', input);
    expect(res.status, res.text).toBe(201);
    const steps = await waitFor(async () => {
      const s = (await api.get('/sim/scenario')).body.steps as Step[];
      return s.every((x) => x.state !== 'pending') && s;
    });
    expect(steps.map((s) => s.state)).toEqual(['done', 'done']);
    const [ev] = (await api.get('/sim/events')).body.events as EventView[];
    expect(ev).toMatchObject({ type: 'Reboot', status: 'Canceled' });
  });

  it('accepts absolute notBefore times (ISO 8601) in schedule and reschedule steps', async () => {
    const input = base(
      step(
        {
          at: '2m',
          id: 'abs',
          schedule: { type: 'Freeze', targets: { pool: 'p' }, notBefore: '2031-01-01T00:00:00Z' },
        },
        { at: '3m', reschedule: { event: 'e', notBefore: '2031-01-02T00:00:00Z' } },
      ),
    );
    expect(() => checkScenario(input)).not.toThrow();
    const res = await api.post('/sim/scenario', input);
    expect(res.status, res.text).toBe(201);
  });
});
