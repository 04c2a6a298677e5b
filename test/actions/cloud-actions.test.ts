// snapshot and reset at load time and in their pure parts: a bad `with:` fails naming the field,
// inline secrets are refused, snapshot names keep to ECS's rules, the ClientToken is stable per
// step and disk, and the instance id comes from the right place.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { ActionContext } from '../../src/actions/action.js';
import { instanceIdFor, retryableCode } from '../../src/actions/cloud-common.js';
import { resetAction } from '../../src/actions/reset.js';
import { clientToken, snapshotAction, snapshotName } from '../../src/actions/snapshot.js';
import { SNAPSHOT_NAME } from '../../src/simulator/ecs-api.js';

describe('snapshot.validate', () => {
  it.each([
    [{ provider: 'azure' }, /resourceGroup: required for azure/],
    [{ provider: 'azure', resourceGroup: 'rg', region: 'westeurope' }, /region: not for azure/],
    [{ provider: 'azure', resourceGroup: 'rg', subscriptionId: 'sub-1' }, /subscriptionId/],
    [{ provider: 'azure', resourceGroup: 'rg', incremental: 'yes' }, /incremental/],
    [
      { provider: 'azure', resourceGroup: 'rg', credentials: { id: { env: 'A' }, secret: { env: 'B' } } },
      /credentials: not for azure/,
    ],
    [{ provider: 'aws', resourceGroup: 'rg' }, /resourceGroup: only for provider azure/],
    [{ provider: 'aws', diskType: 'system' }, /diskType: all or data on aws/],
    [{ provider: 'aws', retentionDays: 7 }, /retentionDays: not for aws/],
    [{ provider: 'gcp' }, /provider must be alibaba, aws or azure/],
    [{ prefix: '9lives' }, /prefix/],
    [{ prefix: 'auto-x' }, /auto/],
    [{ region: 'Hangzhou' }, /region/],
    [{ endpoint: 'ecs.example.com' }, /endpoint/],
    [{ credentials: { id: 'LTAIinline', secret: { env: 'X' } } }, /credentials.id.*never inline/],
    [{ tags: { 'aliyun:x': 'y' } }, /tags/],
    [{ retentionDays: 0 }, /retentionDays/],
    [{ wait: 'yes' }, /wait/],
    [{ pollInterval: 'often' }, /pollInterval/],
    [{ diskType: 'boot' }, /diskType/],
    [{ instances: { 'web-01': 5 } }, /instances.web-01/],
    [{ bogus: 1 }, /unknown field bogus/],
  ])('refuses %j', (params, message) => {
    expect(() => snapshotAction.validate(params)).toThrow(message);
  });

  it('accepts the example’s settings', () => {
    snapshotAction.validate({
      provider: 'alibaba',
      prefix: 'forewarn',
      region: 'cn-hangzhou',
      endpoint: 'http://127.0.0.1:8490',
      credentials: { id: { env: 'AK' }, secret: { file: '/etc/forewarn/ak' } },
      tags: { purpose: 'post-failure' },
      retentionDays: 14,
      wait: true,
      pollInterval: '15s',
      instances: { 'web-01': 'i-bp1abc' },
    });
  });
});

describe('reset.validate', () => {
  it.each([
    [{}, /region: required/],
    [{ region: 'ap-shanghai', provider: 'alibaba' }, /provider must be tencent/],
    [{ region: 'ap-shanghai', imageId: 'ubuntu' }, /imageId/],
    [{ region: 'ap-shanghai', instanceId: '' }, /instanceId/],
    [{ region: 'ap-shanghai', endpoint: 'ftp://x' }, /endpoint/],
  ])('refuses %j', (params, message) => {
    expect(() => resetAction.validate(params)).toThrow(message);
  });
  it('accepts a minimal and a full step', () => {
    resetAction.validate({ region: 'ap-shanghai' });
    resetAction.validate({
      provider: 'tencent',
      region: 'ap-guangzhou',
      imageId: 'img-abcd1234',
      wait: true,
      instanceId: '{{vm}}',
    });
  });
});

