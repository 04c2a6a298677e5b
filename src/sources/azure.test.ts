// The Azure parsers are strict (a document that is not the documented shape is a failed poll,
// never an empty one), and metadata HTTP goes straight to the service: no proxy, a timeout, a cap.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EnvHttpProxyAgent, getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { parseLegacyDocument } from './azure-legacy.js';
import { AzureScheduledEventsSource, parseAzureDocument } from './azure.js';
import { metadataRequest, retryAfterMs } from './metadata-http.js';
import { SourceError } from './source.js';

const VM = 'web-01';

function azureEvent(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    EventId: '602d9444-d2cd-49c7-8624-8643e7171297',
    EventType: 'Reboot',
    ResourceType: 'VirtualMachine',
    Resources: ['web-01', 'web-02'],
    EventStatus: 'Scheduled',
    NotBefore: 'Mon, 19 Sep 2016 18:29:47 GMT',
    Description: 'Virtual machine is going to be restarted as requested by authorized user.',
    EventSource: 'User',
    DurationInSeconds: 5,
    ...extra,
  };
}
const body = (d: unknown) => JSON.stringify(d);
const one = (extra: Record<string, unknown> = {}) =>
  body({ DocumentIncarnation: 2, Events: [azureEvent(extra)] });

/** Runs `fn` and returns the SourceError it throws (fails the test otherwise). */
function parseError(fn: () => unknown): SourceError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SourceError);
    return err as SourceError;
  }
  throw new Error('expected a SourceError, nothing was thrown');
}

async function requestError(p: Promise<unknown>): Promise<SourceError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SourceError);
  return err as SourceError;
}

describe('parseAzureDocument: valid documents', () => {
  it('parses every field of a 2020-07-01 event', () => {
    const doc = parseAzureDocument(one(), VM);
    expect(doc.incarnation).toBe(2);
    expect(doc.events).toEqual([
      {
        provider: 'azure',
        eventId: '602d9444-d2cd-49c7-8624-8643e7171297',
        vm: VM,
        type: 'reboot',
        status: 'scheduled',
        notBefore: '2016-09-19T18:29:47.000Z',
        durationSeconds: 5,
        description: 'Virtual machine is going to be restarted as requested by authorized user.',
        origin: 'user',
        resources: ['web-01', 'web-02'],
        raw: azureEvent(),
      },
    ]);
  });

  it('accepts a numeric-string incarnation (Microsoft’s C# sample) and an empty Events', () => {
    expect(parseAzureDocument(body({ DocumentIncarnation: '17', Events: [] }), VM)).toEqual({
      incarnation: 17,
      events: [],
    });
    expect(parseAzureDocument(body({ DocumentIncarnation: 0, Events: [] }), VM).incarnation).toBe(0);
  });

  it('leaves missing optional fields undefined and reads a Started event’s empty NotBefore', () => {
    const minimal = {
      EventId: 'E1',
      EventType: 'Freeze',
      Resources: [VM],
      EventStatus: 'Started',
      NotBefore: '',
    };
    const [e] = parseAzureDocument(body({ DocumentIncarnation: 3, Events: [minimal] }), VM).events;
    expect(e).toMatchObject({ eventId: 'E1', type: 'freeze', status: 'started', origin: 'platform' });
    expect(e!.notBefore).toBeUndefined();
    expect(e!.durationSeconds).toBeUndefined();
    expect(e!.description).toBeUndefined();
    expect(e!.raw).toEqual(minimal);
  });

  it('strips the 2017-03-01 leading underscore from Resources and keeps the raw names', () => {
    const [e] = parseAzureDocument(one({ Resources: ['_web-01', '_web-02'] }), VM).events;
    expect(e!.resources).toEqual(['web-01', 'web-02']);
    expect((e!.raw as { Resources: string[] }).Resources).toEqual(['_web-01', '_web-02']);
  });

  it('keeps an unknown EventType as type "other" with the provider’s word in raw', () => {
    const [e] = parseAzureDocument(one({ EventType: 'LiveMigrate' }), VM).events;
    expect(e!.type).toBe('other');
    expect((e!.raw as { EventType: string }).EventType).toBe('LiveMigrate');
  });

  it('normalises every known type; platform is the default origin', () => {
    const types = ['Freeze', 'Reboot', 'Redeploy', 'Preempt', 'Terminate'];
    const doc = parseAzureDocument(
      body({
        DocumentIncarnation: 1,
        Events: types.map((t, i) => azureEvent({ EventId: `E${i}`, EventType: t, EventSource: 'Platform' })),
      }),
      VM,
    );
    expect(doc.events.map((e) => e.type)).toEqual(['freeze', 'reboot', 'redeploy', 'preempt', 'terminate']);
    expect(doc.events.every((e) => e.origin === 'platform')).toBe(true);
  });

  it('accepts any weekday in NotBefore (Azure’s own docs show wrong ones)', () => {
    const [e] = parseAzureDocument(one({ NotBefore: 'Fri, 19 Sep 2016 18:29:47 GMT' }), VM).events;
    expect(e!.notBefore).toBe('2016-09-19T18:29:47.000Z');
  });
});

