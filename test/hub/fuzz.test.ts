// 10,000 random bad payloads (fast-check) at every ingest endpoint with valid auth: each is
// answered with a 4xx, never a 5xx or a dropped connection, and the store stays empty.
// Reproduce a run with FOREWARN_FUZZ_SEED=<seed printed on failure>.
import fc from 'fast-check';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, EG_KEY, OPERATOR, READER, startHub, type TestHub } from '../helpers/hub.js';
import { storeCounts } from '../helpers/hub-publish.js';
import { badIngestRequests, type FuzzRequest } from '../helpers/ingest-arbitraries.js';

const RUNS = Number(process.env.FOREWARN_FUZZ_RUNS ?? 10_000);
const SEED = Number(process.env.FOREWARN_FUZZ_SEED ?? Date.now() % 2 ** 31);
const CONCURRENCY = 4;

let h: TestHub;
let dispatcher: Agent;
beforeAll(async () => {
  h = await startHub();
  dispatcher = new Agent({ keepAliveTimeout: 10_000, connections: CONCURRENCY });
});
afterAll(async () => {
  await dispatcher.close();
  await h.close();
});

interface Outcome {
  req: FuzzRequest;
  status: number;
  text: string;
}

async function send(req: FuzzRequest): Promise<Outcome> {
  try {
    const res = await request(`${h.url}${req.path}`, {
      method: 'POST',
      headers: req.headers,
      body: typeof req.body === 'string' ? req.body : Buffer.from(req.body),
      dispatcher,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    return { req, status: res.statusCode, text: await res.body.text() };
  } catch (err) {
    return { req, status: 0, text: `request failed: ${(err as Error).message}` };
  }
}

/** Groups bad outcomes by status and message so one report shows every distinct failure. */
function summarise(bad: Outcome[]): string[] {
  const groups = new Map<string, { n: number; example: Outcome }>();
  for (const o of bad) {
    let message = o.text;
    try {
      const b = JSON.parse(o.text) as { message?: string; error?: { message?: string } };
      message = b.message ?? b.error?.message ?? o.text;
    } catch {
      // not JSON: keep the text
    }
    const defects = [...new Set(o.req.defects)].sort().join(' + ');
    const key = `${o.req.kind} [${defects}] → ${o.status} ${message.replace(/[0-9a-f-]{36}/gi, '<uuid>').slice(0, 100)}`;
    const g = groups.get(key) ?? { n: 0, example: o };
    g.n++;
    groups.set(key, g);
  }
  return [...groups].map(
    ([key, g]) =>
      `${g.n}× ${key}\n    e.g. POST ${g.example.req.path} ${JSON.stringify(g.example.req.headers['content-type'])} ${
        typeof g.example.req.body === 'string' ? g.example.req.body.slice(0, 300) : '<bytes>'
      }`,
  );
}

describe('ingest fuzz', () => {
  it(
    `answers ${RUNS} random bad payloads with 4xx and stores nothing (seed ${SEED})`,
    { timeout: 180_000 },
    async () => {
      const requests = fc.sample(
        badIngestRequests({ bearer: [h.agentToken('web-01'), OPERATOR, ADMIN], eventGridKey: EG_KEY }),
        { numRuns: RUNS, seed: SEED },
      );
      const outcomes: Outcome[] = [];
      let next = 0;
      const worker = async () => {
        while (next < requests.length) outcomes.push(await send(requests[next++]!));
      };
      const started = Date.now();
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      const elapsed = Date.now() - started;

      const kinds = new Map<string, number>();
      for (const o of outcomes) kinds.set(o.req.kind, (kinds.get(o.req.kind) ?? 0) + 1);
      console.log(
        `fuzz: ${outcomes.length} requests in ${elapsed} ms, seed ${SEED}:`,
        Object.fromEntries(kinds),
      );

      expect(outcomes).toHaveLength(RUNS);
      const bad = outcomes.filter((o) => !(o.status >= 400 && o.status < 500));
      const report = summarise(bad);
      if (report.length)
        console.error(`fuzz seed ${SEED}: requests not answered with a 4xx:\n${report.join('\n')}`);
      expect(
        bad.length,
        `seed ${SEED}; ${report.length} kinds of failure (see stderr):\n${report.join('\n')}`,
      ).toBe(0);

      // Still alive and serving, and nothing of it was stored.
      expect((await h.api('GET', '/healthz')).status).toBe(200);
      const listed = await h.api('GET', '/api/v1/events', undefined, READER);
      expect(listed.body.total).toBe(0);
      expect(await storeCounts(h)).toEqual({
        events: 0,
        transitions: 0,
        receipts: 0,
        runs: 0,
        steps: 0,
        attempts: 0,
        commands: 0,
        vms: 0,
      });
    },
  );
});
