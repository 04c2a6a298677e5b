// The dashboard in a real browser (Debian's Chromium via playwright-core) against a real hub with a
// simulated fleet: simulator → agents → hub → rules → webhooks, and the pages showing it live.
// Each page is photographed; `npm run screenshots` writes them to docs/screenshots.
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, tempDir } from '../helpers/agent.js';
import { chromiumSkipReason, ensureWebBuilt, launchBrowser } from '../helpers/browser.js';
import { ADMIN, READER, startHub, startReceiver, type Receiver, type TestHub } from '../helpers/hub.js';
import { startSim, type TestSim } from '../helpers/sim.js';
import { waitFor } from '../helpers/wait.js';

const skip = chromiumSkipReason();
const SHOTS = process.env.FOREWARN_SCREENSHOTS ?? tempDir('forewarn-shots-');
/** A credential inside a rule's step parameters: the dashboard must never show it. */
const RULE_SECRET = 'Bearer rule-secret-7f3a9c';

let t: TestSim;
let h: TestHub;
let ok: Receiver;
let failing: Receiver;
let agents: ReturnType<typeof startAgent>[] = [];
let browser: BrowserContext;
let page: Page;

/** The fleet: VM → pool tag its agent reports. */
const POOLS: Record<string, string | undefined> = {
  'web-01': 'web',
  'web-02': 'web',
  solo: undefined,
  'db-01': 'db',
  'db-02': 'db',
};

const keyOf = (eventId: string) => `azure/${eventId.toLowerCase()}`;

async function shot(name: string, p: Page = page): Promise<void> {
  await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
}

async function login(token: string, p: Page = page): Promise<void> {
  await p.goto(`${h.url}/#/`);
  await p.locator('#token').fill(token);
  await p.getByRole('button', { name: 'Log in' }).click();
  await p.locator('[data-live="live"]').waitFor({ timeout: 15_000 });
}

/** Logged in with `token`'s role, whatever the previous test left (so a test also runs alone, with -t). */
async function ensureLogin(role: 'admin' | 'read', token: string): Promise<void> {
  if (page.url().startsWith(h.url) && (await page.locator(`.who[data-role="${role}"]`).count())) return;
  await page.goto(`${h.url}/#/`);
  await page.evaluate(() => sessionStorage.clear());
  await login(token);
}

async function logout(): Promise<void> {
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.locator('#token').waitFor();
}

/** Schedules an event the failing rule matches and waits until its step is dead-lettered. */
async function deadStep(vm: string): Promise<number> {
  failing.script.push(500);
  const [e] = t.sim.controller.schedule({ type: 'Redeploy', targets: { vms: [vm] } });
  const step = await waitFor(
    async () => {
      const r = await h.api(
        'GET',
        `/api/v1/steps?status=dead&event=${encodeURIComponent(keyOf(e!.eventId))}`,
      );
      return r.body?.steps?.[0] as { id: number } | undefined;
    },
    20_000,
    100,
  );
  return step.id;
}