describe('parseAzureDocument: malformed documents are parse errors naming the field', () => {
  const cases: [string, string, RegExp][] = [
    ['not JSON', '{"DocumentIncarnation": 2, "Eve', /not JSON/],
    ['HTML', '<html><body>502 Bad Gateway</body></html>', /not JSON/],
    ['empty body', '', /not JSON/],
    ['JSON null', 'null', /not an object/],
    ['an array', '[]', /not an object/],
    ['a string', '"hello"', /not an object/],
    ['missing incarnation', body({ Events: [] }), /DocumentIncarnation/],
    ['negative incarnation', body({ DocumentIncarnation: -1, Events: [] }), /DocumentIncarnation -1/],
    ['float incarnation', body({ DocumentIncarnation: 1.5, Events: [] }), /DocumentIncarnation 1\.5/],
    ['word incarnation', body({ DocumentIncarnation: 'seven', Events: [] }), /DocumentIncarnation "seven"/],
    ['negative string incarnation', body({ DocumentIncarnation: '-3', Events: [] }), /DocumentIncarnation/],
    ['missing Events', body({ DocumentIncarnation: 1 }), /Events is not an array/],
    ['Events an object', body({ DocumentIncarnation: 1, Events: { EventId: 42 } }), /Events is not an array/],
    [
      'an event not an object',
      body({ DocumentIncarnation: 1, Events: ['x'] }),
      /Events\[0\] is not an object/,
    ],
    ['missing EventId', one({ EventId: undefined }), /Events\[0\]\.EventId/],
    ['numeric EventId', one({ EventId: 42 }), /Events\[0\]\.EventId/],
    ['empty EventId', one({ EventId: '  ' }), /Events\[0\]\.EventId is empty/],
    ['missing EventType', one({ EventType: undefined }), /Events\[0\]\.EventType/],
    ['missing EventStatus', one({ EventStatus: undefined }), /Events\[0\]\.EventStatus/],
    ['EventStatus Completed', one({ EventStatus: 'Completed' }), /Events\[0\]\.EventStatus "Completed"/],
    ['EventStatus lower case', one({ EventStatus: 'scheduled' }), /Events\[0\]\.EventStatus/],
    ['missing Resources', one({ Resources: undefined }), /Events\[0\]\.Resources/],
    ['Resources a string', one({ Resources: 'web-01' }), /Events\[0\]\.Resources/],
    ['Resources with a number', one({ Resources: ['web-01', 7] }), /Events\[0\]\.Resources/],
    ['missing NotBefore', one({ NotBefore: undefined }), /Events\[0\]\.NotBefore/],
    ['ISO NotBefore', one({ NotBefore: '2016-09-19T18:29:47Z' }), /Events\[0\]\.NotBefore/],
    ['impossible NotBefore', one({ NotBefore: 'Mon, 31 Feb 2016 18:29:47 GMT' }), /Events\[0\]\.NotBefore/],
    ['float DurationInSeconds', one({ DurationInSeconds: 1.5 }), /Events\[0\]\.DurationInSeconds/],
    ['string DurationInSeconds', one({ DurationInSeconds: '5' }), /Events\[0\]\.DurationInSeconds/],
    ['numeric Description', one({ Description: 5 }), /Events\[0\]\.Description/],
  ];
  it.each(cases)('%s', (_name, text, message) => {
    const err = parseError(() => parseAzureDocument(text, VM));
    expect(err.kind).toBe('parse');
    expect(err.message).toMatch(/^Scheduled Events document: /);
    expect(err.message).toMatch(message);
  });

  it('names the index of the bad event, not only the first', () => {
    const text = body({
      DocumentIncarnation: 1,
      Events: [azureEvent(), azureEvent({ EventStatus: 'Done' })],
    });
    expect(parseError(() => parseAzureDocument(text, VM)).message).toMatch(/Events\[1\]\.EventStatus/);
  });
});

