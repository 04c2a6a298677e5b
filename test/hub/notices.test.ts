// Lifecycle notices through a real hub: a rule's `notify` entries become one-step runs the
// executor delivers (webhook to a receiver, email to a real SMTP server), with the outcome.
import { afterEach, describe, expect, it } from 'vitest';
import { startMailCapture, type MailCapture } from '../../src/hub/mail-capture.js';
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

async function publish(data: Record<string, any>, transition = 'scheduled') {
  const res = await publishOne(h!, h!.agentToken(data.vm), cloudEvent(data, transition));
  expect(res.status, res.text).toBe(200);
}

const notices = () => rx!.calls.filter((c) => c.path.includes('notice')).map((c) => c.body.notice);

describe('lifecycle notices', () => {
  it('tells about receipt, each failed attempt and the success, with the outcome, as their own steps', async () => {
    rx = await startRawReceiver();
    rx.script.push(500); // the step's first attempt fails, the second succeeds
    h = await startHub({
      rules: [
        {
          name: 'drain',
          match: { types: ['reboot'] },
          steps: [{ name: 'lb', action: 'webhook', with: { url: `${rx.url}?step` } }],
          notify: [
            {
              on: ['received', 'step-started', 'step-failed', 'step-succeeded', 'dead-lettered'],
              action: 'webhook',
              with: {
                url: `${rx.url}?notice`,
                body: { notice: '{{notice}}', vm: '{{vm}}', rule: '{{rule}}' },
              },
            },
          ],
        },
      ],
    });
    const data = maintenance('web-01');
    await publish(data);
    await waitFor(() => notices().length === 5, 10_000);
    const got = notices();
    const kinds = got.map((n: any) => n.kind).sort();
    expect(kinds).toEqual(['received', 'step-failed', 'step-started', 'step-started', 'step-succeeded']);
    expect(got.find((n: any) => n.kind === 'step-failed')).toMatchObject({
      step: 'lb',
      attempt: 1,
      detail: expect.stringMatching(/answered 500/),
    });
    expect(got.find((n: any) => n.kind === 'step-succeeded')).toMatchObject({
      step: 'lb',
      attempt: 2,
      detail: '200',
    });
    // Each notice is a step of its own (phase notice), with an idempotency key of its own.
    const steps = (
      await h.api('GET', `/api/v1/steps?event=azure/${data.eventId.toLowerCase()}`, undefined, READER)
    ).body.steps as any[];
    const noticeSteps = steps.filter((s) => s.phase === 'notice');
    expect(noticeSteps).toHaveLength(5);
    expect(new Set(noticeSteps.map((s) => s.idempotencyKey)).size).toBe(5);
    expect(noticeSteps.every((s) => s.status === 'succeeded')).toBe(true);
    // Notices are not noticed themselves.
    await h.hub.idle();
    expect(notices()).toHaveLength(5);
  });

  it('mails the administrator when a step is dead-lettered, and once when the event completes', async () => {
    rx = await startRawReceiver();
    rx.decide = (c) => (c.path.includes('step') ? { status: 400 } : undefined); // not retryable
    smtp = await startMailCapture();
    const mail = {
      server: { host: '127.0.0.1', port: smtp.port, tls: 'none' },
      from: 'forewarn@example.org',
      to: 'admin@example.org',
      groupWait: '0s',
    };
    h = await startHub({
      rules: [
        {
          name: 'drain',
          match: { types: ['reboot'], transitions: ['scheduled', 'started'] },
          steps: [{ name: 'lb', action: 'webhook', with: { url: `${rx.url}?step` } }],
          notify: [{ on: ['dead-lettered', 'completed'], action: 'email', with: mail }],
        },
      ],
    });
    const data = maintenance('web-01');
    await publish(data);
    const [dead] = await smtp.waitFor(1);
    expect(dead!.subject).toBe('[forewarn] dead-lettered: drain lb for web-01');
    expect(dead!.text).toMatch(/Notice:\s+dead-lettered lb .*answered 400/);
    await publish(data, 'started');
    await publish(data, 'completed');
    const mails = await smtp.waitFor(3, 10_000); // dead-letter of the started run, then completed
    const completed = mails.filter((m) => m.subject.startsWith('[forewarn] completed'));
    expect(completed).toHaveLength(1);
    expect(completed[0]!.subject).toBe('[forewarn] completed: drain for web-01');
  });

  it('refuses a notice with an unknown action or a bad kind, naming the rule and the field', async () => {
    h = await startHub();
    const rule = (notify: unknown) => ({
      name: 'api-rule',
      match: {},
      steps: [{ name: 'x', action: 'log' }],
      notify,
    });
    const bad = await h.api(
      'PUT',
      '/api/v1/rules/api-rule',
      rule([{ on: ['received'], action: 'pager' }]),
      ADMIN,
    );
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^rule api-rule: \/notify\/0\/action: unknown action pager/);
    const kind = await h.api(
      'PUT',
      '/api/v1/rules/api-rule',
      rule([{ on: ['exploded'], action: 'log' }]),
      ADMIN,
    );
    expect(kind.status).toBe(400);
    expect(kind.body.message).toMatch(
      /^rule api-rule: \/notify\/0\/on\/0: must be one of received, step-started/,
    );
  });
});
