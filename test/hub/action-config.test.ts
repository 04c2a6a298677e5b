// Action configuration at the hub level: a bad action config fails when rules load, naming the
// rule and the field; secrets given as {env}/{file} are used but never shown by the API or logged.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createHub } from '../../src/hub/server.js';
import { startMailCapture, type MailCapture } from '../../src/hub/mail-capture.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { tempDir } from '../helpers/agent.js';
import { ADMIN, READER, startHub, type TestHub } from '../helpers/hub.js';
import { cloudEvent, maintenance, publishOne } from '../helpers/hub-publish.js';
import { startRawReceiver, type RawReceiver } from '../helpers/raw-receiver.js';
import { waitFor } from '../helpers/wait.js';

let h: TestHub | undefined;
let rx: RawReceiver | undefined;
let smtp: MailCapture | undefined;
afterEach(async () => {
  await h?.close();
  await rx?.close();
  await smtp?.close();
  h = rx = smtp = undefined;
});

const mail = { server: { host: '127.0.0.1' }, from: 'fw@example.org', to: 'admin@example.org' };

describe('bad action config is refused when rules load', () => {
  it.each([
    [
      'an unknown action',
      { steps: [{ name: 'tell', action: 'pager', with: {} }] },
      'rule tell-admin: /rules/1/steps/0/action: unknown action pager; one of',
    ],
    [
      'an email without a recipient',
      { steps: [{ name: 'tell', action: 'email', with: { ...mail, to: [] } }] },
      'rule tell-admin: /rules/1/steps/0/with: email: to: at least one recipient is required',
    ],
    [
      'an invalid template',
      { steps: [{ name: 'tell', action: 'email', with: { ...mail, subject: '{{event.type' } }] },
      'rule tell-admin: /rules/1/steps/0/with: email: subject: a placeholder is not closed',
    ],
    [
      'a syslog step without a receiver',
      { undo: [{ name: 'log', action: 'syslog', with: { transport: 'tcp' } }] },
      'rule tell-admin: /rules/1/undo/0/with: syslog: host (the receiver) is required',
    ],
    [
      'a command with a shell line and placeholders',
      { steps: [{ name: 'run', action: 'command', with: { argv: ['echo {{vm}}'], shell: true } }] },
      'rule tell-admin: /rules/1/steps/0/with: command: with shell: true, use $FOREWARN_* variables',
    ],
    [
      'an email password given inline',
      {
        steps: [
          {
            name: 'tell',
            action: 'email',
            with: { ...mail, server: { host: 'x', user: 'u', password: 'hunter2' } },
          },
        ],
      },
      'rule tell-admin: /rules/1/steps/0/with: email: server/password: give it as {env: NAME} or {file: path}',
    ],
  ])('%s', async (_name, change, message) => {
    const store = new SqliteStore(join(tempDir('forewarn-hub-'), 'hub.db'));
    const rules = [
      { name: 'fine', match: {}, steps: [{ name: 'l', action: 'log' }] },
      { name: 'tell-admin', match: {}, steps: [{ name: 'l', action: 'log' }], ...change },
    ];
    const err = await createHub({ store, auth: {}, rules }).catch((e: Error) => e);
    await store.close();
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(message);
    // The message never echoes a secret value.
    expect((err as Error).message).not.toContain('hunter2');
  });
});

describe('secrets in action params', () => {
  it('are used when the step runs, shown only as references by the API, and never logged', async () => {
    const dir = tempDir('forewarn-secret-');
    writeFileSync(join(dir, 'signing.key'), 'signing-key-from-file-777\n');
    process.env.FW_TEST_SMTP_PASS = 'smtp-pass-from-env-555';
    rx = await startRawReceiver();
    smtp = await startMailCapture({ users: { fw: 'another-password' } }); // the login fails, retryably, and is logged
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
    const rules = [
      {
        name: 'tell-admin',
        match: {
          types: ['reboot'],
          filters: [{ operatorType: 'StringIn', key: 'data.type', values: ['reboot'] }],
        },
        steps: [
          {
            name: 'hook',
            action: 'webhook',
            with: {
              url: rx.url,
              secret: { file: join(dir, 'signing.key') },
              headers: { authorization: 'Bearer inline-token-999', 'x-team': 'ops' },
            },
          },
          {
            name: 'mail',
            action: 'email',
            retry: { maxAttempts: 2 },
            with: {
              server: {
                host: '127.0.0.1',
                port: smtp.port,
                tls: 'none',
                user: 'fw',
                password: { env: 'FW_TEST_SMTP_PASS' },
              },
              from: 'fw@example.org',
              to: 'admin@example.org',
              groupWait: '0s',
            },
          },
        ],
      },
    ];
    h = await startHub({ rules, log });
    const list = await h.api('GET', '/api/v1/rules', undefined, READER);
    expect(list.status).toBe(200);
    const text = JSON.stringify(list.body);
    for (const secret of ['inline-token-999', 'smtp-pass-from-env-555', 'signing-key-from-file-777'])
      expect(text).not.toContain(secret);
    const steps = list.body.rules[0].steps;
    // Only what is under with: is redacted: a filter's key is not a secret.
    expect(list.body.rules[0].match.filters[0].key).toBe('data.type');
    expect(steps[0].with.headers).toEqual({ authorization: '[redacted]', 'x-team': 'ops' });
    expect(steps[0].with.secret).toEqual({ file: join(dir, 'signing.key') });
    expect(steps[1].with.server.password).toEqual({ env: 'FW_TEST_SMTP_PASS' });

    // The same through the API's PUT answer and the audit log.
    const put = await h.api('PUT', '/api/v1/rules/api-copy', { ...rules[0], name: 'api-copy' }, ADMIN);
    expect(put.status).toBe(200);
    const audit = await h.api('GET', '/api/v1/audit?subject=rule:api-copy', undefined, ADMIN);
    expect(audit.status).toBe(200);
    expect(JSON.stringify(put.body) + JSON.stringify(audit.body)).not.toContain('inline-token-999');
    await h.api('DELETE', '/api/v1/rules/api-copy', undefined, ADMIN);

    const data = maintenance('web-01');
    const res = await publishOne(h, h.agentToken('web-01'), cloudEvent(data));
    expect(res.status).toBe(200);
    await waitFor(() => rx!.calls.length === 1, 5000);
    // The secrets were used: the token went out, the body was signed.
    expect(rx.calls[0]!.headers.authorization).toBe('Bearer inline-token-999');
    expect(rx.calls[0]!.headers['forewarn-signature']).toMatch(/v1=[0-9a-f]{64}$/);
    // The mail step fails (wrong password) until it is dead-lettered, with logs.
    const dead = await waitFor(async () => {
      const r = await h!.api('GET', '/api/v1/dead-letter', undefined, READER);
      return r.body.steps.find((s: any) => s.name === 'mail');
    }, 20_000);
    const detail = await h.api('GET', `/api/v1/steps/${dead.id}`, undefined, READER);
    expect(detail.body.attempts.length).toBeGreaterThan(0);
    expect(logged).toContain('step dead-lettered');
    const everything =
      logged +
      JSON.stringify(detail.body) +
      JSON.stringify((await h.api('GET', '/api/v1/steps', undefined, READER)).body);
    for (const secret of ['inline-token-999', 'smtp-pass-from-env-555', 'signing-key-from-file-777'])
      expect(everything).not.toContain(secret);
  });
});
