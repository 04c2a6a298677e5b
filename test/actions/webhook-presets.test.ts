// Webhook presets against a local receiver: the body Slack, Teams and generic chat endpoints
// expect; secrets for the URL and headers from env/file.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { webhookAction } from '../../src/actions/webhook.js';
import { actionContext, eventRow } from '../helpers/action-context.js';
import { tempDir } from '../helpers/agent.js';
import { startRawReceiver, type RawReceiver } from '../helpers/raw-receiver.js';

let rx: RawReceiver | undefined;
afterEach(async () => {
  await rx?.close();
  rx = undefined;
});

const event = eventRow({
  type: 'reboot',
  resources: ['web-01'],
  notBefore: '2031-01-15T01:00:00.000Z',
  description: 'Host <update> & reboot',
});

async function send(params: Record<string, unknown>) {
  rx = await startRawReceiver();
  const full = { url: rx.url, ...params };
  webhookAction.validate(full);
  const ctx = actionContext({ event, vm: 'web-01' });
  const result = await webhookAction.run(ctx, full);
  expect(result, JSON.stringify(result)).toMatchObject({ ok: true });
  expect(rx.calls).toHaveLength(1);
  return { call: rx.calls[0]!, ctx };
}

describe('webhook presets', () => {
  it('slack: fallback text plus header, fields and a button linking the event', async () => {
    const { call, ctx } = await send({ preset: 'slack', timeZone: 'Europe/Berlin' });
    expect(call.headers['content-type']).toMatch(/^application\/json/);
    const b = call.body;
    expect(b.text).toMatch(/^reboot of web-01 scheduled: NotBefore 2031-01-15 01:00:00 UTC \(in \d+d/);
    expect(b.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: b.text } });
    expect(b.blocks[1].type).toBe('section');
    expect(b.blocks[1].fields).toContainEqual({ type: 'mrkdwn', text: '*VM*\nweb-01' });
    expect(b.blocks[1].fields).toContainEqual({
      type: 'mrkdwn',
      text: '*NotBefore*\n2031-01-15 01:00:00 UTC / 2031-01-15 02:00:00 CET (Europe/Berlin)',
    });
    // Slack's control characters are escaped in mrkdwn.
    expect(b.blocks[1].fields).toContainEqual({
      type: 'mrkdwn',
      text: '*Description*\nHost &lt;update&gt; &amp; reboot',
    });
    expect(b.blocks[2].elements[0]).toMatchObject({ type: 'button', url: ctx.eventUrl });
  });

  it('teams: an Adaptive Card in a message envelope, with facts and an Open URL action', async () => {
    const { call, ctx } = await send({ preset: 'teams' });
    const b = call.body;
    expect(b.type).toBe('message');
    expect(b.attachments).toHaveLength(1);
    const a = b.attachments[0];
    expect(a.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(a.content).toMatchObject({ type: 'AdaptiveCard', version: '1.4' });
    expect(a.content.body[0]).toMatchObject({
      type: 'TextBlock',
      text: expect.stringContaining('reboot of web-01 scheduled'),
    });
    expect(a.content.body[1].type).toBe('FactSet');
    expect(a.content.body[1].facts).toContainEqual({ title: 'VM', value: 'web-01' });
    expect(a.content.body[1].facts).toContainEqual({ title: 'Event id', value: `azure ${event.eventId}` });
    expect(a.content.actions).toEqual([
      { type: 'Action.OpenUrl', title: 'Open the event', url: ctx.eventUrl },
    ]);
  });

  it('chat: {text} with a custom summary template, for Mattermost, Rocket.Chat, Google Chat …', async () => {
    const { call, ctx } = await send({ preset: 'chat', text: ':warning: {{vm}} {{type}} {{timeLeft}}' });
    expect(Object.keys(call.body)).toEqual(['text']);
    const lines = (call.body.text as string).split('\n');
    expect(lines[0]).toMatch(/^:warning: web-01 reboot in \d+d/);
    expect(lines).toContain('VM: web-01');
    expect(lines).toContain('Description: Host <update> & reboot');
    expect(lines.at(-1)).toBe(ctx.eventUrl);
  });

  it('takes the URL, the signing key and a header token from env or file; none of them is in the result', async () => {
    rx = await startRawReceiver();
    const dir = tempDir('forewarn-secret-');
    writeFileSync(join(dir, 'token'), 'file-token-123\n');
    process.env.FW_TEST_CHAT_URL = rx.url;
    process.env.FW_TEST_SIGNING_KEY = 'signing-key-456';
    const params = {
      url: { env: 'FW_TEST_CHAT_URL' },
      preset: 'chat',
      secret: { env: 'FW_TEST_SIGNING_KEY' },
      headers: { authorization: { file: join(dir, 'token') } },
    };
    webhookAction.validate(params);
    const result = await webhookAction.run(actionContext({ event }), params);
    expect(result.ok).toBe(true);
    expect(rx.calls[0]!.headers.authorization).toBe('file-token-123');
    expect(rx.calls[0]!.headers['forewarn-signature']).toMatch(/^t=\d+,kid=default,v1=[0-9a-f]{64}$/);
    rx.script.push(500);
    const failed = await webhookAction.run(actionContext({ event }), params);
    expect(failed).toMatchObject({ ok: false, retryable: true });
    const text = JSON.stringify([result, failed]);
    for (const s of ['file-token-123', 'signing-key-456', '/hook']) expect(text).not.toContain(s);
  });

  it.each([
    ['an unknown preset', { preset: 'discord' }, /preset must be one of slack, teams, chat/],
    ['a preset with a body', { preset: 'slack', body: { x: 1 } }, /drop body\/format/],
    ['text without a preset', { text: 'hi' }, /go with a preset/],
    ['a bad text template', { preset: 'chat', text: '{{vmm}}' }, /text: unknown placeholder/],
    ['a bad body template', { body: { a: '{{evnt.type}}' } }, /body\/a: unknown placeholder/],
    ['an inline secret', { secret: 'abc' }, /secret: give the signing key as \{env: NAME\}/],
  ])('validate refuses %s', (_n, params, message) => {
    expect(() => webhookAction.validate({ url: 'http://x/', ...params })).toThrow(message);
  });
});