describe('snapshot names and tokens', () => {
  it('keeps names within ECS’s rules whatever the event id looks like', () => {
    const disk = 'd-bp1abcdefghijklmnopq';
    for (const eventId of [
      'e-bp1xyz',
      '6A0F4E87-8C6A-4B0B-9A2B-2F2C1E1D0C0B',
      'arn:aws:health/evt 1',
      'x'.repeat(300),
    ]) {
      const name = snapshotName('forewarn', eventId, disk);
      expect(name).toMatch(SNAPSHOT_NAME);
      expect(name.length).toBeLessThanOrEqual(128);
      expect(name.endsWith(`-${disk}`)).toBe(true);
    }
    expect(snapshotName('fw', 'e-1', 'd-2')).toBe('fw-e-1-d-2');
  });
  it('derives one ClientToken per step and disk, within ECS’s 64 characters', () => {
    const a = clientToken('run-1/step', 'd-1');
    expect(a).toBe(clientToken('run-1/step', 'd-1'));
    expect(a).not.toBe(clientToken('run-1/step', 'd-2'));
    expect(a).not.toBe(clientToken('run-2/step', 'd-1'));
    expect(a.length).toBeLessThanOrEqual(64);
  });
});

describe('instance ids and error codes', () => {
  const ctx = (vm: string, raw: unknown = {}, resources: string[] = [vm]) =>
    ({ vm, now: Date.now, event: { raw, resources, eventId: 'e-1' } }) as unknown as ActionContext;
  const ECS = /^i-[0-9a-z]+$/;
  it('takes instanceId, then the VM map, then the VM name, then the event', () => {
    expect(instanceIdFor(ctx('i-bp1aaa'), { instanceId: 'i-bp1fixed' }, ECS)).toBe('i-bp1fixed');
    expect(instanceIdFor(ctx('web-01'), { instances: { 'web-01': 'i-bp1map' } }, ECS)).toBe('i-bp1map');
    expect(instanceIdFor(ctx('i-bp1aaa'), {}, ECS)).toBe('i-bp1aaa');
    expect(instanceIdFor(ctx('web-01', { content: { ecsInstanceId: 'i-bp1legacy' } }), {}, ECS)).toBe(
      'i-bp1legacy',
    );
    expect(instanceIdFor(ctx('web-01'), {}, ECS)).toBeUndefined();
  });
  it('retries throttling, busy and server errors, not auth or bad ids', () => {
    for (const code of [
      'Throttling.User',
      'RequestLimitExceeded',
      'InternalError',
      'ServiceUnavailable',
      'OperationDenied.InstanceOperationInProgress',
    ])
      expect(retryableCode(code), code).toBe(true);
    for (const code of [
      'SignatureDoesNotMatch',
      'AuthFailure.SignatureFailure',
      'InvalidInstanceId.NotFound',
      'Forbidden.RAM',
      'InvalidDiskId.NotFound',
    ])
      expect(retryableCode(code, 400), code).toBe(false);
    expect(retryableCode(undefined, 503)).toBe(true);
    expect(retryableCode(undefined)).toBe(true); // no answer at all
  });
});

describe('examples/tencent-nightly-reimage', () => {
  // The whole file loads only once the cron trigger exists; its reset step is checked already.
  it('has a cron rule whose reset step validates', () => {
    const doc = parseYaml(readFileSync('examples/tencent-nightly-reimage/hub.yaml', 'utf8')) as {
      rules: { schedule: unknown; steps: { action: string; with: Record<string, unknown> }[] }[];
    };
    const [rule] = doc.rules;
    expect(rule!.schedule).toMatchObject({ cron: '0 3 * * *', timezone: 'Asia/Shanghai' });
    expect(rule!.steps[0]!.action).toBe('reset');
    resetAction.validate(rule!.steps[0]!.with);
  });
});
