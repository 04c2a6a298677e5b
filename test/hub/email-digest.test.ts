// A wave through a real hub: five events for the same administrator within groupWait (5 s) become one
// mail, and every one of the five steps records that mail's outcome.
import { afterEach, describe, expect, it } from 'vitest';
import { startMailCapture, type MailCapture } from '../../src/hub/mail-capture.js';
import { READER, startHub, type TestHub } from '../helpers/hub.js';
import { cloudEvent, maintenance, publishOne } from '../helpers/hub-publish.js';
import { waitFor } from '../helpers/wait.js';

let h: TestHub | undefined;
let smtp: MailCapture | undefined;
afterEach(async () => {
  await h?.close();
  await smtp?.close();
  h = smtp = undefined;
});

async function wave(rejectCode?: number) {
  smtp = await startMailCapture(rejectCode ? { reject: { recipients: /admin@/, code: rejectCode } } : {});
  h = await startHub({
    rules: [
      {
        name: 'tell-admin',
        match: {},
        steps: [
          {
            name: 'mail',
            action: 'email',
            retry: { maxAttempts: 1 },
            with: {
              server: { host: '127.0.0.1', port: smtp.port, tls: 'none' },
              from: 'forewarn@example.org',
              to: 'admin@example.org',
              groupWait: '5s', // generous: all five are published well within it
            },
          },
        ],
      },
    ],
  });
  const vms = ['web-01', 'web-02', 'web-03', 'web-04', 'web-05'];
  for (const vm of vms) {
    const res = await publishOne(h, h.agentToken(vm), cloudEvent(maintenance(vm)));
    expect(res.status).toBe(200);
  }
  const steps = await waitFor(async () => {
    const r = await h!.api('GET', '/api/v1/steps', undefined, READER);
    const s = r.body.steps as any[];
    return s.length === 5 && s.every((x) => x.status !== 'pending' && x.status !== 'running') ? s : undefined;
  }, 20_000);
  return { vms, steps };
}

describe('email digests through the hub', () => {
  it('one mail for the wave; all five steps succeeded with it', async () => {
    const { vms, steps } = await wave();
    expect(steps.map((s) => s.status)).toEqual(Array(5).fill('succeeded'));
    const mails = smtp!.list();
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toBe('[forewarn] 5 maintenance events: reboot scheduled ×5');
    for (const vm of vms) expect(mails[0]!.text).toContain(`VM:          ${vm}`);
    const attempts = await h!.api('GET', `/api/v1/steps/${steps[0].id}`, undefined, READER);
    expect(attempts.body.attempts[0]).toMatchObject({ ok: true, detail: 'sent as a digest of 5' });
  });

  it('a digest rejected for good dead-letters every grouped step', async () => {
    const { steps } = await wave(550);
    expect(steps.map((s) => [s.status, s.deadReason])).toEqual(Array(5).fill(['dead', 'NonRetryable (550)']));
    expect(smtp!.list()).toHaveLength(0);
  });
});
