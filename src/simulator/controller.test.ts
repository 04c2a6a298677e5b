import { beforeEach, describe, expect, it } from 'vitest';
import { Controller } from './controller.js';
import { SimError } from './fleet.js';

const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);

function setup(options: ConstructorParameters<typeof Controller>[0] = {}) {
  let now = T0;
  const c = new Controller({ now: () => now, autoAdvance: false, ...options });
  c.fleet.add({ name: 'web-01', availabilitySet: 'web-as', pool: 'web', faultDomain: 0 });
  c.fleet.add({ name: 'web-02', availabilitySet: 'web-as', pool: 'web', faultDomain: 1 });
  c.fleet.add({ name: 'web-03', availabilitySet: 'web-as', pool: 'web', faultDomain: 0 });
  c.fleet.add({ name: 'solo', pool: 'other' });
  c.fleet.add({ name: 'ss_0', scaleSet: 'ss' });
  c.fleet.add({ name: 'ss_1', scaleSet: 'ss' });
  return { c, tick: (ms: number) => (now += ms), at: () => now };
}

describe('Controller', () => {
  let env: ReturnType<typeof setup>;
  beforeEach(() => {
    env = setup();
  });

  it('publishes one event per availability set, seen by every sibling', () => {
    const { c } = env;
    const events = c.schedule({ type: 'Freeze', targets: { faultDomain: 0 } });
    // web-01 and web-03 share web-as; solo, ss_0 and ss_1 have FD 0 too but other groups.
    expect(events.map((e) => e.resources.sort())).toEqual([['web-01', 'web-03'], ['solo'], ['ss_0', 'ss_1']]);
    expect(events[0]!.audience.sort()).toEqual(['web-01', 'web-02', 'web-03']);
    expect(c.visibleTo('web-02').map((e) => e.eventId)).toEqual([events[0]!.eventId]);
    expect(c.visibleTo('solo')).toHaveLength(1);
  });

  it('uses the per-type minimum notice, scaled, and a stable uppercase GUID', () => {
    const { c } = env;
    c.timeScale = 60;
    const [reboot] = c.schedule({ type: 'Reboot', targets: { vms: ['solo'] } });
    const [preempt] = c.schedule({ type: 'Preempt', targets: { vms: ['solo'] } });
    expect(reboot!.notBefore - T0).toBe(15_000); // 15 min / 60
    expect(preempt!.notBefore - T0).toBe(500); // 30 s / 60
    expect(reboot!.eventId).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
  });

  it('bumps the incarnation of every VM that sees a change, and only those', () => {
    const { c, tick } = env;
    const before = { w1: c.incarnation('web-01'), w2: c.incarnation('web-02'), solo: c.incarnation('solo') };
    const [e] = c.schedule({ type: 'Reboot', targets: { vms: ['web-01'] }, notice: '10m', startedFor: '1m' });
    expect(c.incarnation('web-01')).toBe(before.w1 + 1);
    expect(c.incarnation('web-02')).toBe(before.w2 + 1);
    expect(c.incarnation('solo')).toBe(before.solo);
    tick(10 * 60_000);
    c.advance();
    expect(c.get(e!.eventId).status).toBe('Started');
    expect(c.incarnation('web-01')).toBe(before.w1 + 2);
    tick(60_000);
    c.advance();
    expect(c.get(e!.eventId).status).toBe('Completed');
    expect(c.visibleTo('web-01')).toEqual([]);
    expect(c.incarnation('web-01')).toBe(before.w1 + 3);
    // Nothing changed: reading again does not bump.
    c.advance();
    expect(c.incarnation('web-01')).toBe(before.w1 + 3);
  });

  it('keeps the EventId from Scheduled to Started and does not start before NotBefore', () => {
    const { c, tick } = env;
    const [e] = c.schedule({ type: 'Freeze', targets: { vms: ['solo'] }, notice: '15m' });
    tick(15 * 60_000 - 1);
    expect(c.visibleTo('solo')[0]).toMatchObject({ eventId: e!.eventId, status: 'Scheduled' });
    tick(1);
    expect(c.visibleTo('solo')[0]).toMatchObject({ eventId: e!.eventId, status: 'Started' });
  });

  it("approval mode 'any': one VM's StartRequest starts the event for every resource (Azure docs)", () => {
    const { c } = env;
    const [e] = c.schedule({ type: 'Reboot', targets: { vms: ['web-01', 'web-03'] } });
    const results = c.approve('web-01', [e!.eventId]);
    expect(results[0]!.result).toBe('approved');
    expect(c.get(e!.eventId).status).toBe('Started');
    expect(c.approve('web-03', [e!.eventId])[0]!.result).toBe('not-scheduled');
  });

  it("approval mode 'all': starts only when every affected VM approved; siblings do not count", () => {
    const { c } = env;
    const [e] = c.schedule({ type: 'Reboot', targets: { vms: ['web-01', 'web-03'] }, approval: 'all' });
    const inc = c.incarnation('web-02');
    // A sibling may post, but in mode 'all' its approval does not count, and the log says so.
    expect(c.approve('web-02', [e!.eventId])[0]!.result).toBe('not-affected');
    expect(c.approve('web-02', [e!.eventId])[0]!.result).toBe('not-affected');
    expect(c.get(e!.eventId).approvedBy).toEqual([]);
    expect(c.incarnation('web-02')).toBe(inc);
    expect(c.approve('web-01', [e!.eventId])[0]!.result).toBe('approved');
    expect(c.approve('web-01', [e!.eventId])[0]!.result).toBe('already-approved');
    expect(c.get(e!.eventId).status).toBe('Scheduled'); // …but web-03 has not approved yet
    c.approve('web-03', [e!.eventId.toLowerCase()]);
    expect(c.get(e!.eventId).status).toBe('Started');
    expect(c.get(e!.eventId).approvedBy).toEqual(['web-01', 'web-03']);
    expect(c.approvals(e!.eventId).map((a) => [a.vm, a.result])).toEqual([
      ['web-02', 'not-affected'],
      ['web-02', 'not-affected'],
      ['web-01', 'approved'],
      ['web-01', 'already-approved'],
      ['web-03', 'approved'],
    ]);
  });

  it('records unknown ids and events of other groups as unknown, changing nothing', () => {
    const { c } = env;
    const [e] = c.schedule({ type: 'Reboot', targets: { vms: ['web-01'] } });
    const inc = c.incarnation('solo');
    expect(c.approve('solo', [e!.eventId, 'NOPE'])).toMatchObject([
      { vm: 'solo', result: 'unknown-event' },
      { vm: 'solo', result: 'unknown-event', eventId: 'NOPE' },
    ]);
    expect(c.get(e!.eventId).status).toBe('Scheduled');
    expect(c.incarnation('solo')).toBe(inc);
  });

  it('host failure: the event appears already Started', () => {
    const { c } = env;
    const [e] = c.schedule({ type: 'Reboot', targets: { vms: ['solo'] }, status: 'Started' });
    expect(e).toMatchObject({ status: 'Started', description: 'Virtual machine has encountered a failure.' });
    expect(e!.history.map((h) => h.status)).toEqual(['Started']);
    // No notice on a host failure: NotBefore is the publish time, not a computed future.
    expect(e!.notBefore).toBe(T0);
    const [f] = c.schedule({ type: 'Redeploy', targets: { vms: ['solo'] }, status: 'Started', notice: '1h' });
    expect(f!.notBefore).toBe(T0);
  });

  it('cancel removes a Scheduled event without Started; completes and cancels check the state', () => {
    const { c } = env;
    const [e] = c.schedule({ type: 'Freeze', targets: { vms: ['solo'] } });
    expect(() => c.complete(e!.eventId)).toThrow(/only a Started event completes/);
    c.cancel(e!.eventId);
    expect(c.visibleTo('solo')).toEqual([]);
    expect(c.get(e!.eventId).history.map((h) => h.status)).toEqual(['Scheduled', 'Canceled']);
    expect(() => c.cancel(e!.eventId)).toThrow(SimError);
    expect(() => c.start(e!.eventId)).toThrow(/is Canceled/);
  });

  it('reschedule moves NotBefore of a Scheduled event and bumps the incarnation', () => {
    const { c } = env;
    const [e] = c.schedule({ type: 'Freeze', targets: { vms: ['solo'] }, notice: '15m' });
    const inc = c.incarnation('solo');
    c.reschedule(e!.eventId, { notice: '1h' });
    expect(c.get(e!.eventId).notBefore).toBe(T0 + 3_600_000);
    expect(c.incarnation('solo')).toBe(inc + 1);
    // Milliseconds are kept, as when scheduling; only the document rounds to seconds.
    env.tick(1234);
    c.reschedule(e!.eventId, { notice: '10m' });
    expect(c.get(e!.eventId).notBefore).toBe(T0 + 1234 + 600_000);
    c.reschedule(e!.eventId, { notBefore: '2031-05-06T07:08:09.250Z' });
    expect(c.get(e!.eventId).notBefore).toBe(Date.parse('2031-05-06T07:08:09.250Z'));
    expect(() => c.reschedule(e!.eventId, {})).toThrow(/give notice or notBefore/);
    expect(() => c.reschedule(e!.eventId, { notice: 'soon' })).toThrow(/notice: invalid time/);
  });

  it('Terminate is one event per VM, even within a scale set', () => {
    const { c } = env;
    const events = c.schedule({ type: 'Terminate', targets: { scaleSet: 'ss' } });
    expect(events.map((e) => e.resources)).toEqual([['ss_0'], ['ss_1']]);
    expect(events[0]!.audience.sort()).toEqual(['ss_0', 'ss_1']);
  });

  it('a user action is a User event with the portal description', () => {
    const { c } = env;
    const e = c.userAction('web-02', 'Redeploy');
    expect(e).toMatchObject({
      source: 'User',
      type: 'Redeploy',
      resources: ['web-02'],
      description: 'Virtual machine is going to be redeployed as requested by authorized user.',
    });
  });

  it('rejects bad input without changing state', () => {
    const { c } = env;
    const incarnations = ['web-01', 'solo'].map((vm) => c.incarnation(vm));
    expect(() => c.schedule({ type: 'Explode', targets: { vms: ['solo'] } })).toThrow(/unknown event type/);
    expect(() => c.schedule({ type: 'Reboot', targets: { vms: ['nope'] } })).toThrow(/unknown VM/);
    expect(() => c.schedule({ type: 'Reboot', targets: { pool: 'none' } })).toThrow(/no VM matches/);
    expect(() => c.schedule({ type: 'Reboot', targets: { vms: ['solo'] }, notice: '15 minutes' })).toThrow(
      /notice/,
    );
    expect(() => c.schedule({ type: 'Reboot', targets: { vms: ['solo'] }, durationSeconds: -5 })).toThrow(
      /durationSeconds/,
    );
    expect(() => c.schedule({ type: 'Reboot', targets: { vms: ['solo'] }, notBefore: 'tomorrow' })).toThrow(
      /notBefore/,
    );
    expect(c.list()).toEqual([]);
    expect(['web-01', 'solo'].map((vm) => c.incarnation(vm))).toEqual(incarnations);
  });

  it('reset keeps incarnations moving forward', () => {
    const { c } = env;
    c.schedule({ type: 'Reboot', targets: { vms: ['solo'] } });
    const inc = c.incarnation('solo');
    c.reset();
    expect(c.list()).toEqual([]);
    expect(c.incarnation('solo')).toBeGreaterThan(inc);
  });

  it('deleting a VM cancels events that concerned only it', () => {
    const { c } = env;
    const [e] = c.schedule({ type: 'Reboot', targets: { vms: ['solo'] } });
    c.removeVm('solo');
    expect(c.get(e!.eventId).status).toBe('Canceled');
  });

  it("deleting a VM bumps the incarnation of every remaining VM whose event's Resources shrank", () => {
    const { c } = env;
    const [e] = c.schedule({ type: 'Reboot', targets: { vms: ['web-01', 'web-02'] } });
    const before = ['web-02', 'web-03', 'solo'].map((vm) => c.incarnation(vm));
    c.removeVm('web-01');
    expect(c.get(e!.eventId)).toMatchObject({ status: 'Scheduled', resources: ['web-02'] });
    expect(c.get(e!.eventId).audience.sort()).toEqual(['web-02', 'web-03']);
    // web-02 and web-03 now read Resources: ['web-02']: a changed document, a new incarnation.
    expect(['web-02', 'web-03', 'solo'].map((vm) => c.incarnation(vm))).toEqual([
      before[0]! + 1,
      before[1]! + 1,
      before[2]!,
    ]);
  });

  it('deleting a sibling outside Resources bumps the rest of the audience once', () => {
    const { c } = env;
    const [e] = c.schedule({ type: 'Freeze', targets: { vms: ['web-01'] } });
    const before = ['web-01', 'web-02'].map((vm) => c.incarnation(vm));
    c.removeVm('web-03');
    expect(c.get(e!.eventId).audience.sort()).toEqual(['web-01', 'web-02']);
    expect(['web-01', 'web-02'].map((vm) => c.incarnation(vm))).toEqual(before.map((n) => n + 1));
    // An activity that does not involve the deleted VM is untouched.
    const solo = c.incarnation('solo');
    c.removeVm('web-02');
    expect(c.incarnation('solo')).toBe(solo);
  });

  it('rejects a nonsensical time scale', () => {
    expect(() => new Controller({ timeScale: 0 })).toThrow(/timeScale/);
    expect(() => (env.c.timeScale = -1)).toThrow(/timeScale/);
  });

  it('advances on its own timer when autoAdvance is on', async () => {
    const c = new Controller({ timeScale: 1000 });
    c.fleet.add({ name: 'a' });
    const [e] = c.schedule({ type: 'Freeze', targets: { vms: ['a'] }, notice: '60s', startedFor: '60s' });
    const seen: string[] = [];
    c.on('activity', (a, reason: string) => seen.push(`${a.status}:${reason}`));
    await new Promise((r) => setTimeout(r, 250));
    expect(c.get(e!.eventId).status).toBe('Completed');
    expect(seen).toEqual(['Started:NotBefore reached', 'Completed:impact over']);
    c.stop();
  });
});
