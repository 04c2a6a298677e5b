// The original cloud flows end to end against a real hub and the simulator's control plane:
// - Alibaba: the simulator pushes CloudMonitor `Instance:SystemFailure.Reboot:Executed` to the
//   hub; the rule of examples/alibaba-snapshot-on-reboot snapshots every disk of that instance,
//   exactly once per disk even though a CreateSnapshot is throttled and the step retried.
// - Tencent: a rule on an event reinstalls the instance (ResetInstance recorded in the simulator);
//   a forged key fails for good with the cloud's code, throttling is retried.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadHubConfig } from '../../src/hub/config.js';
import type { RuleT } from '../../src/hub/rules.js';
import { alibabaInstanceId } from '../../src/simulator/alibaba-metadata.js';
import { awsInstanceId } from '../../src/simulator/aws-metadata.js';
import { SIM_CLOUD_KEYS } from '../../src/simulator/cloud-inventory.js';
import { tencentInstanceId } from '../../src/simulator/tencent-metadata.js';
import { tempDir } from '../helpers/agent.js';
import { READER, startHub, type TestHub } from '../helpers/hub.js';
import { cloudEvent, maintenance, publishOne } from '../helpers/hub-publish.js';
import { startSim, type TestSim } from '../helpers/sim.js';
import { waitFor } from '../helpers/wait.js';

const PUSH_SECRET = 'cloudmonitor-push-secret-0123';
let t: TestSim;
let h: TestHub | undefined;
beforeEach(async () => {
  t = await startSim();
  // Access keys as an operator sets them: an id in the environment, the secret in a file.
  const secretFile = join(tempDir(), 'ak-secret');
  writeFileSync(secretFile, `${SIM_CLOUD_KEYS.ecs.secret}\n`);
  vi.stubEnv('ALIBABA_CLOUD_ACCESS_KEY_ID', SIM_CLOUD_KEYS.ecs.id);
  vi.stubEnv('ALIBABA_CLOUD_ACCESS_KEY_SECRET_FILE', secretFile);
  vi.stubEnv('ALIBABA_CLOUD_ACCESS_KEY_SECRET', undefined);
  vi.stubEnv('TENCENTCLOUD_SECRET_ID', SIM_CLOUD_KEYS.cvm.id);
  vi.stubEnv('TENCENTCLOUD_SECRET_KEY', SIM_CLOUD_KEYS.cvm.secret);
  vi.stubEnv('AWS_ACCESS_KEY_ID', SIM_CLOUD_KEYS.ec2.id);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', SIM_CLOUD_KEYS.ec2.secret);
});
afterEach(async () => {
  await t.sim.context.pusher.idle();
  await h?.close();
  await t.close();
  h = undefined;
  vi.unstubAllEnvs();
});

async function stepsOf(eventKey: string) {
  const res = await h!.api('GET', `/api/v1/steps?event=${encodeURIComponent(eventKey)}`, undefined, READER);
  expect(res.status).toBe(200);
  return res.body.steps as Record<string, any>[];
}

async function finished(eventKey: string) {
  const step = await waitFor(async () => {
    await h!.hub.idle();
    return (await stepsOf(eventKey)).find((s) => s.status === 'succeeded' || s.status === 'dead');
  }, 20_000);
  const detail = await h!.api('GET', `/api/v1/steps/${step.id}`, undefined, READER);
  expect(detail.status).toBe(200);
  return { ...detail.body.step, attempts: detail.body.attempts } as Record<string, any>;
}

