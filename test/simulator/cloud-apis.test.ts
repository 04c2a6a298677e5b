// The simulator's ECS and CVM control-plane APIs, called by the official SDKs exactly as the
// actions call them: signatures checked (both Alibaba schemes, Tencent TC3), disks per VM with
// paging, ClientToken idempotency, snapshot state, reinstalls, faults, and the control routes.
import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import * as $Core from '@alicloud/openapi-core';
import * as tencentcloud from 'tencentcloud-sdk-nodejs-cvm';
import { CreateSnapshotsCommand, DescribeSnapshotsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { EcsClient } from '../../src/actions/snapshot-alibaba.js';
import { awsInstanceId } from '../../src/simulator/aws-metadata.js';
import { alibabaInstanceId } from '../../src/simulator/alibaba-metadata.js';
import { SIM_CLOUD_KEYS } from '../../src/simulator/cloud-inventory.js';
import { tencentInstanceId } from '../../src/simulator/tencent-metadata.js';
import { startSim, type TestSim } from '../helpers/sim.js';
import { waitFor } from '../helpers/wait.js';

let t: TestSim;
let ecsId: string;
let cvmId: string;
beforeEach(async () => {
  t = await startSim();
  ecsId = alibabaInstanceId(t.sim.controller.fleet.add({ name: 'ecs-01', provider: 'alibaba' }));
  cvmId = tencentInstanceId(t.sim.controller.fleet.add({ name: 'cvm-01', provider: 'tencent' }));
});
afterEach(() => t.close());

function ecs(secret = SIM_CLOUD_KEYS.ecs.secret, extra: Record<string, unknown> = {}) {
  const url = new URL(t.url);
  return new EcsClient(
    new $Core.$OpenApiUtil.Config({
      accessKeyId: SIM_CLOUD_KEYS.ecs.id,
      accessKeySecret: secret,
      endpoint: url.host,
      protocol: 'http',
      regionId: 'cn-hangzhou',
      ...extra,
    }),
  );
}

function cvm(secretKey = SIM_CLOUD_KEYS.cvm.secret) {
  const url = new URL(t.url);
  // Signed as cvm.tencentcloudapi.com, connected to the simulator (what the reset action does).
  const lookup = (_h: string, o: { all?: boolean }, cb: (...a: unknown[]) => void) =>
    o?.all ? cb(null, [{ address: url.hostname, family: 4 }]) : cb(null, url.hostname, 4);
  return new tencentcloud.cvm.v20170312.Client({
    credential: { secretId: SIM_CLOUD_KEYS.cvm.id, secretKey },
    region: 'ap-shanghai',
    profile: {
      httpProfile: {
        endpoint: `cvm.tencentcloudapi.com:${url.port}`,
        protocol: 'http://',
        agent: new http.Agent({ lookup } as http.AgentOptions),
      },
    },
  });
}

const caught = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err as Record<string, any>;
  }
  throw new Error('expected the call to fail');
};