describe('parseLegacyDocument', () => {
  it('reads {} as no events', () => {
    expect(parseLegacyDocument('{}', VM)).toEqual({ events: [] });
  });

  it('reads an event as a Scheduled reboot of this VM with no incarnation', () => {
    const raw = { EventID: 'a1b2c3', EventCreationTime: '9/15/2015 6:42:51 PM' };
    const doc = parseLegacyDocument(body(raw), VM);
    expect(doc.incarnation).toBeUndefined();
    expect(doc.events).toEqual([
      {
        provider: 'azure-legacy',
        eventId: 'a1b2c3',
        vm: VM,
        type: 'reboot',
        status: 'scheduled',
        description: expect.stringContaining('2015-09-15T18:42:51.000Z'),
        origin: 'platform',
        resources: [VM],
        raw,
      },
    ]);
  });

  const cases: [string, string, RegExp][] = [
    ['not JSON', '{"EventID": "a', /not JSON/],
    ['empty body', '', /not JSON/],
    ['an array', '[]', /not an object/],
    ['JSON null', 'null', /not an object/],
    ['missing EventID', body({ EventCreationTime: '9/15/2015 6:42:51 AM' }), /EventID/],
    ['empty EventID', body({ EventID: '', EventCreationTime: '9/15/2015 6:42:51 AM' }), /EventID/],
    ['numeric EventID', body({ EventID: 5, EventCreationTime: '9/15/2015 6:42:51 AM' }), /EventID/],
    ['missing EventCreationTime', body({ EventID: 'a' }), /EventCreationTime/],
    [
      'ISO EventCreationTime',
      body({ EventID: 'a', EventCreationTime: '2015-09-15T06:42:51Z' }),
      /EventCreationTime/,
    ],
    ['hour 13 PM', body({ EventID: 'a', EventCreationTime: '9/15/2015 13:42:51 PM' }), /EventCreationTime/],
  ];
  it.each(cases)('%s is a parse error naming the field', (_name, text, message) => {
    const err = parseError(() => parseLegacyDocument(text, VM));
    expect(err.kind).toBe('parse');
    expect(err.message).toMatch(/legacy/);
    expect(err.message).toMatch(message);
  });
});

// ---- metadata HTTP against a real local server ----

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const servers: Server[] = [];
const seen: { url?: string; headers: IncomingMessage['headers']; method?: string }[] = [];