describe('Alibaba: CloudMonitor failure reboot (older format) → snapshot of every disk', () => {
  it('snapshots each disk exactly once, through a throttled CreateSnapshot and a retry', async () => {
    const agentSecret = join(tempDir(), 'agent-secret');
    writeFileSync(agentSecret, 'a-long-enough-agent-secret\n');
    const config = loadHubConfig(
      'examples/alibaba-snapshot-on-reboot/hub.yaml',
      {},
      {
        'auth.agentSecretFile': agentSecret,
        'auth.pushSecrets': [{ name: 'cloudmonitor', secret: PUSH_SECRET }],
      },
    );
    // The example's rule, pointed at the simulator and polling faster.
    const rules = (config.rules as RuleT[]).map((r) => ({
      ...r,
      steps: r.steps.map((s) => ({ ...s, with: { ...s.with, endpoint: t.url, pollInterval: '50ms' } })),
    }));
    h = await startHub({
      rules,
      auth: { ...config.auth, operators: [{ name: 'viewer', role: 'read', token: READER }] },
    });

    const c = t.sim.controller;
    const vm = c.fleet.add({ name: 'ecs-01', provider: 'alibaba' });
    c.fleet.add({ name: 'ecs-02', provider: 'alibaba' }); // another instance: its disks stay untouched
    await t.control('PUT', '/cloud/vms/ecs-01/disks', { dataDisks: 2 });
    await t.control('PATCH', '/config', { timeScale: 1000 });
    // The older CloudMonitor format, the one the original Function Compute handler read.
    await t.control('PUT', '/pushes', {
      alibaba: { url: `${h.url}/api/v1/push/alibaba`, secret: PUSH_SECRET, legacy: true },
    });
    // The second CreateSnapshot is throttled once: the first attempt fails after one snapshot.
    await t.control('PUT', '/cloud/faults', [
      { api: 'ecs', action: 'CreateSnapshot', kind: 'throttle', after: 1, count: 1 },
    ]);
    // A planned reboot is a reboot too, but not a failure: the example's filter leaves it alone.
    const [planned] = c.schedule({
      type: 'SystemMaintenance.Reboot',
      targets: { vms: ['ecs-02'] },
      notice: '1s',
    });
    const [a] = c.schedule({ type: 'SystemFailure.Reboot', targets: { vms: ['ecs-01'] } });
    c.complete(a!.eventId);
    if (c.get(planned!.eventId).status === 'Scheduled') c.start(planned!.eventId);
    c.complete(planned!.eventId);

    const iid = alibabaInstanceId(vm);
    const step = await finished(`alibaba/${a!.eventId.toLowerCase()}`);
    expect(step.status).toBe('succeeded');
    const attempts = step.attempts as Record<string, any>[];
    expect(attempts).toHaveLength(2);
    expect(attempts[0]).toMatchObject({ ok: false, retryable: true, output: { code: 'Throttling.User' } });
    expect(attempts[0]!.output.snapshots).toHaveLength(1);

    const disks = ((await (await t.control('GET', '/cloud/disks')).json()) as { disks: any[] }).disks.filter(
      (d) => d.vm === 'ecs-01',
    );
    expect(disks).toHaveLength(3);
    const snapshots = ((await (await t.control('GET', '/cloud/snapshots')).json()) as { snapshots: any[] })
      .snapshots;
    // Exactly one snapshot per disk of that instance, none of any other, all complete.
    expect(snapshots.map((s) => s.diskId).sort()).toEqual(disks.map((d) => d.diskId).sort());
    for (const s of snapshots) {
      expect(s).toMatchObject({
        instanceId: iid,
        status: 'accomplished',
        name: `forewarn-${a!.eventId}-${s.diskId}`,
        tags: {
          'forewarn:event': a!.eventId,
          'forewarn:rule': 'snapshot-after-failure-reboot',
          purpose: 'post-failure',
        },
      });
    }
    // The run records the snapshot ids (API and dashboard show the attempt's output).
    const output = attempts[1]!.output as {
      instanceId: string;
      snapshots: { snapshotId: string; status: string }[];
    };
    expect(output.instanceId).toBe(iid);
    expect(output.snapshots.map((s) => s.snapshotId).sort()).toEqual(
      snapshots.map((s) => s.snapshotId).sort(),
    );
    expect(output.snapshots.every((s) => s.status === 'accomplished')).toBe(true);
    // Nothing ran for the planned reboot (stored, completed, filtered out), and no secret reached the API.
    const events = await waitFor(async () => {
      const res = await h!.api('GET', '/api/v1/events?provider=alibaba', undefined, READER);
      const list = res.body.events as any[];
      return list.some((e) => e.eventId === planned!.eventId && e.status === 'completed') ? list : undefined;
    });
    const failure = events.find((e) => e.eventId === a!.eventId);
    expect(failure.raw).toMatchObject({
      status: 'Executed',
      content: { ecsInstanceId: iid, ecsInstanceName: 'ecs-01' },
    });
    expect(failure.raw.content.instanceId).toBeUndefined();
    await h.hub.idle();
    expect(await stepsOf(`alibaba/${planned!.eventId.toLowerCase()}`)).toEqual([]);
    expect(JSON.stringify(step)).not.toContain(SIM_CLOUD_KEYS.ecs.secret);
  });
});

