// Cloud pushes into a real hub (SQLite): AWS EventBridge and Alibaba CloudMonitor/EventBridge
// events are authenticated by a shared secret, validated, normalised, stored once, and bad input
// changes nothing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatAlibabaEventTime } from '../../src/core/time.js';
import { ADMIN, AGENT_SECRET, startHub, type TestHub } from '../helpers/hub.js';

const SECRET = 'push-secret-0123456789abcdef';
let h: TestHub;
beforeEach(async () => {
  h = await startHub({
    auth: {
      agentSecret: AGENT_SECRET,
      operators: [{ name: 'root', role: 'admin', token: ADMIN }],
      pushSecrets: [{ name: 'clouds', secret: SECRET }],
    },
  });
});
afterEach(() => h.close());

const push = (
  format: string,
  body: unknown,
  headers: Record<string, string> = { authorization: `Bearer ${SECRET}` },
  query = '',
) => h.api('POST', `/api/v1/push/${format}${query}`, body, '', headers);
const events = async (provider: string) =>
  (await h.api('GET', `/api/v1/events?provider=${provider}`)).body.events as Record<string, any>[];

const aws = (
  detailType: string,
  source: string,
  detail: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) => ({
  version: '0',
  id: `ev-${Math.random().toString(16).slice(2)}`,
  'detail-type': detailType,
  source,
  account: '123456789012',
  time: '2026-03-07T08:20:00Z',
  region: 'us-east-1',
  resources: [],
  detail,
  ...extra,
});
const spot = () =>
  aws('EC2 Spot Instance Interruption Warning', 'aws.ec2', {
    'instance-id': 'i-0abc1234def567890',
    'instance-action': 'terminate',
  });
