// Ingest over real HTTP: every CloudEvents mode, the Event Grid topic endpoint with each of its
// auth schemes, limits, auth refusals (nothing stored) and dedup. Bad input: ingest-bad-input.test.ts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatRfc1123 } from '../../src/core/time.js';
import { vmSource } from '../../src/core/transition.js';
import { ADMIN, EG_KEY, OPERATOR, READER, startHub, type TestHub } from '../helpers/hub.js';
import {
  cloudEvent,
  egEvent,
  egPost as egPostTo,
  eventDetail,
  maintenance,
  post,
  publishBatch,
  publishOne,
  refusedAndNothingStored as refusedTo,
  sasToken,
} from '../helpers/hub-publish.js';

let h: TestHub;
beforeEach(async () => {
  h = await startHub();
});
afterEach(async () => {
  await h.close();
});

const EG_PATHS = ['/api/v1/eventgrid/events', '/api/events'];

const egPost = (path: string, body: unknown, headers?: Record<string, string>) =>
  egPostTo(h, path, body, headers);
const detail = (eventId: string) => eventDetail(h, eventId);
const refusedAndNothingStored = (
  status: number | number[],
  refused: () => Promise<{ status: number; body: any }>,
) => refusedTo(h, status, refused);

describe('CloudEvents modes', () => {
  it('structured mode is stored and readable through the API', async () => {
    const data = maintenance('web-01');
    const res = await publishOne(h, h.agentToken('web-01'), cloudEvent(data));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ new: 1, duplicate: 0, merged: 0 });
    const list = await h.api('GET', '/api/v1/events', undefined, READER);
    expect(list.body.total).toBe(1);
    expect(list.body.events[0]).toMatchObject({
      provider: 'azure',
      eventId: data.eventId,
      status: 'scheduled',
    });
    const d = await detail(data.eventId);
    expect(d.event).toMatchObject({ type: 'reboot', notBefore: data.notBefore, resources: ['web-01'] });
    expect(d.transitions).toHaveLength(1);
    expect(d.transitions[0]).toMatchObject({ transition: 'scheduled', via: 'cloudevents-structured' });
  });

  it('binary mode (ce-* headers, the data as the body) is stored', async () => {
    const data = maintenance('web-01', { type: 'freeze', durationSeconds: 9 });
    const res = await post(`${h.url}/api/v1/events`, JSON.stringify(data), {
      authorization: `Bearer ${h.agentToken('web-01')}`,
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': `azure/${data.eventId}/scheduled`,
      'ce-source': vmSource('web-01'),
      'ce-type': 'forewarn.maintenance.scheduled',
      'ce-time': new Date().toISOString(),
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ new: 1 });
    const d = await detail(data.eventId);
    expect(d.event).toMatchObject({ type: 'freeze', durationSeconds: 9 });
    expect(d.transitions[0]).toMatchObject({
      via: 'cloudevents-binary',
      ceId: `azure/${data.eventId}/scheduled`,
    });
  });

  it('batch mode stores every event of the array', async () => {
    const events = ['a', 'b', 'c'].map(() => cloudEvent(maintenance('web-01')));
    const res = await publishBatch(h, h.agentToken('web-01'), events);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ new: 3, duplicate: 0, merged: 0 });
    expect((await h.api('GET', '/api/v1/events', undefined, READER)).body.total).toBe(3);
    for (const e of events)
      expect((await detail(e.data.eventId)).transitions[0].via).toBe('cloudevents-batch');
  });

  it('data_base64 (JSON as bytes) and extension attributes are accepted in structured mode', async () => {
    const data = maintenance('web-01');
    const { data: _d, ...head } = cloudEvent(data);
    const e = {
      ...head,
      data_base64: Buffer.from(JSON.stringify(data)).toString('base64'),
      traceparent: 'x',
      seq: 3,
    };
    const res = await publishOne(h, h.agentToken('web-01'), e as never);
    expect(res.status, res.text).toBe(200);
    expect((await detail(data.eventId)).event).toMatchObject({ eventId: data.eventId, type: 'reboot' });
  });

  it('an empty batch is valid and stores nothing', async () => {
    await refusedAndNothingStored(200, () => publishBatch(h, h.agentToken('web-01'), []));
  });
});