describe.skipIf(skip !== undefined)(`dashboard in Chromium${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(async () => {
    ensureWebBuilt();
    t = await startSim();
    ok = await startReceiver();
    failing = await startReceiver();
    h = await startHub({
      staleAfterMs: 60_000,
      // At most one database VM out at once: a freeze of both holds the second one's drain.
      pools: [{ name: 'db', match: { vms: ['db-*'] }, maxUnavailable: 1 }],
      rules: [
        {
          name: 'drain-db',
          description: 'Take a database VM out before a freeze (one at a time).',
          match: { types: ['freeze'], vms: ['db-*'] },
          steps: [{ name: 'drain', action: 'webhook', disruptive: true, with: { url: ok.url } }],
        },
        {
          name: 'tell-ops',
          description: 'Every reboot: a webhook to the on-call tool.',
          match: { types: ['reboot'], transitions: ['scheduled'] },
          steps: [
            {
              name: 'notify',
              action: 'webhook',
              with: { url: ok.url, headers: { authorization: RULE_SECRET } },
            },
          ],
        },
        {
          name: 'page-broken',
          description: 'A receiver that fails on purpose, to fill the dead-letter.',
          match: { types: ['redeploy'], transitions: ['scheduled'] },
          steps: [{ name: 'page', action: 'webhook', retry: { maxAttempts: 1 }, with: { url: failing.url } }],
        },
      ],
    });
    for (const name of ['db-01', 'db-02'])
      t.sim.controller.fleet.add({ name, pool: 'db', availabilitySet: 'db-as', tags: { role: 'db' } });
    for (const [vm, pool] of Object.entries(POOLS))
      agents.push(
        startAgent(
          {
            vm,
            'metadata.url': `${t.url}/vm/${vm}`,
            'hub.url': h.url,
            'hub.token': h.agentToken(vm),
            'hub.heartbeat': '500ms',
          },
          undefined,
          pool ? { pool } : undefined,
        ),
      );
    await waitFor(async () => (await h.api('GET', '/api/v1/fleet')).body?.vms?.length === 5, 15_000);
    browser = await launchBrowser();
    page = await browser.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(agents.map((a) => a.close()));
    agents = [];
    await h?.close();
    await t?.close();
    await ok?.close();
    await failing?.close();
  });

  it('refuses an unknown token and keeps nothing, then logs an operator in', async () => {
    await page.goto(`${h.url}/#/`);
    await page.locator('#token').fill('not-a-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('does not know this token');
    expect(await page.evaluate(() => sessionStorage.getItem('forewarn.token'))).toBeNull();
    await shot('login');
    await login(ADMIN);
    expect(await page.locator('.who').textContent()).toContain('admin');
    const db = page.locator('[data-table="pools"] tr[data-pool="db"]');
    await db.waitFor();
    expect(await db.locator('[data-capacity]').textContent()).toBe('0 of 1');
    expect(await page.locator('[data-count="held"] .card-value').textContent()).toBe('0');
  });

  it('shows a newly scheduled event on the timeline within 2 s of the simulator scheduling it', async () => {
    await ensureLogin('admin', ADMIN);
    await page.goto(`${h.url}/#/`);
    await page.locator('[data-page="overview"] [data-count="scheduled"]').waitFor();
    await page.locator('[data-live="live"]').waitFor();
    const [e] = t.sim.controller.schedule({
      type: 'Reboot',
      targets: { vms: ['web-01'] },
      durationSeconds: 300,
    });
    // The acceptance criterion: on the timeline within 2 s (agent poll 200 ms → hub → SSE → render).
    const scheduledAt = Date.now();
    const bar = page.locator(`.timeline [data-event-key="${keyOf(e!.eventId)}"]`);
    await bar.waitFor({ timeout: 2000 });
    if (process.env.FOREWARN_TEST_TIMING) console.log(`on the timeline after ${Date.now() - scheduledAt} ms`);
    const row = page.locator('.tl-row[data-row="vm:web-01"]');
    expect(await row.locator('[data-countdown]').textContent()).toMatch(/reboot in 1[45]m/);
    await expect(page.locator('[data-count="scheduled"] .card-value').textContent()).resolves.toMatch(
      /^[1-9]/,
    );
    await shot('overview');

    // Open it; its webhook step completes on the page, without a reload.
    await bar.click();
    await page.locator(`[data-page="event"][data-event-key="${keyOf(e!.eventId)}"]`).waitFor();
    await page.locator('[data-step="notify"][data-step-status="succeeded"]').waitFor({ timeout: 15_000 });
    const history = await page.locator('[data-list="history"]').textContent();
    expect(history).toContain('scheduled');
    expect(history).toContain('rule tell-ops matched');
    expect(history).toMatch(/tell-ops\/notify \(webhook\) attempt 1: succeeded/);
    expect(await page.locator('[data-raw]').textContent()).toContain(e!.eventId);
    expect(ok.calls.some((c) => c.body?.event?.eventId === e!.eventId)).toBe(true);
    await shot('event');
    expect(await page.content()).not.toContain(RULE_SECRET);
    expect(await page.content()).not.toContain(ADMIN);
  });

  it('lists, filters and searches events with server-side pages', async () => {
    await ensureLogin('admin', ADMIN);
    await deadStep('web-02'); // a redeploy next to the reboot
    await page.goto(`${h.url}/#/events`);
    await page.locator('[data-table="events"] tbody tr').first().waitFor();
    expect(await page.locator('[data-table="events"] tbody tr').count()).toBeGreaterThanOrEqual(2);
    await page.locator('select[name="type"]').selectOption('redeploy');
    await waitFor(async () => {
      const types = await page.locator('[data-table="events"] tbody tr td:first-child').allTextContents();
      return types.length >= 1 && types.every((x) => x.includes('redeploy'));
    }, 10_000);
    await page.locator('input[name="q"]').fill('no-such-vm-anywhere');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('No event matches.').waitFor();
    await page.locator('input[name="q"]').fill('web-02');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('[data-table="events"] tbody tr').first().waitFor();
    expect(page.url()).toContain('q=web-02');
    await page.getByRole('button', { name: 'clear' }).click();
    await page.locator('[data-table="events"] tbody tr').nth(1).waitFor();
    await shot('events');
  });

  it('redrives a dead-lettered step for an operator', async () => {
    await ensureLogin('admin', ADMIN);
    const id = await deadStep('solo');
    await page.goto(`${h.url}/#/dead-letter`);
    const row = page.locator(`[data-table="dead-letter"] tr[data-step-id="${id}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('MaxDeliveryAttemptsExceeded');
    await shot('dead-letter');
    const before = failing.calls.length;
    await row.locator('button[data-action="redrive"]').click();
    await page.getByRole('status').getByText('Redrove 1 step.').waitFor();
    await waitFor(
      async () => (await h.api('GET', `/api/v1/steps/${id}`)).body?.step?.status === 'succeeded',
      15_000,
    );
    expect(failing.calls.length).toBe(before + 1);
    await row.waitFor({ state: 'detached', timeout: 10_000 });
  });

  it('shows a read-only user no redrive buttons, and the API refuses them too', async () => {
    await ensureLogin('admin', ADMIN);
    const id = await deadStep('web-01');
    await logout();
    await login(READER);
    await page.goto(`${h.url}/#/dead-letter`);
    await page.locator(`[data-table="dead-letter"] tr[data-step-id="${id}"]`).waitFor();
    expect(await page.locator('button[data-action]').count()).toBe(0);
    expect(await page.locator('[data-page="dead-letter"]').textContent()).toContain(
      'can look but not redrive',
    );
    const refused = await h.api('POST', '/api/v1/dead-letter/redrive', { ids: [id] }, READER);
    expect(refused.status).toBe(403);
    expect((await h.api('GET', `/api/v1/steps/${id}`)).body.step.status).toBe('dead');
    await logout();
    await login(ADMIN);
  });

  it('shows the rules with match counts and explains an event against them', async () => {
    await ensureLogin('admin', ADMIN);
    await page.goto(`${h.url}/#/rules`);
    const row = page.locator('[data-table="rules"] tr[data-rule="tell-ops"]');
    await row.waitFor();
    expect(await row.locator('[data-counts]').textContent()).toMatch(/^[1-9]\d* \/ [1-9]/);
    await page.getByRole('button', { name: 'Explain' }).click();
    const verdict = page.locator('[data-list="explain"] li[data-rule="tell-ops"]');
    await verdict.waitFor();
    expect(await verdict.getAttribute('data-matched')).toBe('true');
    expect(
      await page.locator('[data-list="explain"] li[data-rule="page-broken"]').getAttribute('data-matched'),
    ).toBe('false');
    await shot('rules');
    expect(await page.content()).not.toContain(RULE_SECRET);
    // Bad input: a clear message, no verdicts.
    await page.locator('textarea[name="event"]').fill('{"provider": "azure"');
    await page.getByRole('button', { name: 'Explain' }).click();
    expect(await page.getByRole('alert').textContent()).toContain('not valid JSON');
    await page.locator('textarea[name="event"]').fill('{"provider": "azure"}');
    await page.getByRole('button', { name: 'Explain' }).click();
    await page.getByRole('alert').getByText('/event').waitFor();
    expect(await page.locator('[data-list="explain"]').count()).toBe(0);
  });

  it('shows the fleet: identity, version, heartbeat, poll latency, metadata health', async () => {
    await ensureLogin('admin', ADMIN);
    await page.goto(`${h.url}/#/fleet`);
    const row = page.locator('[data-table="fleet"] tr[data-vm="web-01"]');
    await row.waitFor();
    expect(await row.textContent()).toMatch(/\d+ ms/);
    expect(await row.locator('[data-health]').getAttribute('data-health')).toBe('ok');
    expect(await page.locator('[data-table="fleet"] tbody tr').count()).toBe(5);
    expect(await page.locator('[data-table="fleet"] tr[data-vm="db-01"]').textContent()).toContain('pool=db');
    await shot('fleet');
  });

  it('lays the timeline out per VM or per pool', async () => {
    await ensureLogin('admin', ADMIN);
    // A freeze of both database VMs at once, and a freeze with no announced duration.
    t.sim.controller.schedule({ type: 'Freeze', targets: { vms: ['db-01', 'db-02'] }, durationSeconds: 9 });
    t.sim.controller.schedule({ type: 'Freeze', targets: { vms: ['web-02'] }, durationSeconds: -1 });
    await page.goto(`${h.url}/#/`);
    await page.locator('.tl-row[data-row="vm:db-02"]').waitFor({ timeout: 15_000 });
    await page.locator('.tl-row[data-row="vm:web-02"] .window.unknown').first().waitFor({ timeout: 15_000 });
    expect(await page.locator('.tl-row[data-row="vm:db-01"]').textContent()).toContain('db');
    // The pool's budget: one database VM drained, the other's drain held, and why.
    const pool = page.locator('[data-table="pools"] tr[data-pool="db"]');
    await pool.locator('[data-held]').waitFor({ timeout: 15_000 });
    expect(await pool.locator('[data-capacity]').textContent()).toBe('1 of 1');
    const [drained] = await h.api('GET', '/api/v1/pools').then((r) => r.body.pools[0].inUse);
    const other = drained.vm === 'db-01' ? 'db-02' : 'db-01';
    expect(await pool.locator('[data-held]').getAttribute('data-held')).toBe(other);
    expect(await pool.locator('[data-held-reason]').textContent()).toMatch(
      new RegExp(`^pool db is full \\(1 unavailable at most\\): ${drained.vm} `),
    );
    await waitFor(
      async () => (await page.locator('[data-count="held"] .card-value').textContent()) === '1',
      15_000,
    );
    await shot('overview');
    await page.locator('select[aria-label="one row per"]').selectOption('pool');
    const db = page.locator('.tl-row[data-row="pool:db"]');
    await db.waitFor();
    expect(await db.textContent()).toContain('pool of 2');
    expect(await db.locator('.window').count()).toBe(1); // one event, one bar, for both VMs
    expect(await page.locator('.tl-row[data-row="vm:solo"]').count()).toBe(1); // no pool: its own row
    await shot('overview-pools');
  });

  it('says when mail capture is not enabled', async () => {
    await ensureLogin('admin', ADMIN);
    await page.goto(`${h.url}/#/mail`);
    await page.locator('[data-mail="disabled"]').waitFor();
    await shot('mail');
  });

  it('is readable in dark mode', async () => {
    const dark = await launchBrowser({ colorScheme: 'dark' });
    try {
      const p = await dark.newPage();
      await login(ADMIN, p);
      await p.locator('.timeline .window').first().waitFor();
      const bg = await p.evaluate(() => getComputedStyle(document.body).backgroundColor);
      expect(bg).toBe('rgb(15, 18, 24)');
      await shot('overview-dark', p);
    } finally {
      await dark.close();
    }
  });
});