describe('ECS API', () => {
  it('lists an instance’s disks, system first, across pages', async () => {
    expect((await t.control('PUT', '/cloud/vms/ecs-01/disks', { dataDisks: 3 })).status).toBe(200);
    const seen: string[] = [];
    for (let page = 1; page <= 3; page++) {
      const res = await ecs().describeDisks(
        new $Ecs.DescribeDisksRequest({
          regionId: 'cn-hangzhou',
          instanceId: ecsId,
          pageNumber: page,
          pageSize: 2,
        }),
      );
      expect(res.body?.totalCount).toBe(4);
      seen.push(...(res.body?.disks?.disk ?? []).map((d) => `${d.type}:${d.diskId}`));
    }
    expect(seen).toHaveLength(4);
    expect(seen[0]).toMatch(/^system:d-/);
    const other = await ecs().describeDisks(
      new $Ecs.DescribeDisksRequest({ regionId: 'cn-beijing', instanceId: ecsId }),
    );
    expect(other.body?.disks?.disk).toEqual([]);
  });

  it('CreateSnapshot with the same ClientToken gives the same snapshot, which completes', async () => {
    await t.control('PATCH', '/config', { timeScale: 1000 });
    await t.control('PATCH', '/cloud/config', { snapshotDuration: '10s' });
    const disks = await ecs().describeDisks(
      new $Ecs.DescribeDisksRequest({ regionId: 'cn-hangzhou', instanceId: ecsId }),
    );
    const diskId = disks.body!.disks!.disk![0]!.diskId!;
    const req = () =>
      new $Ecs.CreateSnapshotRequest({
        diskId,
        snapshotName: 'fw-e-123-disk',
        clientToken: 'token-1',
        tag: [new $Ecs.CreateSnapshotRequestTag({ key: 'forewarn:event', value: 'e-123' })],
      });
    const a = await ecs().createSnapshot(req());
    const b = await ecs().createSnapshot(req());
    expect(b.body?.snapshotId).toBe(a.body?.snapshotId);
    const done = await waitFor(async () => {
      const res = await ecs().describeSnapshots(
        new $Ecs.DescribeSnapshotsRequest({
          regionId: 'cn-hangzhou',
          snapshotIds: JSON.stringify([a.body!.snapshotId]),
        }),
      );
      const s = res.body?.snapshots?.snapshot?.[0];
      return s?.status === 'accomplished' ? s : undefined;
    });
    expect(done).toMatchObject({ sourceDiskId: diskId, sourceDiskType: 'System', progress: '100%' });
    const view = (await (await t.control('GET', '/cloud/snapshots')).json()) as { snapshots: any[] };
    expect(view.snapshots).toHaveLength(1);
    expect(view.snapshots[0]).toMatchObject({ vm: 'ecs-01', tags: { 'forewarn:event': 'e-123' } });
    const mismatch = await caught(
      ecs().createSnapshot(new $Ecs.CreateSnapshotRequest({ diskId: 'd-other', clientToken: 'token-1' })),
    );
    expect(mismatch.code).toBe('IdempotentParameterMismatch');
  });

  it('refuses bad names and unknown disks with ECS’s codes, and creates nothing', async () => {
    const disks = await ecs().describeDisks(
      new $Ecs.DescribeDisksRequest({ regionId: 'cn-hangzhou', instanceId: ecsId }),
    );
    const diskId = disks.body!.disks!.disk![0]!.diskId!;
    for (const name of ['1starts-with-digit', 'auto-snap', 'has space', 'x'])
      expect(
        (await caught(ecs().createSnapshot(new $Ecs.CreateSnapshotRequest({ diskId, snapshotName: name }))))
          .code,
      ).toBe('InvalidSnapshotName.Malformed');
    const missing = await caught(ecs().createSnapshot(new $Ecs.CreateSnapshotRequest({ diskId: 'd-nope' })));
    expect(missing).toMatchObject({ code: 'InvalidDiskId.NotFound', statusCode: 404 });
    expect(((await (await t.control('GET', '/cloud/snapshots')).json()) as any).snapshots).toEqual([]);
  });

  it('checks signatures: a wrong secret is SignatureDoesNotMatch, an unknown key is not found', async () => {
    const bad = await caught(
      ecs('not-the-secret').describeDisks(new $Ecs.DescribeDisksRequest({ regionId: 'cn-hangzhou' })),
    );
    expect(bad).toMatchObject({ code: 'SignatureDoesNotMatch', statusCode: 400 });
    const unknown = await caught(
      ecs(undefined, { accessKeyId: 'LTAIunknown' }).describeDisks(
        new $Ecs.DescribeDisksRequest({ regionId: 'cn-hangzhou' }),
      ),
    );
    expect(unknown.code).toBe('InvalidAccessKeyId.NotFound');
    // The older RPC signature (HMAC-SHA1 in the query) is checked too.
    const v1 = await ecs(undefined, { signatureAlgorithm: 'v2' }).describeDisks(
      new $Ecs.DescribeDisksRequest({ regionId: 'cn-hangzhou', instanceId: ecsId }),
    );
    expect(v1.body?.totalCount).toBe(2);
    const forged = await caught(
      ecs('wrong', { signatureAlgorithm: 'v2' }).describeDisks(
        new $Ecs.DescribeDisksRequest({ regionId: 'cn-hangzhou' }),
      ),
    );
    expect(forged.code).toBe('SignatureDoesNotMatch');
    // A raw request with a forged header gets ECS's error body.
    const raw = await fetch(`${t.url}/?Action=DescribeDisks`, {
      method: 'POST',
      headers: {
        authorization: 'ACS3-HMAC-SHA256 Credential=x,SignedHeaders=host,Signature=00',
        'x-acs-action': 'DescribeDisks',
      },
    });
    expect(raw.status).toBe(404);
    expect(await raw.json()).toMatchObject({
      Code: 'InvalidAccessKeyId.NotFound',
      RequestId: expect.any(String),
      HostId: 'ecs.aliyuncs.com',
    });
  });

  it('injects throttling (once, after the first call), server errors and RAM denials', async () => {
    const put = await t.control('PUT', '/cloud/faults', [
      { api: 'ecs', action: 'DescribeDisks', kind: 'throttle', after: 1, count: 1 },
    ]);
    expect(put.status).toBe(200);
    const call = () =>
      ecs().describeDisks(new $Ecs.DescribeDisksRequest({ regionId: 'cn-hangzhou', instanceId: ecsId }));
    await call();
    expect((await caught(call())).code).toBe('Throttling.User');
    await call();
    await t.control('PUT', '/cloud/faults', [
      { api: 'ecs', kind: 'internal-error', count: 1 },
      { api: 'ecs', kind: 'forbidden' },
    ]);
    expect(await caught(call())).toMatchObject({ code: 'InternalError', statusCode: 500 });
    expect(await caught(call())).toMatchObject({ code: 'Forbidden.RAM', statusCode: 403 });
    await t.control('DELETE', '/cloud/faults');
    await call();
  });
});