describe('AWS: a Health scheduled reboot → snapshot of every volume before it', () => {
  it('snapshots once, even when the wait fails and the step is retried', async () => {
    h = await startHub({
      rules: [
        {
          name: 'snapshot-before-reboot',
          match: { providers: ['aws'], types: ['reboot'] },
          steps: [
            {
              name: 'snapshot',
              action: 'snapshot',
              retry: { maxAttempts: 3 },
              with: { provider: 'aws', endpoint: t.url, wait: true, pollInterval: '50ms' },
            },
          ],
        },
      ],
      auth: {
        agentSecret: 'a-long-enough-agent-secret',
        operators: [{ name: 'viewer', role: 'read', token: READER }],
        pushSecrets: [{ name: 'eventbridge', secret: PUSH_SECRET }],
      },
    });
    const c = t.sim.controller;
    const vm = c.fleet.add({ name: 'ec2-01', provider: 'aws' });
    await t.control('PUT', '/cloud/vms/ec2-01/disks', { dataDisks: 1 });
    await t.control('PATCH', '/config', { timeScale: 1000 });
    await t.control('PUT', '/pushes', { aws: { url: `${h.url}/api/v1/push/aws`, secret: PUSH_SECRET } });
    // The first attempt makes the snapshots, then its wait is throttled: the retry must find them.
    await t.control('PUT', '/cloud/faults', [
      { api: 'ec2', action: 'DescribeSnapshots', kind: 'throttle', after: 1, count: 1 },
    ]);
    const [a] = c.schedule({ type: 'system-reboot', targets: { vms: ['ec2-01'] }, notice: '2h' });
    const health = await waitFor(async () => {
      const res = await h!.api('GET', '/api/v1/events?provider=aws', undefined, READER);
      return (res.body.events as any[]).find((e) => e.type === 'reboot');
    });
    const step = await finished(`aws/${String(health.eventId).toLowerCase()}`);
    expect(a).toBeDefined();
    expect(step.status).toBe('succeeded');
    expect(step.attempts).toHaveLength(2);
    expect(step.attempts[0]).toMatchObject({ retryable: true, output: { code: 'RequestLimitExceeded' } });
    const snapshots = ((await (await t.control('GET', '/cloud/snapshots')).json()) as { snapshots: any[] })
      .snapshots;
    expect(snapshots).toHaveLength(2);
    expect(snapshots.every((s) => s.instanceId === awsInstanceId(vm) && s.cloud === 'ec2')).toBe(true);
    expect(step.attempts[1].output.snapshots.map((s: any) => s.status)).toEqual(['completed', 'completed']);
    expect(step.attempts[1].output.snapshots.map((s: any) => s.snapshotId).sort()).toEqual(
      snapshots.map((s) => s.snapshotId).sort(),
    );
  });
});