async function serve(handler: Handler): Promise<string> {
  const server = createServer((req, res) => {
    seen.push({ url: req.url, headers: req.headers, method: req.method });
    handler(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

afterEach(async () => {
  seen.length = 0;
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

describe('metadataRequest', () => {
  const PROXY_VARS = ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'NO_PROXY', 'no_proxy'];

  it('goes straight to the service even with HTTP_PROXY/HTTPS_PROXY/http_proxy set', async () => {
    const saved = Object.fromEntries(PROXY_VARS.map((k) => [k, process.env[k]]));
    const savedDispatcher = getGlobalDispatcher();
    try {
      for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'])
        process.env[k] = 'http://127.0.0.1:9';
      delete process.env.NO_PROXY;
      delete process.env.no_proxy;
      // As if the process honoured the proxy variables everywhere (undici's env-proxy dispatcher).
      setGlobalDispatcher(new EnvHttpProxyAgent());
      const url = await serve((_req, res) => res.end('{"DocumentIncarnation":1,"Events":[]}'));
      const res = await metadataRequest(`${url}/metadata/scheduledevents?api-version=2020-07-01`, {
        headers: { Metadata: 'true' },
        timeoutMs: 2000,
      });
      expect(res.status).toBe(200);
      expect(res.body).toBe('{"DocumentIncarnation":1,"Events":[]}');
      // A proxied request would carry the absolute URL in its request line.
      expect(seen[0]!.url).toBe('/metadata/scheduledevents?api-version=2020-07-01');
      expect(seen[0]!.headers.metadata).toBe('true');
    } finally {
      setGlobalDispatcher(savedDispatcher);
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('times out as SourceError "timeout" when the service never answers', async () => {
    const url = await serve(() => undefined); // holds the request open
    const t0 = performance.now();
    const err = await requestError(metadataRequest(`${url}/x`, { timeoutMs: 150 }));
    expect(err.kind).toBe('timeout');
    expect(err.message).toMatch(/within 150 ms/);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('times out when the headers come but the body stalls', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"DocumentIncarnation":');
    });
    const err = await requestError(metadataRequest(`${url}/x`, { timeoutMs: 200 }));
    expect(err.kind).toBe('timeout');
  });

  it('stops an aborted request when the caller’s signal fires', async () => {
    const url = await serve(() => undefined);
    const abort = new AbortController();
    const p = metadataRequest(`${url}/x`, { timeoutMs: 10_000, signal: abort.signal });
    setTimeout(() => abort.abort(), 50);
    const err = await requestError(p);
    expect(err.kind).not.toBe('timeout');
  });

  it('refuses an oversized body as a parse error', async () => {
    const url = await serve((_req, res) => res.end('x'.repeat(4096)));
    const err = await requestError(metadataRequest(`${url}/x`, { timeoutMs: 2000, maxBytes: 1024 }));
    expect(err.kind).toBe('parse');
    expect(err.message).toMatch(/larger than 1024 bytes/);
  });

  it('caps bodies at 1 MiB by default', async () => {
    const url = await serve((_req, res) => res.end(Buffer.alloc(1024 * 1024 + 10, 0x20)));
    const err = await requestError(metadataRequest(`${url}/x`, { timeoutMs: 5000 }));
    expect(err.kind).toBe('parse');
  });

  it('reports an unreachable service as SourceError "network"', async () => {
    const port = await closedPort();
    const err = await requestError(metadataRequest(`http://127.0.0.1:${port}/x`, { timeoutMs: 2000 }));
    expect(err.kind).toBe('network');
    expect(err.message).toMatch(/cannot reach/);
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  it.each([
    ['seconds', '120', 120_000],
    ['seconds with spaces', ' 5 ', 5000],
    ['zero', '0', 0],
    ['an HTTP date', 'Wed, 01 May 2024 12:00:30 GMT', 30_000],
    ['a past HTTP date', 'Wed, 01 May 2024 11:00:00 GMT', 0],
    ['garbage', 'soon', undefined],
    ['empty', '', undefined],
  ])('%s', (_name, value, expected) => {
    expect(retryAfterMs({ 'retry-after': value }, now)).toBe(expected);
  });
  it('takes the first of repeated headers, and undefined when there is none', () => {
    expect(retryAfterMs({ 'retry-after': ['3', '10'] }, now)).toBe(3000);
    expect(retryAfterMs({}, now)).toBeUndefined();
  });
});

describe('AzureScheduledEventsSource over HTTP', () => {
  it('GETs the default api-version with Metadata: true and parses the answer', async () => {
    const url = await serve((_req, res) => res.end(one()));
    const source = new AzureScheduledEventsSource({ baseUrl: `${url}/`, vm: VM, timeoutMs: 2000 });
    const doc = await source.poll();
    expect(doc.events.map((e) => e.eventId)).toEqual(['602d9444-d2cd-49c7-8624-8643e7171297']);
    expect(seen[0]).toMatchObject({
      method: 'GET',
      url: '/metadata/scheduledevents?api-version=2020-07-01',
      headers: { metadata: 'true' },
    });
  });

  it('a non-200 answer is SourceError "http" with its status and Retry-After', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(429, { 'retry-after': '7' });
      res.end('{"error":"Too many requests"}');
    });
    const source = new AzureScheduledEventsSource({ baseUrl: url, vm: VM, timeoutMs: 2000 });
    const err = await requestError(source.poll());
    expect(err).toMatchObject({ kind: 'http', status: 429, retryAfterMs: 7000 });
  });

  it('a 200 with a garbled body is SourceError "parse", never an empty document', async () => {
    const url = await serve((_req, res) => res.end('{"DocumentIncarnation":3,"Events":[{"Event'));
    const source = new AzureScheduledEventsSource({ baseUrl: url, vm: VM, timeoutMs: 2000 });
    expect((await requestError(source.poll())).kind).toBe('parse');
  });

  it('approve POSTs StartRequests with the ids', async () => {
    let posted = '';
    const url = await serve((req, res) => {
      req.setEncoding('utf8');
      req.on('data', (c: string) => (posted += c));
      req.on('end', () => res.end());
    });
    const source = new AzureScheduledEventsSource({ baseUrl: url, vm: VM, timeoutMs: 2000 });
    await source.approve(['E1', 'E2']);
    expect(seen[0]).toMatchObject({ method: 'POST', headers: { metadata: 'true' } });
    expect(JSON.parse(posted)).toEqual({ StartRequests: [{ EventId: 'E1' }, { EventId: 'E2' }] });
  });
});