describe('CVM API', () => {
  it('ResetInstance is recorded per instance, same image by default, and visible in DescribeInstances', async () => {
    const res = await cvm().ResetInstance({ InstanceId: cvmId });
    expect(res.RequestId).toEqual(expect.any(String));
    const described = await cvm().DescribeInstances({ InstanceIds: [cvmId] });
    expect(described.InstanceSet?.[0]).toMatchObject({
      LatestOperation: 'ResetInstance',
      LatestOperationState: 'OPERATING',
      LatestOperationRequestId: res.RequestId,
    });
    const resets = ((await (await t.control('GET', '/cloud/resets')).json()) as any).resets;
    expect(resets).toEqual([
      expect.objectContaining({
        vm: 'cvm-01',
        instanceId: cvmId,
        region: 'ap-shanghai',
        requestId: res.RequestId,
      }),
    ]);
    expect(resets[0].imageId).toBe(resets[0].previousImageId);
    // A second reinstall while the first runs is refused.
    expect((await caught(cvm().ResetInstance({ InstanceId: cvmId }))).code).toBe(
      'OperationDenied.InstanceOperationInProgress',
    );
  });

  it('answers errors in Tencent’s shape: signature, unknown instance, throttling, a broken front', async () => {
    expect(await caught(cvm('wrong-key').ResetInstance({ InstanceId: cvmId }))).toMatchObject({
      code: 'AuthFailure.SignatureFailure',
      requestId: expect.any(String),
    });
    expect((await caught(cvm().ResetInstance({ InstanceId: 'ins-00000000' }))).code).toBe(
      'InvalidInstanceId.NotFound',
    );
    expect((await caught(cvm().ResetInstance({ InstanceId: 'vm-1' }))).code).toBe(
      'InvalidInstanceId.Malformed',
    );
    expect(await cvm().DescribeInstances({ InstanceIds: ['ins-00000000'] })).toMatchObject({
      TotalCount: 0,
      InstanceSet: [],
    });
    await t.control('PUT', '/cloud/faults', [
      { api: 'cvm', kind: 'throttle', count: 1 },
      { api: 'cvm', kind: 'unavailable', count: 1 },
    ]);
    expect((await caught(cvm().ResetInstance({ InstanceId: cvmId }))).code).toBe('RequestLimitExceeded');
    expect((await caught(cvm().ResetInstance({ InstanceId: cvmId }))).httpCode).toBe(503);
    const raw = await fetch(`${t.url}/`, {
      method: 'POST',
      headers: {
        'x-tc-action': 'ResetInstance',
        'content-type': 'application/json',
        authorization: 'TC3-HMAC-SHA256 forged',
      },
      body: '{}',
    });
    expect(raw.status).toBe(200);
    expect(await raw.json()).toMatchObject({
      Response: { Error: { Code: 'AuthFailure.InvalidAuthorization' }, RequestId: expect.any(String) },
    });
    expect(((await (await t.control('GET', '/cloud/resets')).json()) as any).resets).toEqual([]);
  });
});

