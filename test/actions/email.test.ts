// The email action against a real SMTP server (smtp-server in this process, via the hub's mail
// capture module): headers and both parts, STARTTLS and implicit TLS with a self-signed
// certificate, AUTH, digests, and which failures are retryable.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ActionResult } from '../../src/actions/action.js';
import { createEmailAction } from '../../src/actions/email.js';
import { startMailCapture, type MailCapture } from '../../src/hub/mail-capture.js';
import { actionContext, eventRow } from '../helpers/action-context.js';
import { selfSignedCert } from '../helpers/tls.js';

let smtp: MailCapture | undefined;
afterEach(async () => {
  await smtp?.close();
  smtp = undefined;
});

let tls: ReturnType<typeof selfSignedCert>;
beforeAll(() => {
  tls = selfSignedCert();
  process.env.FW_TEST_SMTP_PASSWORD = 's3cret-pass';
});

const base = (extra: Record<string, unknown> = {}, server: Record<string, unknown> = {}) => ({
  server: { host: '127.0.0.1', port: smtp!.port, tls: 'none', ...server },
  from: 'forewarn <forewarn@example.org>',
  to: ['admin@example.org', 'oncall@example.org'],
  groupWait: '0s',
  ...extra,
});

describe('email', () => {
  it('sends one mail with the event in a text and an HTML part, NotBefore in UTC and the configured zone', async () => {
    smtp = await startMailCapture();
    const action = createEmailAction();
    const notBefore = new Date(Date.now() + 15 * 60_000 + 30_000);
    notBefore.setUTCHours(1, 0, 0, 0);
    const event = eventRow({
      notBefore: new Date(Date.UTC(2031, 0, 15, 1, 0, 0)).toISOString(),
      description: 'Host <b>maintenance</b> & reboot',
    });
    const ctx = actionContext({ event, vm: 'web-01' });
    const params = base({ cc: 'audit@example.org', timeZone: 'Europe/Berlin' });
    action.validate(params);
    const result = await action.run(ctx, params);
    expect(result, JSON.stringify(result)).toMatchObject({ ok: true, detail: 'sent' });
    const [mail] = await smtp.waitFor(1);
    expect(mail!.envelope.to.sort()).toEqual([
      'admin@example.org',
      'audit@example.org',
      'oncall@example.org',
    ]);
    expect(mail!.from).toBe('forewarn@example.org');
    expect(mail!.cc).toEqual(['audit@example.org']);
    expect(mail!.subject).toBe('[forewarn] reboot of web-01 scheduled, NotBefore 2031-01-15 01:00:00 UTC');
    expect(mail!.messageId).toBe(`<${ctx.idempotencyKey}@forewarn>`);
    expect(mail!.headers['x-forewarn-events']).toBe(`azure/${event.eventId}`);
    expect(mail!.headers['x-forewarn-idempotency-key']).toBe(ctx.idempotencyKey);
    expect(mail!.headers['content-type']).toMatch(/multipart\/alternative/);
    // Plain text: every field, raw.
    expect(mail!.text).toContain('VM:          web-01');
    expect(mail!.text).toContain('2031-01-15 01:00:00 UTC / 2031-01-15 02:00:00 CET (Europe/Berlin)');
    expect(mail!.text).toMatch(/Time left:\s+in \d+d/);
    expect(mail!.text).toContain('Host <b>maintenance</b> & reboot');
    expect(mail!.text).toContain(`platform`);
    expect(mail!.text).toContain(`Open the event: ${ctx.eventUrl}`);
    // HTML: the same, escaped, with a link.
    expect(mail!.html).toContain('Host &lt;b&gt;maintenance&lt;/b&gt; &amp; reboot');
    expect(mail!.html).toContain(`<a href="${ctx.eventUrl}">`);
    expect(mail!.html).toContain('<th align="left">VM</th><td>web-01</td>');
    expect(mail!.secure).toBe(false);
  });

  it('uses custom subject and body templates', async () => {
    smtp = await startMailCapture();
    const action = createEmailAction();
    const params = base({
      subject: 'Maintenance on {{vm}}: {{type}} {{timeLeft}}',
      text: '{{vm}} will {{type}} at {{notBeforeUtc}} ({{origin}}). {{eventUrl}}',
      html: '<p>{{vm}}: {{description}}</p>',
    });
    action.validate(params);
    const ctx = actionContext({ event: eventRow({ type: 'freeze', resources: ['db-02'] }), vm: 'db-02' });
    expect((await action.run(ctx, params)).ok).toBe(true);
    const [mail] = await smtp.waitFor(1);
    expect(mail!.subject).toMatch(/^Maintenance on db-02: freeze in 1[45]m\d*s?$/);
    expect(mail!.text).toMatch(
      /^db-02 will freeze at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(platform\)\. http:\/\/hub/,
    );
    expect(mail!.html).toContain('<p>db-02: Host server is undergoing maintenance.</p>');
  });

  it('speaks STARTTLS to a server with a self-signed certificate it was told to trust, and logs in', async () => {
    smtp = await startMailCapture({ tls, users: { alerts: 's3cret-pass' } });
    const action = createEmailAction();
    const params = base(
      {},
      { tls: 'starttls', caFile: tls.certFile, user: 'alerts', password: { env: 'FW_TEST_SMTP_PASSWORD' } },
    );
    action.validate(params);
    const result = await action.run(actionContext(), params);
    expect(result, JSON.stringify(result)).toMatchObject({ ok: true });
    const [mail] = await smtp.waitFor(1);
    expect(mail!.secure).toBe(true);
    expect(mail!.user).toBe('alerts');
  });

  it('speaks implicit TLS (port 465 style)', async () => {
    smtp = await startMailCapture({ tls, implicitTls: true });
    const action = createEmailAction();
    const result = await action.run(actionContext(), base({}, { tls: 'tls', caFile: tls.certFile }));
    expect(result, JSON.stringify(result)).toMatchObject({ ok: true });
    expect((await smtp.waitFor(1))[0]!.secure).toBe(true);
  });

  it('refuses an untrusted certificate (retryable: the operator can fix the CA) and sends nothing', async () => {
    smtp = await startMailCapture({ tls });
    const result = await createEmailAction().run(actionContext(), base({}, { tls: 'starttls' }));
    expect(result).toMatchObject({ ok: false, retryable: true });
    expect(smtp.list()).toHaveLength(0);
  });

  it('an authentication failure is retryable, and the password is not in the result', async () => {
    smtp = await startMailCapture({ tls, users: { alerts: 'the-right-one' } });
    const params = base(
      {},
      { tls: 'starttls', caFile: tls.certFile, user: 'alerts', password: { env: 'FW_TEST_SMTP_PASSWORD' } },
    );
    const result = await createEmailAction().run(actionContext(), params);
    expect(result).toMatchObject({ ok: false, retryable: true });
    expect(!result.ok && result.detail).toMatch(/535|auth/i);
    expect(JSON.stringify(result)).not.toContain('s3cret-pass');
    expect(smtp.list()).toHaveLength(0);
  });

  it('a missing password variable is not retryable (the operator sets it, then redrives) and says which', async () => {
    smtp = await startMailCapture();
    const result = await createEmailAction().run(
      actionContext(),
      base({}, { user: 'alerts', password: { env: 'FW_TEST_NOT_SET_ANYWHERE' } }),
    );
    expect(result).toMatchObject({ ok: false, retryable: false });
    expect(!result.ok && result.detail).toContain('FW_TEST_NOT_SET_ANYWHERE is not set');
  });

  it('connection refused is retryable', async () => {
    smtp = await startMailCapture();
    const port = smtp.port;
    await smtp.close();
    smtp = undefined;
    const params = {
      from: 'forewarn@example.org',
      to: 'admin@example.org',
      groupWait: '0s',
      server: { host: '127.0.0.1', port, tls: 'none' },
    };
    const result = await createEmailAction().run(actionContext(), params);
    expect(result).toMatchObject({ ok: false, retryable: true });
    expect(!result.ok && result.detail).toMatch(/ECONNREFUSED|connect/i);
  });

  it('a permanent 5xx rejection of the recipients is not retryable; a 4xx one is', async () => {
    smtp = await startMailCapture({ reject: { recipients: /@example\.org$/, code: 550 } });
    const permanent = await createEmailAction().run(actionContext(), base());
    expect(permanent).toMatchObject({ ok: false, retryable: false, status: 550 });
    await smtp.close();
    smtp = await startMailCapture({ reject: { recipients: /@example\.org$/, code: 451 } });
    const transient = await createEmailAction().run(actionContext(), base());
    expect(transient).toMatchObject({ ok: false, retryable: true });
    expect(smtp.list()).toHaveLength(0);
  });

  it('groups events for the same recipients within groupWait into one digest; each step gets its outcome', async () => {
    smtp = await startMailCapture();
    const action = createEmailAction();
    const params = base({ groupWait: '1500ms', timeZone: 'Asia/Tokyo' });
    const ctxs = ['web-01', 'web-02', 'web-03'].map((vm, i) =>
      actionContext({ vm, event: eventRow({ resources: [vm], type: i === 2 ? 'freeze' : 'reboot' }) }),
    );
    const other = base({ groupWait: '1500ms', to: 'someone-else@example.org' });
    const results = await Promise.all([
      ...ctxs.map((c) => action.run(c, params)),
      action.run(actionContext({ vm: 'db-01' }), other),
    ]);
    expect(results.map((r) => r.ok)).toEqual([true, true, true, true]);
    expect(results.slice(0, 3).map((r) => r.detail)).toEqual(Array(3).fill('sent as a digest of 3'));
    expect(results[3]!.detail).toBe('sent');
    const mails = await smtp.waitFor(2);
    expect(mails).toHaveLength(2);
    const digest = mails.find((m) => m.to.includes('admin@example.org'))!;
    expect(digest.subject).toBe('[forewarn] 3 maintenance events: reboot scheduled ×2, freeze scheduled ×1');
    for (const c of ctxs) {
      expect(digest.text).toContain(`VM:          ${c.vm}`);
      expect(digest.html).toContain(`<td>${c.vm}</td>`);
      expect(digest.headers['x-forewarn-idempotency-key']).toContain(c.idempotencyKey);
    }
    expect(digest.text).toContain('GMT+9 (Asia/Tokyo)');
    expect(mails.find((m) => m.to.includes('someone-else@example.org'))!.text).toContain(
      'VM:          db-01',
    );
  });

  it('a step that times out while its digest collects leaves the group (retryable); the rest is sent', async () => {
    smtp = await startMailCapture();
    const action = createEmailAction();
    const params = base({ groupWait: '1500ms' });
    const [late, onTime] = await Promise.all([
      action.run(actionContext({ vm: 'gone-01', signal: AbortSignal.timeout(200) }), params),
      action.run(actionContext({ vm: 'kept-01' }), params),
    ]);
    expect(late).toMatchObject({ ok: false, retryable: true });
    expect(late.detail).toMatch(/lower groupWait below the step timeout/);
    expect(onTime).toMatchObject({ ok: true, detail: 'sent' });
    const [mail] = await smtp.waitFor(1);
    expect(mail!.text).toContain('VM:          kept-01');
    expect(mail!.text).not.toContain('gone-01');
  });

  it('a digest that cannot be delivered fails every grouped step the same way', async () => {
    smtp = await startMailCapture({ reject: { recipients: /admin@/, code: 550 } });
    const action = createEmailAction();
    const params = base({ groupWait: '1s', to: 'admin@example.org' });
    const results: ActionResult[] = await Promise.all(
      ['a-1', 'a-2'].map((vm) =>
        action.run(actionContext({ vm, event: eventRow({ resources: [vm] }) }), params),
      ),
    );
    expect(results).toEqual([
      expect.objectContaining({ ok: false, retryable: false, status: 550 }),
      expect.objectContaining({ ok: false, retryable: false, status: 550 }),
    ]);
  });

  it.each([
    ['no recipient', { to: [] }, /to: at least one recipient/],
    ['a bad recipient', { to: ['not-an-address'] }, /to: "not-an-address" is not an email address/],
    ['no server', { server: undefined }, /server/],
    [
      'an inline password',
      { server: { host: 'x', user: 'u', password: 'pw' } },
      /password: give it as \{env: NAME\}/,
    ],
    [
      'an unknown placeholder',
      { subject: 'Hi {{evnt.type}}' },
      /subject: unknown placeholder \{\{evnt\.type\}\}/,
    ],
    ['an unclosed placeholder', { text: 'Hi {{vm' }, /text: a placeholder is not closed/],
    ['a bad time zone', { timeZone: 'Mars/Olympus' }, /timeZone: "Mars\/Olympus" is not an IANA time zone/],
    ['a bad tls mode', { server: { host: 'x', tls: 'maybe' } }, /server\/tls must be one of/],
    ['an unknown field', { bcc: 'x@y.z' }, /unknown field bcc/],
  ])('validate refuses %s', (_name, change, message) => {
    const params = { server: { host: 'x' }, from: 'a@b.c', to: 'd@e.f', ...change };
    expect(() => createEmailAction().validate(params)).toThrow(message);
  });
});
