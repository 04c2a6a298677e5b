// Bad input at the ingest endpoints: malformed JSON, wrong types, unknown fields and event types,
// missing or invalid CloudEvents attributes. Each gets a 400 naming the field, and nothing is stored.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { vmSource } from '../../src/core/transition.js';
import { OPERATOR, startHub, type TestHub } from '../helpers/hub.js';
import {
  cloudEvent,
  egEvent,
  egPost as egPostTo,
  maintenance,
  post,
  publishBatch,
  publishOne,
  refusedAndNothingStored as refusedTo,
} from '../helpers/hub-publish.js';

let h: TestHub;
beforeEach(async () => {
  h = await startHub();
});
afterEach(async () => {
  await h.close();
});

const egPost = (path: string, body: unknown, headers?: Record<string, string>) =>
  egPostTo(h, path, body, headers);
const refusedAndNothingStored = (
  status: number | number[],
  refused: () => Promise<{ status: number; body: any }>,
) => refusedTo(h, status, refused);

describe('bad input: 400 naming the field, nothing stored', () => {
  const token = () => h.agentToken('web-01');
  const structured = (body: string) =>
    post(`${h.url}/api/v1/events`, body, {
      'content-type': 'application/cloudevents+json',
      authorization: `Bearer ${token()}`,
    });

  it('malformed JSON in every mode', async () => {
    expect((await refusedAndNothingStored(400, () => structured('{"specversion":"1.0",'))).message).toMatch(
      /JSON/,
    );
    const batch = () =>
      post(`${h.url}/api/v1/events`, '[{"specversion":', {
        'content-type': 'application/cloudevents-batch+json',
        authorization: `Bearer ${token()}`,
      });
    expect((await refusedAndNothingStored(400, batch)).message).toMatch(/JSON/);
    const binary = () =>
      post(`${h.url}/api/v1/events`, '{"provider":', {
        'content-type': 'application/json',
        authorization: `Bearer ${token()}`,
        'ce-specversion': '1.0',
        'ce-id': 'x',
        'ce-source': vmSource('web-01'),
        'ce-type': 'forewarn.maintenance.scheduled',
      });
    await refusedAndNothingStored(400, binary);
  });

  it.each([
    ['data.resources not an array', { resources: 'web-01' }, /\/data\/resources/],
    ['data.durationSeconds a string', { durationSeconds: '60' }, /\/data\/durationSeconds/],
    ['data.type unknown', { type: 'exploded' }, /\/data\/type/],
    ['data.notBefore not a time', { notBefore: 'tomorrow' }, /\/data\/notBefore/],
    ['data.mine missing', { mine: undefined }, /\/data\/mine/],
    ['an unknown field in data', { exploded: true }, /exploded/],
  ])('%s', async (_name, overrides, field) => {
    const data = JSON.parse(JSON.stringify(maintenance('web-01', overrides)));
    const body = await refusedAndNothingStored(400, () => structured(JSON.stringify(cloudEvent(data))));
    expect(body.message).toMatch(field);
  });

  it.each([
    ['an upper-case extension name', { Trace: 'x' }, /Trace/],
    ['an extension with an object value', { trace: { a: 1 } }, /trace/],
    ['an empty subject', { subject: '' }, /subject/],
    ['data and data_base64 together', { data_base64: 'e30=' }, /data_base64/],
  ])('%s is refused', async (_name, extra, field) => {
    const e = { ...cloudEvent(maintenance('web-01')), ...extra };
    const body = await refusedAndNothingStored(400, () => structured(JSON.stringify(e)));
    expect(body.message).toMatch(field);
  });

  it('an unknown event type is refused, naming the type', async () => {
    const e = cloudEvent(maintenance('web-01'), 'exploded');
    expect(e.type).toBe('forewarn.maintenance.exploded');
    const body = await refusedAndNothingStored(400, () => structured(JSON.stringify(e)));
    expect(body.message).toMatch(/type/);
    expect(body.message).toContain('forewarn.maintenance.exploded');
  });

  // CloudEvents 1.0 makes id, source, type and specversion REQUIRED; the SDK quietly invents some.
  it.each(
    ['id', 'source', 'type', 'specversion'].flatMap((attr) => [
      [attr, 'agent'],
      [attr, 'operator'],
    ]),
  )('a CloudEvent without %s is refused (%s token)', async (attr, who) => {
    const e = cloudEvent(maintenance('web-01'));
    delete e[attr];
    const tok = who === 'agent' ? token() : OPERATOR;
    // An agent's event without a source is not provably its own: 403 is an acceptable refusal too.
    const allowed = attr === 'source' && who === 'agent' ? [400, 403] : [400];
    const body = await refusedAndNothingStored(allowed, () => publishOne(h, tok, e));
    if (allowed.length === 1) expect(body.message).toMatch(new RegExp(attr));
  });

  it.each(
    ['2.0', '1.0.0', '1'].flatMap((v) => [
      [v, 'structured'],
      [v, 'batch'],
      [v, 'binary'],
    ]),
  )('specversion %s is refused (%s mode): only CloudEvents 1.0 is spoken here', async (version, mode) => {
    const e = cloudEvent(maintenance('web-01'), 'scheduled', { specversion: version });
    const send = () =>
      mode === 'structured'
        ? publishOne(h, token(), e)
        : mode === 'batch'
          ? publishBatch(h, token(), [e])
          : post(`${h.url}/api/v1/events`, JSON.stringify(e.data), {
              authorization: `Bearer ${token()}`,
              'content-type': 'application/json',
              'ce-specversion': version,
              'ce-id': e.id,
              'ce-source': e.source,
              'ce-type': e.type,
            });
    expect((await refusedAndNothingStored(400, send)).message).toMatch(/specversion/);
  });

  it.each(
    [['"garbage"'], ['false'], ['"2026-13-45T00:00:00Z"'], ['{}']].flatMap(([t]) => [
      [t!, 'structured'],
      [t!, 'batch'],
    ]),
  )('time %s (not an RFC 3339 timestamp) is refused (%s mode)', async (time, mode) => {
    const e = cloudEvent(maintenance('web-01'), 'scheduled', { time: JSON.parse(time) });
    const send = () => (mode === 'structured' ? publishOne(h, token(), e) : publishBatch(h, token(), [e]));
    expect((await refusedAndNothingStored(400, send)).message).toMatch(/time/);
  });

  it('a batch with one bad event stores none of them, and names the bad one by index', async () => {
    const good = cloudEvent(maintenance('web-01'));
    const bad = cloudEvent(maintenance('web-01', { resources: 7 }));
    const body = await refusedAndNothingStored(400, () => publishBatch(h, token(), [good, bad]));
    expect(body.message).toMatch(/\/1\/data\/resources/);
  });

  it('Event Grid: wrong types and unknown event types name the event and field', async () => {
    const data = maintenance('web-01');
    const resources = await refusedAndNothingStored(400, () =>
      egPost('/api/events', [egEvent(data), egEvent({ ...data, eventId: 'E2', resources: {} })]),
    );
    expect(resources.error.message).toMatch(/\/1\/data\/resources/);
    const exploded = await refusedAndNothingStored(400, () =>
      egPost('/api/events', [egEvent(data, 'exploded')]),
    );
    expect(exploded.error.message).toContain('forewarn.maintenance.exploded');
    const unknown = await refusedAndNothingStored(400, () =>
      egPost('/api/events', [egEvent({ ...data, exploded: 1 })]),
    );
    expect(unknown.error.message).toMatch(/exploded/);
  });
});