describe('EC2 API', () => {
  const ec2 = (secretAccessKey = SIM_CLOUD_KEYS.ec2.secret) =>
    new EC2Client({
      region: 'us-east-1',
      endpoint: t.url,
      credentials: { accessKeyId: SIM_CLOUD_KEYS.ec2.id, secretAccessKey },
      maxAttempts: 1,
    });

  it('CreateSnapshots snapshots every volume of the instance, tagged; DescribeSnapshots filters by tag', async () => {
    const vm = t.sim.controller.fleet.add({ name: 'ec2-01', provider: 'aws' });
    await t.control('PUT', '/cloud/vms/ec2-01/disks', { dataDisks: 2 });
    const res = await ec2().send(
      new CreateSnapshotsCommand({
        InstanceSpecification: { InstanceId: awsInstanceId(vm) },
        TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'forewarn:run', Value: 'r1' }] }],
      }),
    );
    expect(res.Snapshots?.map((s) => s.State)).toEqual(['pending', 'pending', 'pending']);
    expect(new Set(res.Snapshots?.map((s) => s.VolumeId)).size).toBe(3);
    const found = await ec2().send(
      new DescribeSnapshotsCommand({
        OwnerIds: ['self'],
        Filters: [{ Name: 'tag:forewarn:run', Values: ['r1'] }],
      }),
    );
    expect(found.Snapshots?.map((s) => s.SnapshotId).sort()).toEqual(
      res.Snapshots?.map((s) => s.SnapshotId).sort(),
    );
    const none = await ec2().send(
      new DescribeSnapshotsCommand({ Filters: [{ Name: 'tag:forewarn:run', Values: ['other'] }] }),
    );
    expect(none.Snapshots).toEqual([]);
  });

  it('answers SigV4 failures, unknown instances and throttling with EC2’s codes', async () => {
    expect(await caught(ec2('wrong').send(new DescribeSnapshotsCommand({})))).toMatchObject({
      name: 'SignatureDoesNotMatch',
      $metadata: { httpStatusCode: 403 },
    });
    expect(
      (
        await caught(
          ec2().send(
            new CreateSnapshotsCommand({ InstanceSpecification: { InstanceId: 'i-0123456789abcdef0' } }),
          ),
        )
      ).name,
    ).toBe('InvalidInstanceID.NotFound');
    await t.control('PUT', '/cloud/faults', [{ api: 'ec2', kind: 'throttle', count: 1 }]);
    expect(await caught(ec2().send(new DescribeSnapshotsCommand({})))).toMatchObject({
      name: 'RequestLimitExceeded',
      $metadata: { httpStatusCode: 503 },
    });
    await ec2().send(new DescribeSnapshotsCommand({}));
  });
});

describe('control routes', () => {
  it('refuse bad input with 400 and change nothing', async () => {
    expect((await t.control('PUT', '/cloud/faults', [{ api: 'ecs', kind: 'explode' }])).status).toBe(400);
    expect((await t.control('PUT', '/cloud/vms/cvm-01/disks', { dataDisks: 2 })).status).toBe(400);
    expect((await t.control('PUT', '/cloud/vms/nope/disks', { dataDisks: 2 })).status).toBe(404);
    expect((await t.control('PATCH', '/cloud/config', { snapshotDuration: 'soon' })).status).toBe(400);
    const config = (await (await t.control('GET', '/cloud/config')).json()) as Record<string, any>;
    expect(config).toMatchObject({ snapshotDurationMs: 120_000, defaultDataDisks: 1 });
    expect(JSON.stringify(config)).not.toContain(SIM_CLOUD_KEYS.ecs.secret);
    expect(((await (await t.control('GET', '/cloud/faults')).json()) as any).faults).toEqual([]);
    // The Alibaba VM's two disks are unchanged (the fleet's Azure VMs have their managed disks too).
    const disks = ((await (await t.control('GET', '/cloud/disks')).json()) as any).disks as any[];
    expect(disks.filter((d) => d.cloud !== 'arm')).toHaveLength(2);
  });
});
