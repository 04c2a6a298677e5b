// Two hubs on one PostgreSQL schema behave as one: an agent long-polling one replica gets a command
// queued on the other at once, a rule put through one is in force on the other, dashboards on each
// hear what the other did, and events ingested through both are acted on exactly once.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoreChange } from '../../src/store/store.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { ADMIN, OPERATOR, startHub, type TestHub } from '../helpers/hub.js';
import { cloudEvent, maintenance, publishBatch } from '../helpers/hub-publish.js';
import { dropSchema, PG_URL, pgQuery, postgresOrSkip, uniqueSchema } from '../helpers/postgres.js';
import { startRawReceiver, type RawReceiver } from '../helpers/raw-receiver.js';
import { waitFor } from '../helpers/wait.js';

const ready = await postgresOrSkip();

let a: TestHub;
let b: TestHub;
let rx: RawReceiver;
let schema: string;
const replica = async () =>
  startHub({
    store: await PostgresStore.open({ url: PG_URL, schema, poolSize: 4 }),
    releaseLeasesAtStart: false,
  });

describe.skipIf(!ready)('two hub replicas on one PostgreSQL schema', () => {
  beforeEach(async () => {
    schema = uniqueSchema('replicas');
    rx = await startRawReceiver();
    [a, b] = await Promise.all([replica(), replica()]);
  });
  afterEach(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await rx.close();
    await dropSchema(schema);
  });

  it(
    'a command queued on one replica wakes the agent long-polling the other',
    { timeout: 25_000 },
    async () => {
      // The long-poll would hold for 30 s: only the other replica's notice ends it within the test's 25 s.
      const poll = b.api('GET', '/api/v1/agents/vm-a/commands?wait=30', undefined, b.agentToken('vm-a'));
      await waitFor(() => b.hub.events.listenerCount('command') > 0, 5000);
      const queued = await a.api(
        'POST',
        '/api/v1/agents/vm-a/commands',
        { type: 'run-hook', hook: 'drain' },
        OPERATOR,
      );
      expect(queued.status).toBe(201);
      const answer = await poll;
      expect(answer.status).toBe(200);
      expect(answer.body.commands).toEqual([{ id: queued.body.id, type: 'run-hook', hook: 'drain' }]);
      // Delivered once: the agent polling either replica now gets nothing.
      expect(
        (await a.api('GET', '/api/v1/agents/vm-a/commands', undefined, a.agentToken('vm-a'))).status,
      ).toBe(204);
    },
  );

  it('a rule put through one replica acts on events ingested through both, once each', async () => {
    const heard: StoreChange[] = [];
    b.hub.events.on('change', (c) => heard.push(c));
    const rule = {
      name: 'api-rule',
      match: { types: ['reboot'] },
      steps: [{ name: 'hook', action: 'webhook', with: { url: rx.url } }],
    };
    expect((await a.api('PUT', '/api/v1/rules/api-rule', rule, ADMIN)).status).toBe(200);
    await waitFor(() => b.hub.rules.all().some((r) => r.name === 'api-rule'), 5000);
    expect(heard).toContainEqual({ kind: 'rules' });

    for (const [i, h] of [a, b, a, b].entries()) {
      const vm = `vm-${i}`;
      const events = Array.from({ length: 5 }, () => cloudEvent(maintenance(vm)));
      expect((await publishBatch(h, h.agentToken(vm), events)).status).toBe(200);
    }
    await waitFor(() => rx.successesByKey().size === 20, 15_000);
    expect(heard).toContainEqual({ kind: 'transition' });
    expect(heard).toContainEqual({ kind: 'step' });
    const steps = () =>
      pgQuery<{ n: string; ok: string }>(
        schema,
        `SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE status = 'succeeded') AS ok FROM steps`,
      );
    await waitFor(async () => (await steps())[0]!.ok === '20', 5000);
    expect(await steps()).toEqual([{ n: '20', ok: '20' }]);
    expect([...rx.successesByKey().values()].every((n) => n === 1)).toBe(true);
    expect(rx.calls).toHaveLength(20);
  });

  it('a dashboard stream on one replica is told when another replica stores a transition', async () => {
    const { ticket } = (await b.api('POST', '/api/v1/stream/tickets', undefined, ADMIN)).body;
    const ac = new AbortController();
    const res = await fetch(`${b.url}/api/v1/stream?ticket=${ticket}`, { signal: ac.signal });
    expect(res.status).toBe(200);
    let text = '';
    const reading = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body!) text += decoder.decode(chunk as Uint8Array, { stream: true });
      } catch {
        // aborted
      }
    })();
    await waitFor(() => text.includes('event: hello'), 5000);
    const vm = 'vm-dash';
    expect((await publishBatch(a, a.agentToken(vm), [cloudEvent(maintenance(vm))])).status).toBe(200);
    await waitFor(() => text.includes('event: changed'), 10_000);
    ac.abort();
    await reading;
  });
});