const health = (statusCode: string) =>
  aws(
    'AWS Health Event',
    'aws.health',
    {
      eventArn: 'arn:aws:health:us-east-1::event/EC2/AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED/AWS_EC2_1',
      service: 'EC2',
      eventTypeCode: 'AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED',
      eventTypeCategory: 'scheduledChange',
      startTime: 'Sat, 07 Mar 2026 15:10:09 GMT',
      endTime: 'Sat, 07 Mar 2026 17:10:09 GMT',
      statusCode,
      eventDescription: [
        { language: 'en_US', latestDescription: 'Your instances are scheduled for a reboot.' },
      ],
      affectedEntities: [{ entityValue: 'i-0aaa1111bbbb22223' }, { entityValue: 'i-0ccc3333dddd44445' }],
    },
    { resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-0aaa1111bbbb22223'] },
  );

describe('push authentication', () => {
  it.each([
    ['no secret', {}],
    ['a wrong secret', { authorization: 'Bearer not-the-secret-at-all' }],
    ['an operator token', { authorization: `Bearer ${ADMIN}` }],
  ])('refuses %s with 401 and stores nothing', async (_n, headers) => {
    const res = await push('aws', spot(), headers);
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(/push secret/);
    expect(await events('aws')).toEqual([]);
  });

  it('takes the secret as a bearer token, an X-Forewarn-Push-Secret header or ?secret=', async () => {
    expect((await push('aws', spot())).status).toBe(200);
    expect((await push('aws', spot(), { 'x-forewarn-push-secret': SECRET })).status).toBe(200);
    expect((await push('aws', spot(), {}, `?secret=${SECRET}`)).status).toBe(200);
  });

  it('a push secret is not an ingest token', async () => {
    const res = await h.api('POST', '/api/v1/events', [], SECRET, {
      'content-type': 'application/cloudevents-batch+json',
    });
    expect(res.status).toBe(401);
  });
});

describe('AWS EventBridge', () => {
  it('stores a spot interruption warning once, however often it is delivered', async () => {
    const body = spot();
    expect((await push('aws', body)).body).toMatchObject({ new: 1, duplicate: 0, ignored: 0 });
    expect((await push('aws', body)).body).toMatchObject({ new: 0, duplicate: 1 });
    const [e] = await events('aws');
    expect(e).toMatchObject({
      provider: 'aws',
      eventId: 'i-0abc1234def567890:spot-interruption:2026-03-07T08:20:00.000Z',
      type: 'preempt',
      status: 'scheduled',
      notBefore: '2026-03-07T08:22:00.000Z',
      resources: ['i-0abc1234def567890'],
      reporters: ['push:clouds'],
    });
  });

  it('stores an AWS Health scheduled change for every affected instance, then its close', async () => {
    expect((await push('aws', health('upcoming'))).body).toMatchObject({ new: 1 });
    let [e] = await events('aws');
    expect(e).toMatchObject({
      eventId:
        '123456789012:arn:aws:health:us-east-1::event/EC2/AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED/AWS_EC2_1',
      type: 'reboot',
      status: 'scheduled',
      notBefore: '2026-03-07T15:10:09.000Z',
      durationSeconds: 7200,
      description: 'Your instances are scheduled for a reboot.',
      resources: ['i-0aaa1111bbbb22223', 'i-0ccc3333dddd44445'],
    });
    expect((await push('aws', health('closed'))).body).toMatchObject({ new: 1 });
    [e] = await events('aws');
    expect(e!.status).toBe('completed');
  });

  it('stores draining state changes, ignores the way back and other services', async () => {
    const state = (s: string) =>
      aws('EC2 Instance State-change Notification', 'aws.ec2', {
        'instance-id': 'i-0abc1234def567890',
        state: s,
      });
    expect((await push('aws', [state('stopping'), state('running')])).body).toMatchObject({
      new: 1,
      ignored: 1,
    });
    expect((await events('aws'))[0]).toMatchObject({ type: 'stop', status: 'started' });
    const s3 = health('upcoming');
    (s3.detail as Record<string, unknown>).service = 'S3';
    expect((await push('aws', s3)).body).toMatchObject({ new: 0, ignored: 1, why: ['service S3'] });
  });

  it.each([
    ['not JSON', '{"version":', /body is not valid JSON/],
    ['an empty array', [], /1 to 500 events/],
    ['no detail', { ...spot(), detail: undefined }, /\/detail/],
    [
      'a bad instance id',
      aws('EC2 Spot Instance Interruption Warning', 'aws.ec2', {
        'instance-id': 'vm-1',
        'instance-action': 'terminate',
      }),
      /\/detail\/instance-id/,
    ],
    [
      'an unknown action',
      aws('EC2 Spot Instance Interruption Warning', 'aws.ec2', {
        'instance-id': 'i-0abc1234def567890',
        'instance-action': 'explode',
      }),
      /\/detail\/instance-action/,
    ],
    [
      'a bad time',
      { ...spot(), time: 'yesterday' },
      /\/time: "yesterday" is not an RFC 3339 or RFC 1123 time/,
    ],
    ['a bad account', { ...spot(), account: 'me' }, /\/account/],
    ['one bad event in a batch', [spot(), { ...spot(), version: '1' }], /^\/1\/version/],
  ])('refuses %s with 400, storing nothing', async (_n, body, message) => {
    const res = await push('aws', body);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(message);
    expect(await events('aws')).toEqual([]);
  });
});

const EVENT_TIME = formatAlibabaEventTime(Date.UTC(2026, 2, 7, 1, 0, 0, 123));
const current = (status: string, extra: Record<string, unknown> = {}) => ({
  ver: '1.0',
  id: `2256A988-${status}`,
  product: 'ECS',
  resourceId: 'acs:ecs:cn-hangzhou:1690700000000030:instance/i-bp1ecr0000005go2go',
  level: 'CRITICAL',
  name: `Instance:SystemMaintenance.Reboot:${status}`,
  userId: '1690700000000030',
  eventTime: EVENT_TIME,
  regionId: 'cn-hangzhou',
  content: {
    eventId: 'e-bp11trd0000pqum2',
    publishTime: '2026-03-07T01:00:00Z',
    notBefore: '2026-03-09T18:00:00Z',
    instanceId: 'i-bp1ecr0000005go2go',
    eventType: 'SystemMaintenance.Reboot',
    eventStatus: status,
    ...extra,
  },
});
const legacy = {
  product: 'ECS',
  resourceId: 'acs:ecs:cn-hangzhou:1234567890123456:instance/i-bp1abcdefghijklmno',
  level: 'CRITICAL',
  instanceName: 'app-01',
  regionId: 'cn-hangzhou',
  name: 'Instance:InstanceFailure.Reboot:Executed',
  status: 'Executed',
  content: {
    eventId: 'e-bp1xyz0123456789abcd',
    eventType: 'InstanceFailure.Reboot',
    ecsInstanceId: 'i-bp1abcdefghijklmno',
    ecsInstanceName: 'app-01',
    executeStartTime: '2026-03-07T01:23:37Z',
    executeFinishTime: '2026-03-07T01:25:37Z',
  },
};

describe('Alibaba CloudMonitor and EventBridge', () => {
  it('follows a system event from Scheduled through Executing to Executed', async () => {
    expect((await push('alibaba', current('Scheduled'))).body).toMatchObject({ new: 1 });
    expect((await events('alibaba'))[0]).toMatchObject({
      provider: 'alibaba',
      eventId: 'e-bp11trd0000pqum2',
      type: 'reboot',
      status: 'scheduled',
      notBefore: '2026-03-09T18:00:00.000Z',
      resources: ['i-bp1ecr0000005go2go'],
    });
    await push('alibaba', current('Executing', { executeStartTime: '2026-03-09T18:01:00Z' }));
    await push('alibaba', current('Executed', { executeFinishTime: '2026-03-09T18:05:00Z' }));
    const detail = await h.api('GET', `/api/v1/events/alibaba/e-bp11trd0000pqum2`);
    expect(detail.body.event.status).toBe('completed');
    expect(detail.body.transitions.map((t: { transition: string }) => t.transition)).toEqual([
      'scheduled',
      'started',
      'completed',
    ]);
    expect(detail.body.transitions[0].observedAt).toBe('2026-03-07T01:00:00.123Z'); // eventTime, UTC+8 → UTC
  });

  it('reads the older format (content.ecsInstanceId, top-level status), once however often posted', async () => {
    expect((await push('alibaba', legacy)).body).toMatchObject({ new: 1 });
    expect((await push('alibaba', legacy)).body).toMatchObject({ duplicate: 1 });
    expect((await events('alibaba'))[0]).toMatchObject({
      eventId: 'e-bp1xyz0123456789abcd',
      type: 'reboot',
      status: 'completed',
      resources: ['i-bp1abcdefghijklmno'],
    });
  });

  it('trusts content.eventStatus over the name suffix (Avoided under :Scheduled)', async () => {
    await push('alibaba', current('Scheduled'));
    const avoided = current('Scheduled', { eventStatus: 'Avoided' });
    avoided.id = 'avoided-1';
    await push('alibaba', avoided);
    expect((await events('alibaba'))[0]!.status).toBe('canceled');
  });

  it('takes EventBridge CloudEvents with the content as data, and spot interruptions', async () => {
    const ce = {
      specversion: '1.0',
      id: 'eb-1',
      source: 'acs.ecs',
      type: 'ecs:Instance:SystemFailure.Redeploy:Scheduled',
      time: '2026-03-07T02:00:00Z',
      aliyunregionid: 'cn-shanghai',
      data: {
        eventId: 'e-uf6redeploy000001',
        instanceId: 'i-uf6abc000000000001',
        eventType: 'SystemFailure.Redeploy',
        eventStatus: 'Scheduled',
        notBefore: '2026-03-08T02:00:00Z',
      },
    };
    const interruption = {
      ...current('Scheduled'),
      id: 'spot-1',
      name: 'Instance:PreemptibleInstanceInterruption',
      content: { instanceId: 'i-bp1spot00000000001', action: 'delete' },
    };
    expect((await push('alibaba', [ce, interruption])).body).toMatchObject({ new: 2 });
    const byType = Object.fromEntries((await events('alibaba')).map((e) => [e.type, e]));
    expect(byType.redeploy).toMatchObject({
      status: 'scheduled',
      notBefore: '2026-03-08T02:00:00.000Z',
      resources: ['i-uf6abc000000000001'],
    });
    expect(byType.preempt).toMatchObject({
      notBefore: '2026-03-07T01:05:00.123Z',
      resources: ['i-bp1spot00000000001'],
    });
  });

  it.each([
    [
      'an ISO eventTime',
      { ...current('Scheduled'), eventTime: '2026-03-07T01:00:00Z' },
      /\/eventTime: invalid time/,
    ],
    ['an unknown status', current('Exploded'), /\/content\/eventStatus: "Exploded" is not one of/],
    ['another product', { ...current('Scheduled'), product: 'RDS' }, /\/product/],
    [
      'no instance',
      { ...legacy, resourceId: undefined, content: { ...legacy.content, ecsInstanceId: undefined } },
      /no ECS instance id/,
    ],
    ['a bad notBefore', current('Scheduled', { notBefore: 'soon' }), /\/content\/notBefore/],
    ['no content', { ...legacy, content: undefined }, /\/content/],
  ])('refuses %s with 400, storing nothing', async (_n, body, message) => {
    const res = await push('alibaba', body);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(message);
    expect(await events('alibaba')).toEqual([]);
  });
});