describe('Event Grid topic endpoint', () => {
  it.each(EG_PATHS)('%s accepts an aeg-sas-key header and answers 200 with no body', async (path) => {
    const data = maintenance('web-01');
    const res = await egPost(path, [egEvent(data)]);
    expect(res.status, res.text).toBe(200);
    expect(res.text).toBe('');
    const d = await detail(data.eventId);
    expect(d.event).toMatchObject({ type: 'reboot', resources: ['web-01'] });
    expect(d.transitions[0]).toMatchObject({ transition: 'scheduled', via: 'event-grid' });
  });

  it.each(EG_PATHS)('%s accepts the key as ?aeg-sas-key=', async (path) => {
    const data = maintenance('web-02');
    const res = await egPost(
      `${path}?api-version=2018-01-01&aeg-sas-key=${encodeURIComponent(EG_KEY)}`,
      [egEvent(data)],
      {},
    );
    expect(res.status, res.text).toBe(200);
    expect((await detail(data.eventId)).event.eventId).toBe(data.eventId);
  });

  it.each([
    ['aeg-sas-token header', (t: string) => ({ 'aeg-sas-token': t })],
    [
      'Authorization: SharedAccessSignature',
      (t: string) => ({ authorization: `SharedAccessSignature ${t}` }),
    ],
  ])('accepts a SAS token built like the Azure SDK (%s)', async (_name, headers) => {
    const token = sasToken(`${h.url}/api/events`, EG_KEY, new Date(Date.now() + 3_600_000));
    const data = maintenance('web-01');
    const res = await egPost('/api/events', [egEvent(data)], headers(token));
    expect(res.status, res.text).toBe(200);
    expect((await detail(data.eventId)).transitions).toHaveLength(1);
  });

  it('refuses an expired SAS token, a SAS signed with another key, a wrong key and no key, with 401 in EG shape', async () => {
    const data = maintenance('web-01');
    const otherKey = Buffer.from('some-other-topic-key').toString('base64');
    const cases: Record<string, string>[] = [
      { 'aeg-sas-token': sasToken(`${h.url}/api/events`, EG_KEY, new Date(Date.now() - 60_000)) },
      { 'aeg-sas-token': sasToken(`${h.url}/api/events`, otherKey, new Date(Date.now() + 3_600_000)) },
      { 'aeg-sas-key': otherKey },
      { authorization: `Bearer ${ADMIN}` },
      {},
    ];
    for (const headers of cases) {
      const body = await refusedAndNothingStored(401, () => egPost('/api/events', [egEvent(data)], headers));
      expect(body).toEqual({
        error: { code: expect.any(String), message: expect.any(String), details: expect.any(Array) },
      });
    }
  });

  it('stores a raw Azure Scheduled Event posted as data, as a bash loop over IMDS would', async () => {
    const eventId = '602d9444-d2cd-49c7-8624-8643e7171297'.toUpperCase();
    const notBefore = Date.now() + 10 * 60_000;
    const res = await egPost('/api/events', [
      {
        id: `${eventId}-1`,
        subject: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web-01',
        eventType: 'Azure.ScheduledEvent',
        eventTime: new Date().toISOString(),
        dataVersion: '1.0',
        data: {
          EventId: eventId,
          EventStatus: 'Scheduled',
          EventType: 'Reboot',
          ResourceType: 'VirtualMachine',
          Resources: ['web-01'],
          NotBefore: formatRfc1123(notBefore),
          Description: 'Virtual machine is going to be restarted as requested by authorized user.',
          EventSource: 'User',
          DurationInSeconds: -1,
        },
      },
    ]);
    expect(res.status, res.text).toBe(200);
    const d = await detail(eventId);
    expect(d.event).toMatchObject({
      provider: 'azure',
      eventId,
      type: 'reboot',
      status: 'scheduled',
      origin: 'user',
      resources: ['web-01'],
      notBefore: new Date(Math.floor(notBefore / 1000) * 1000).toISOString(),
    });
    expect(d.event.reporters).toEqual(['web-01']);
  });

  it('answers bad input with Event Grid’s error body {error:{code,message,details}}', async () => {
    const data = maintenance('web-01');
    for (const bad of [
      '{"not":"an array"',
      { not: 'an array' },
      [{ ...egEvent(data), subject: undefined }],
      [egEvent({ ...data, resources: 'web-01' })],
      [egEvent(data, 'scheduled', { metadataVersion: '2' })],
    ]) {
      const body = await refusedAndNothingStored(400, () => egPost('/api/v1/eventgrid/events', bad));
      expect(body.error).toMatchObject({ code: 'BadRequest', message: expect.any(String) });
      expect(body.error.details[0]).toMatchObject({ code: expect.any(String), message: expect.any(String) });
    }
  });

  it.each(EG_PATHS)('%s refuses a body over 1 MB with 413 in Event Grid shape', async (path) => {
    const data = maintenance('web-01', { description: 'x'.repeat(4000) });
    const events = Array.from({ length: 300 }, (_, i) => egEvent({ ...data, eventId: `E-${i}` }));
    expect(JSON.stringify(events).length).toBeGreaterThan(1024 * 1024);
    const body = await refusedAndNothingStored(413, () => egPost(path, events));
    expect(body.error).toMatchObject({ code: 'PayloadTooLarge', message: expect.any(String) });
  });

  it('refuses more than 5000 events in one request with 413', async () => {
    const data = maintenance('web-01');
    const events = Array.from({ length: 5001 }, (_, i) => ({
      id: String(i),
      subject: 's',
      eventType: 't',
      eventTime: data.notBefore,
    }));
    expect(JSON.stringify(events).length).toBeLessThan(1024 * 1024);
    const body = await refusedAndNothingStored(413, () => egPost('/api/v1/eventgrid/events', events));
    expect(body.error.code).toBe('PayloadTooLarge');
  });

  it('refuses a CloudEvents body over 1 MB with 413', async () => {
    const events = Array.from({ length: 300 }, () =>
      cloudEvent(maintenance('web-01', { description: 'x'.repeat(4000) })),
    );
    await refusedAndNothingStored(413, () => publishBatch(h, h.agentToken('web-01'), events));
  });
});

