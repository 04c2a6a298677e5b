// Builds what publishers send a hub (forewarn CloudEvents, Event Grid events, SAS tokens) and
// reads what the hub stored, for the hub's ingest, rules and restart tests.
import { createHmac, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { vmSource } from '../../src/core/transition.js';
import { PostgresStore } from '../../src/store/postgres.js';
import type { SqliteStore } from '../../src/store/sqlite.js';
import { EG_KEY, READER, type TestHub } from './hub.js';
import { pgQuery } from './postgres.js';

/** The `data` of a forewarn CloudEvent: a MaintenanceEvent plus `mine`. */
export function maintenance(vm: string, overrides: Record<string, unknown> = {}): Record<string, any> {
  return {
    provider: 'azure',
    eventId: randomUUID().toUpperCase(),
    vm,
    type: 'reboot',
    status: 'scheduled',
    notBefore: new Date(Date.now() + 15 * 60_000).toISOString(),
    durationSeconds: -1,
    description: 'Host server is undergoing maintenance.',
    origin: 'platform',
    resources: [vm],
    mine: true,
    ...overrides,
  };
}

/** A structured-mode forewarn CloudEvent as the agent sends it (source = the VM, stable id). */
export function cloudEvent(
  data: Record<string, any>,
  transition = 'scheduled',
  overrides: Record<string, unknown> = {},
): Record<string, any> {
  return {
    specversion: '1.0',
    id: `${data.provider}/${data.eventId}/${transition}/${String(data.notBefore ?? '')}`,
    source: vmSource(String(data.vm)),
    type: `forewarn.maintenance.${transition}`,
    subject: `${data.provider}/${data.eventId}`,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data,
    ...overrides,
  };
}

/** An Event Grid schema event carrying a forewarn MaintenanceEvent, as the agent's EG mode sends. */
export function egEvent(
  data: Record<string, any>,
  transition = 'scheduled',
  overrides: Record<string, unknown> = {},
): Record<string, any> {
  return {
    id: `${data.eventId}-${transition}`,
    subject: `${vmSource(data.vm)}/events/${data.provider}/${data.eventId}`,
    eventType: `forewarn.maintenance.${transition}`,
    eventTime: new Date().toISOString(),
    data,
    dataVersion: '1.0',
    ...overrides,
  };
}

export interface Answer {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

export async function post(url: string, body: string, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

/** Publishes CloudEvents as a batch (`application/cloudevents-batch+json`) with a bearer token. */
export function publishBatch(h: Pick<TestHub, 'url'>, token: string, events: unknown[]): Promise<Answer> {
  return post(`${h.url}/api/v1/events`, JSON.stringify(events), {
    'content-type': 'application/cloudevents-batch+json; charset=utf-8',
    authorization: `Bearer ${token}`,
  });
}

/**
 * Publishes a batch until a hub answers 200, as an agent's outbox does while hubs are killed under
 * it; `target(attempt)` picks the hub for each try. Resolves with how many tries failed.
 */
export async function publishUntilAccepted(
  target: (attempt: number) => Pick<TestHub, 'url'>,
  token: string,
  events: unknown[],
): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      if ((await publishBatch(target(attempt), token, events)).status === 200) return attempt;
    } catch {
      // the hub died under us
    }
    await sleep(50);
  }
}

/** Publishes one CloudEvent in structured mode. */
export function publishOne(h: Pick<TestHub, 'url'>, token: string, event: unknown): Promise<Answer> {
  return post(`${h.url}/api/v1/events`, JSON.stringify(event), {
    'content-type': 'application/cloudevents+json; charset=utf-8',
    authorization: `Bearer ${token}`,
  });
}

/** .NET's en-US `M/d/yyyy h:mm:ss tt` in UTC, the expiry format of Event Grid SAS tokens. */
export function serviceTime(d: Date): string {
  const h = d.getUTCHours();
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ` +
    `${h % 12 === 0 ? 12 : h % 12}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${h < 12 ? 'AM' : 'PM'}`
  );
}

/**
 * An Event Grid SAS token built the way the Azure SDK does: `r=urlenc(resource)&e=urlenc(expiry)`
 * signed with base64 HMAC-SHA256 keyed by the base64-decoded topic key, then `&s=urlenc(signature)`.
 */
export function sasToken(endpoint: string, base64Key: string, expires: Date): string {
  const unsigned = `r=${encodeURIComponent(`${endpoint}?apiVersion=2018-01-01`)}&e=${encodeURIComponent(serviceTime(expires))}`;
  const signature = createHmac('sha256', Buffer.from(base64Key, 'base64')).update(unsigned).digest('base64');
  return `${unsigned}&s=${encodeURIComponent(signature)}`;
}

/** Row counts of everything an ingest or a run can write, read straight from the store's tables. */
export async function storeCounts(h: Pick<TestHub, 'hub'>): Promise<Record<string, number>> {
  const tables = ['events', 'transitions', 'receipts', 'runs', 'steps', 'attempts', 'commands', 'vms'];
  const store = h.hub.store;
  const counts: Record<string, number> = {};
  if (store instanceof PostgresStore) {
    const [row] = await pgQuery<Record<string, string>>(
      store.schema,
      `SELECT ${tables.map((t) => `(SELECT COUNT(*) FROM ${t}) AS ${t}`).join(', ')}`,
    );
    for (const t of tables) counts[t] = Number(row![t]);
    return counts;
  }
  const db = (store as SqliteStore).db;
  for (const table of tables) {
    counts[table] = (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  }
  return counts;
}

/** POSTs to an Event Grid route of the hub, with the topic key unless `headers` says otherwise. */
export function egPost(
  h: Pick<TestHub, 'url'>,
  path: string,
  body: unknown,
  headers: Record<string, string> = { 'aeg-sas-key': EG_KEY },
): Promise<Answer> {
  return post(`${h.url}${path}`, typeof body === 'string' ? body : JSON.stringify(body), {
    'content-type': 'application/json',
    ...headers,
  });
}

/** GET /api/v1/events/azure/<id> as a reader; expects it to exist. */
export async function eventDetail(h: TestHub, eventId: string): Promise<any> {
  const d = await h.api('GET', `/api/v1/events/azure/${eventId}`, undefined, READER);
  expect(d.status).toBe(200);
  return d.body;
}

/** Runs `refused`, checks that it answered `status` (or one of them) and left the store exactly as it was. */
export async function refusedAndNothingStored(
  h: TestHub,
  status: number | number[],
  refused: () => Promise<{ status: number; body: any }>,
): Promise<any> {
  const before = await storeCounts(h);
  const listed = (await h.api('GET', '/api/v1/events?limit=1000', undefined, READER)).body;
  const answer = await refused();
  expect([status].flat(), JSON.stringify(answer.body)).toContain(answer.status);
  expect(await storeCounts(h)).toEqual(before);
  expect((await h.api('GET', '/api/v1/events?limit=1000', undefined, READER)).body).toEqual(listed);
  return answer.body;
}
