// The dashboard's server side without a browser: the SSE stream and its tickets, the aggregate
// read endpoints, and the static file route (including its refusals).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/agent.js';
import { cloudEvent, maintenance } from '../helpers/hub-publish.js';
import { ADMIN, READER, startHub, startReceiver, type Receiver, type TestHub } from '../helpers/hub.js';
import { waitFor } from '../helpers/wait.js';

let h: TestHub | undefined;
let rx: Receiver | undefined;
const streams: AbortController[] = [];

afterEach(async () => {
  for (const s of streams.splice(0)) s.abort();
  await h?.close();
  await rx?.close();
  h = undefined;
  rx = undefined;
});

/** Opens the stream and collects its frames as { event, data } until aborted. */
async function openStream(url: string, headers: Record<string, string> = {}) {
  const ac = new AbortController();
  streams.push(ac);
  const res = await fetch(url, { headers, signal: ac.signal });
  const frames: { event: string; data: any }[] = [];
  if (res.ok) {
    void (async () => {
      const decoder = new TextDecoder();
      let buf = '';
      try {
        for await (const chunk of res.body!) {
          buf += decoder.decode(chunk as Uint8Array, { stream: true });
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const frame = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const event = /^event: (.*)$/m.exec(frame)?.[1];
            const data = /^data: (.*)$/m.exec(frame)?.[1];
            if (event && data) frames.push({ event, data: JSON.parse(data) });
          }
        }
      } catch {
        // aborted
      }
    })();
  }
  return { res, frames };
}

async function publish(vm: string, eventId: string, type = 'reboot') {
  const data = maintenance(vm, { eventId, type, durationSeconds: 120, raw: { EventId: eventId } });
  const r = await h!.api('POST', '/api/v1/events', JSON.stringify(cloudEvent(data)), h!.agentToken(vm), {
    'content-type': 'application/cloudevents+json',
  });
  expect(r.status).toBeLessThan(300);
}