describe('auth on CloudEvents ingest', () => {
  const event = () => cloudEvent(maintenance('web-01'));

  it('missing or unknown tokens get 401 and nothing is stored', async () => {
    const body = JSON.stringify(event());
    const ct = { 'content-type': 'application/cloudevents+json' };
    await refusedAndNothingStored(401, () => post(`${h.url}/api/v1/events`, body, ct));
    for (const authorization of [
      'Bearer nope',
      `Bearer ${h.agentToken('web-01')}x`,
      `Bearer fwa.web-01.${'A'.repeat(43)}`,
      `Basic ${Buffer.from(`x:${ADMIN}`).toString('base64')}`,
    ]) {
      await refusedAndNothingStored(401, () =>
        post(`${h.url}/api/v1/events`, body, { ...ct, authorization }),
      );
    }
  });

  it('an agent token publishing for another VM gets 403 (by source or by data.vm), nothing stored', async () => {
    const foreign = cloudEvent(maintenance('web-02'));
    await refusedAndNothingStored(403, () => publishOne(h, h.agentToken('web-01'), foreign));
    // Its own source, another VM in the data.
    const spoofed = { ...foreign, source: vmSource('web-01') };
    await refusedAndNothingStored(403, () => publishOne(h, h.agentToken('web-01'), spoofed));
    // Its own VM in the data, another VM's source.
    const mine = cloudEvent(maintenance('web-01'));
    await refusedAndNothingStored(403, () =>
      publishOne(h, h.agentToken('web-01'), { ...mine, source: vmSource('web-02') }),
    );
    // One foreign event spoils the whole batch: nothing of it is stored.
    await refusedAndNothingStored(403, () => publishBatch(h, h.agentToken('web-01'), [mine, foreign]));
  });

  it('a read-role operator may not publish (403); an operate-role operator may', async () => {
    await refusedAndNothingStored(403, () => publishOne(h, READER, event()));
    const res = await publishOne(h, OPERATOR, event());
    expect(res.status, res.text).toBe(200);
    expect(res.body.new).toBe(1);
  });
});