describe('Tencent: a rule → ResetInstance', () => {
  // Everything the hub logs, at debug, to check no key ever reaches it.
  let logged = '';
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _enc, done) {
        logged += String(chunk);
        done();
      },
    }),
  );
  async function setup(withExtra: Record<string, unknown> = {}) {
    logged = '';
    h = await startHub({
      log,
      rules: [
        {
          name: 'reimage',
          match: { providers: ['tencent'] },
          steps: [
            {
              name: 'reset',
              action: 'reset',
              retry: { maxAttempts: 3 },
              with: { provider: 'tencent', region: 'ap-shanghai', endpoint: t.url, ...withExtra },
            },
          ],
        },
      ],
    });
    const vm = t.sim.controller.fleet.add({ name: 'cvm-01', provider: 'tencent' });
    const iid = tencentInstanceId(vm);
    // An agent on a Tencent VM is named by its instance id.
    const data = maintenance(iid, { provider: 'tencent', type: 'preempt', eventId: `spot-${iid}` });
    const res = await publishOne(h, h.agentToken(iid), cloudEvent(data));
    expect(res.status).toBe(200);
    return { iid, key: `tencent/${data.eventId.toLowerCase()}` };
  }
  const resets = async () =>
    ((await (await t.control('GET', '/cloud/resets')).json()) as { resets: any[] }).resets;

  it('reinstalls the instance, retrying RequestLimitExceeded, and waits until it is done', async () => {
    await t.control('PATCH', '/config', { timeScale: 1000 });
    await t.control('PUT', '/cloud/faults', [
      { api: 'cvm', action: 'ResetInstance', kind: 'throttle', count: 1 },
    ]);
    const { iid, key } = await setup({ wait: true, pollInterval: '50ms' });
    const step = await finished(key);
    expect(step.status).toBe('succeeded');
    expect(step.attempts[0]).toMatchObject({
      ok: false,
      retryable: true,
      output: { code: 'RequestLimitExceeded' },
    });
    const [r, ...more] = await resets();
    expect(more).toEqual([]);
    expect(r).toMatchObject({ vm: 'cvm-01', instanceId: iid, region: 'ap-shanghai', state: 'SUCCESS' });
    expect(step.attempts[1].output).toMatchObject({
      instanceId: iid,
      requestId: r.requestId,
      state: 'SUCCESS',
    });
    expect(logged).toContain('ResetInstance accepted');
    expect(logged).not.toContain(SIM_CLOUD_KEYS.cvm.secret);
  });

  it('a retry after an accepted ResetInstance (the wait failed) does not reinstall again', async () => {
    await t.control('PATCH', '/config', { timeScale: 1000 });
    await t.control('PUT', '/cloud/faults', [
      { api: 'cvm', action: 'DescribeInstances', kind: 'throttle', count: 1 },
    ]);
    const { key } = await setup({ wait: true, pollInterval: '50ms' });
    const step = await finished(key);
    expect(step.status).toBe('succeeded');
    expect(step.attempts[0]).toMatchObject({ retryable: true, output: { code: 'RequestLimitExceeded' } });
    const all = await resets();
    expect(all).toHaveLength(1);
    expect(step.attempts[1].output).toMatchObject({
      resumed: true,
      requestId: all[0].requestId,
      state: 'SUCCESS',
    });
  });

  it('a forged key fails for good with AuthFailure.SignatureFailure; nothing is reinstalled', async () => {
    vi.stubEnv('TENCENTCLOUD_SECRET_KEY', 'forged-secret-key');
    const { key } = await setup();
    const step = await finished(key);
    expect(step.status).toBe('dead');
    expect(step.attempts).toHaveLength(1);
    expect(step.attempts[0]).toMatchObject({
      ok: false,
      retryable: false,
      output: { code: 'AuthFailure.SignatureFailure' },
    });
    expect(JSON.stringify(step)).not.toContain('forged-secret-key');
    expect(logged).toContain('AuthFailure.SignatureFailure');
    expect(logged).not.toContain('forged-secret-key');
    expect(await resets()).toEqual([]);
  });

  it('an unknown key id and a missing credential fail without a retry', async () => {
    vi.stubEnv('TENCENTCLOUD_SECRET_ID', 'AKIDnobody');
    const { key } = await setup();
    const step = await finished(key);
    expect(step.attempts[0]).toMatchObject({
      retryable: false,
      output: { code: 'AuthFailure.SecretIdNotFound' },
    });
    vi.stubEnv('TENCENTCLOUD_SECRET_ID', undefined);
    await h!.close();
    h = undefined;
    await t.sim.controller.reset({ fleet: true });
    const again = await setup();
    const missing = await finished(again.key);
    expect(missing.attempts[0]).toMatchObject({
      retryable: false,
      detail: expect.stringContaining('TENCENTCLOUD_SECRET_ID'),
    });
  });
});