describe('dashboard stream', () => {
  it('opens with a single-use ticket, never with no credential or an agent token', async () => {
    h = await startHub();
    expect((await openStream(`${h.url}/api/v1/stream`)).res.status).toBe(401);
    expect((await openStream(`${h.url}/api/v1/stream?ticket=made-up`)).res.status).toBe(401);
    // An operator token in the query is not a ticket.
    expect((await openStream(`${h.url}/api/v1/stream?ticket=${ADMIN}`)).res.status).toBe(401);
    const agent = await openStream(`${h.url}/api/v1/stream`, {
      authorization: `Bearer ${h.agentToken('web-01')}`,
    });
    expect(agent.res.status).toBe(403);
    expect((await h.api('POST', '/api/v1/stream/tickets', undefined, h.agentToken('web-01'))).status).toBe(
      403,
    );

    const t = await h.api('POST', '/api/v1/stream/tickets', undefined, READER);
    expect(t.status).toBe(200);
    expect(t.body.ticket).toMatch(/^[\w-]{32}$/);
    const first = await openStream(`${h.url}/api/v1/stream?ticket=${t.body.ticket}`);
    expect(first.res.status).toBe(200);
    expect(first.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await waitFor(() => first.frames.find((f) => f.event === 'hello'));
    expect(first.frames[0]!.data).toEqual({ role: 'read' });
    // Spent: the same ticket does not open a second stream.
    expect((await openStream(`${h.url}/api/v1/stream?ticket=${t.body.ticket}`)).res.status).toBe(401);
  });

  it('expires tickets', async () => {
    let now = Date.now();
    h = await startHub({ now: () => now });
    const t = await h.api('POST', '/api/v1/stream/tickets', undefined, READER);
    now += 31_000;
    expect((await openStream(`${h.url}/api/v1/stream?ticket=${t.body.ticket}`)).res.status).toBe(401);
  });

  it('streams transitions, step attempts and heartbeats, coalesced', async () => {
    rx = await startReceiver();
    h = await startHub({
      rules: [
        {
          name: 'hook',
          match: { types: ['reboot'] },
          steps: [{ name: 'call', action: 'webhook', with: { url: rx.url } }],
        },
      ],
    });
    const s = await openStream(`${h.url}/api/v1/stream`, { authorization: `Bearer ${ADMIN}` });
    await waitFor(() => s.frames.find((f) => f.event === 'hello'));
    await publish('web-01', 'ev-1');
    await publish('web-02', 'ev-2');
    const hb = await h.api(
      'POST',
      '/api/v1/agents/web-01/heartbeat',
      { vm: { name: 'web-01' } },
      h.agentToken('web-01'),
    );
    expect(hb.status).toBe(200);
    const keys = await waitFor(() => {
      const items = s.frames.filter((f) => f.event === 'transitions').flatMap((f) => f.data.items);
      return items.length >= 2 ? items.map((i: any) => i.eventKey).sort() : undefined;
    });
    expect(keys).toEqual(['azure/ev-1', 'azure/ev-2']);
    const attempts = await waitFor(() => {
      const items = s.frames.filter((f) => f.event === 'attempts').flatMap((f) => f.data.items);
      return items.length >= 2 ? items : undefined;
    });
    expect(attempts[0]).toMatchObject({ rule: 'hook', step: 'call', status: 'succeeded' });
    const beats = await waitFor(() => s.frames.find((f) => f.event === 'heartbeats'));
    expect(beats.data).toEqual({ count: 1, vms: ['web-01'] });
    // Nothing secret travels: no parameters, no tokens.
    expect(JSON.stringify(s.frames)).not.toContain(rx.url);
  });
});

describe('dashboard stream pacing', () => {
  it('holds heartbeats back to one summary per 5 s without holding back transitions', async () => {
    h = await startHub();
    const s = await openStream(`${h.url}/api/v1/stream`, { authorization: `Bearer ${ADMIN}` });
    await waitFor(() => s.frames.find((f) => f.event === 'hello'));
    const beat = () =>
      h!.api('POST', '/api/v1/agents/web-01/heartbeat', { vm: { name: 'web-01' } }, h!.agentToken('web-01'));
    await beat();
    await waitFor(() => s.frames.find((f) => f.event === 'heartbeats'));
    await beat(); // the next summary is due 5 s after the first
    await new Promise((r) => setTimeout(r, 400)); // past the 150 ms flush the beat may have started
    await publish('web-01', 'ev-pace');
    await waitFor(() => s.frames.find((f) => f.event === 'transitions'));
    expect(s.frames.filter((f) => f.event === 'heartbeats')).toHaveLength(1);
    const second = await waitFor(() => s.frames.filter((f) => f.event === 'heartbeats')[1], 10_000);
    expect(second.data).toEqual({ count: 1, vms: ['web-01'] });
  });

  it('ends open streams when the hub closes', async () => {
    h = await startHub();
    const s = await openStream(`${h.url}/api/v1/stream`, { authorization: `Bearer ${ADMIN}` });
    await waitFor(() => s.frames.find((f) => f.event === 'hello'));
    await h.close();
    h = undefined;
  });
});

describe('dashboard read endpoints', () => {
  it('counts, lays out the timeline per VM, and lists agents with problems', async () => {
    h = await startHub({ staleAfterMs: 60_000 });
    await publish('web-01', 'ev-a');
    await publish('web-02', 'ev-b', 'freeze');
    await h.api(
      'POST',
      '/api/v1/agents/web-01/heartbeat',
      {
        vm: { name: 'web-01', tags: { pool: 'web' } },
        sources: [{ source: 'azure', consecutiveFailures: 3, lastError: 'HTTP 500' }],
      },
      h.agentToken('web-01'),
    );
    const o = await waitFor(async () => {
      const r = await h!.api('GET', '/api/v1/dashboard/overview', undefined, READER);
      return r.body?.counts?.scheduled === 2 ? r.body : undefined;
    });
    expect(o.counts).toMatchObject({ scheduled: 2, started: 0, held: 0, deadLettered: 0 });
    expect(o.timeline.rows.map((r: any) => r.label).sort()).toEqual(['web-01', 'web-02']);
    expect(o.timeline.rows.find((r: any) => r.label === 'web-01')).toMatchObject({
      pool: 'web',
      events: [{ key: 'azure/ev-a' }],
    });
    const ev = o.timeline.rows[0].events[0];
    expect(Date.parse(ev.expectedEnd) - Date.parse(ev.notBefore)).toBe(120_000);
    expect(o.agents).toMatchObject({ total: 1, stale: 0, failing: 1 });
    expect(o.agents.problems[0]).toMatchObject({
      vm: 'web-01',
      failing: [{ source: 'azure', consecutiveFailures: 3 }],
    });

    const filtered = await h.api('GET', '/api/v1/dashboard/overview?vm=web-02&rows=1', undefined, READER);
    expect(filtered.body.timeline).toMatchObject({ totalRows: 1, rows: [{ label: 'web-02' }] });
    const byPool = await h.api('GET', '/api/v1/dashboard/overview?group=pool', undefined, READER);
    expect(byPool.body.timeline.rows.map((r: any) => [r.kind, r.label]).sort()).toEqual([
      ['pool', 'web'],
      ['vm', 'web-02'],
    ]);
    expect((await h.api('GET', '/api/v1/dashboard/overview?group=zone', undefined, READER)).status).toBe(400);
    const bad = await h.api('GET', '/api/v1/dashboard/overview?rows=0', undefined, READER);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('rows');
    expect((await h.api('GET', '/api/v1/dashboard/overview?rows=abc', undefined, READER)).status).toBe(400);
    expect((await h.api('GET', '/api/v1/dashboard/overview', undefined, '')).status).toBe(401);
  });

  it('searches and filters events with pages, and shows one event as a timeline', async () => {
    h = await startHub();
    for (let i = 0; i < 5; i++) await publish(`vm-${i}`, `ev-${i}`, i % 2 ? 'freeze' : 'reboot');
    const all = await h.api('GET', '/api/v1/dashboard/events?limit=2', undefined, READER);
    expect(all.body).toMatchObject({ total: 5, offset: 0 });
    expect(all.body.events).toHaveLength(2);
    expect(all.body.events[0].raw).toBeUndefined(); // the list stays light
    const q = await h.api('GET', '/api/v1/dashboard/events?q=VM-3', undefined, READER);
    expect(q.body.events.map((e: any) => e.key)).toEqual(['azure/ev-3']);
    const typed = await h.api(
      'GET',
      '/api/v1/dashboard/events?type=freeze&origin=platform&limit=1&offset=1',
      undefined,
      READER,
    );
    expect(typed.body).toMatchObject({ total: 2, offset: 1 });
    expect(typed.body.events).toHaveLength(1);
    const none = await h.api('GET', '/api/v1/dashboard/events?origin=user', undefined, READER);
    expect(none.body).toMatchObject({ total: 0, events: [] });
    const badType = await h.api('GET', '/api/v1/dashboard/events?type=explode', undefined, READER);
    expect(badType.status).toBe(400);
    expect((await h.api('GET', '/api/v1/dashboard/events?limit=500', undefined, READER)).status).toBe(400);
    expect((await h.api('GET', '/api/v1/dashboard/events?since=yesterday', undefined, READER)).status).toBe(
      400,
    );

    const d = await h.api('GET', '/api/v1/dashboard/events/azure/EV-2', undefined, READER);
    expect(d.status).toBe(200);
    expect(d.body.event).toMatchObject({ key: 'azure/ev-2', raw: { EventId: 'ev-2' } });
    expect(d.body.timeline[0]).toMatchObject({ kind: 'transition', title: 'scheduled' });
    expect((await h.api('GET', '/api/v1/dashboard/events/azure/nope', undefined, READER)).status).toBe(404);
  });

  it('shows rules without their step parameters, and says who is logged in', async () => {
    h = await startHub({
      rules: [
        {
          name: 'secretive',
          match: { types: ['reboot'] },
          steps: [
            {
              name: 'call',
              action: 'webhook',
              with: { url: 'http://127.0.0.1:9/x', headers: { authorization: 'Bearer s3cr3t' } },
            },
          ],
        },
      ],
    });
    const r = await h.api('GET', '/api/v1/dashboard/rules', undefined, READER);
    expect(r.body.rules[0]).toMatchObject({
      name: 'secretive',
      source: 'file',
      steps: [{ name: 'call', action: 'webhook' }],
    });
    expect(JSON.stringify(r.body)).not.toContain('s3cr3t');
    expect((await h.api('GET', '/api/v1/dashboard/me', undefined, READER)).body).toEqual({
      name: 'viewer',
      role: 'read',
    });
    expect((await h.api('GET', '/api/v1/dashboard/me', undefined, 'wrong')).status).toBe(401);
  });
});

describe('dashboard and secrets in errors', () => {
  it('takes a credential in a failing webhook URL out of the dead-letter and the event page', async () => {
    rx = await startReceiver();
    const secretPath = 'abcDEF123ghiJKL456mnoPQR';
    h = await startHub({
      rules: [
        {
          name: 'slackish',
          match: { types: ['reboot'] },
          steps: [
            {
              name: 'post',
              action: 'webhook',
              retry: { maxAttempts: 1 },
              with: { url: rx.url.replace('/hook', `/services/T0123/${secretPath}`) },
            },
          ],
        },
      ],
    });
    await publish('web-01', 'ev-s');
    const dead = await waitFor(async () => {
      const r = await h!.api('GET', '/api/v1/dashboard/dead-letter', undefined, READER);
      return r.body?.steps?.[0];
    });
    expect(dead).toMatchObject({ rule: 'slackish', vm: 'web-01', deadReason: expect.stringMatching(/404/) });
    // The webhook names only the receiver's origin; the dashboard's redaction is the second line.
    expect(dead.lastError).toMatch(/answered 404/);
    const detail = await h.api('GET', '/api/v1/dashboard/events/azure/ev-s', undefined, READER);
    expect(detail.body.runs[0].steps[0].attempts).toHaveLength(1);
    expect(JSON.stringify(detail.body)).not.toContain(secretPath);
    expect(JSON.stringify(dead)).not.toContain(secretPath);
  });
});

describe('dashboard files', () => {
  it('says how to build the dashboard when it is missing', async () => {
    h = await startHub({ webDir: join(tempDir(), 'nothing-here') });
    const res = await fetch(`${h.url}/`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('npm run build');
  });

  it('serves index.html and hashed assets with security headers, and nothing else', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>forewarn</title>');
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(join(dir, 'secret.txt'), 'do not serve');
    h = await startHub({ webDir: dir });
    const index = await fetch(`${h.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(index.headers.get('x-frame-options')).toBe('DENY');
    expect(await index.text()).toContain('<title>forewarn</title>');
    const js = await fetch(`${h.url}/assets/index-abc123.js`);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(js.headers.get('cache-control')).toContain('immutable');
    for (const path of [
      '/assets/..%2Fsecret.txt',
      '/assets/%2e%2e%2fsecret.txt',
      '/secret.txt',
      '/assets/nope.js',
    ])
      expect((await fetch(`${h.url}${path}`)).status, path).toBe(404);
  });
});