describe('dedup', () => {
  it('the same source + id twice is one transition; the second answer counts a duplicate', async () => {
    const e = event1();
    const first = await publishOne(h, h.agentToken('web-01'), e);
    expect(first.body).toEqual({ new: 1, duplicate: 0, merged: 0 });
    const again = await publishBatch(h, h.agentToken('web-01'), [e]);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ new: 0, duplicate: 1, merged: 0 });
    const d = await detail(e.data.eventId);
    expect(d.transitions).toHaveLength(1);
    expect(d.transitions[0].sightings).toHaveLength(1);
  });

  it('one platform transition reported by two VMs is one transition with two sightings', async () => {
    const data = maintenance('web-01', { resources: ['web-01'] });
    const a = await publishOne(
      h,
      h.agentToken('web-01'),
      cloudEvent(data, 'scheduled', { id: 'from-web-01' }),
    );
    expect(a.body).toEqual({ new: 1, duplicate: 0, merged: 0 });
    const sibling = { ...data, vm: 'web-02', mine: false };
    const b = await publishOne(
      h,
      h.agentToken('web-02'),
      cloudEvent(sibling, 'scheduled', { id: 'from-web-02' }),
    );
    expect(b.status, b.text).toBe(200);
    expect(b.body).toEqual({ new: 0, duplicate: 0, merged: 1 });
    const d = await detail(data.eventId);
    expect(d.transitions).toHaveLength(1);
    expect(d.transitions[0].sightings.map((s: any) => s.reporter).sort()).toEqual(['web-01', 'web-02']);
    expect(d.event.reporters.sort()).toEqual(['web-01', 'web-02']);
    expect((await h.api('GET', '/api/v1/events', undefined, READER)).body.total).toBe(1);
  });

  it('one reschedule reported by two VMs is one rescheduled transition with two sightings', async () => {
    const data = maintenance('web-01', { resources: ['web-01'] });
    await publishOne(h, h.agentToken('web-01'), cloudEvent(data, 'scheduled', { id: 'a-1' }));
    const moved = {
      ...data,
      notBefore: new Date(Date.now() + 3_600_000).toISOString(),
      previousNotBefore: data.notBefore,
    };
    const a = await publishOne(h, h.agentToken('web-01'), cloudEvent(moved, 'rescheduled', { id: 'a-2' }));
    expect(a.body).toEqual({ new: 1, duplicate: 0, merged: 0 });
    const sibling = { ...moved, vm: 'web-02', mine: false };
    const b = await publishOne(h, h.agentToken('web-02'), cloudEvent(sibling, 'rescheduled', { id: 'b-7' }));
    expect(b.body).toEqual({ new: 0, duplicate: 0, merged: 1 });
    const d = await detail(data.eventId);
    expect(d.transitions.map((t: any) => [t.transition, t.sightings.length])).toEqual([
      ['scheduled', 1],
      ['rescheduled', 2],
    ]);
    expect(d.event.notBefore).toBe(moved.notBefore);
  });

  function event1() {
    return cloudEvent(maintenance('web-01'));
  }
});
