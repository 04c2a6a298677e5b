// A small receiving endpoint standing in for the hub until the hub issue lands: records
// CloudEvents batches, heartbeats and command results, serves queued commands by long-poll,
// and can play an Event Grid topic. `down` makes it answer 503.
import Fastify from 'fastify';

export interface ReceivedEvent {
  id: string;
  type: string;
  source: string;
  subject?: string;
  time?: string;
  specversion: string;
  data: Record<string, unknown> & { eventId: string; mine: boolean };
}

export interface HubStub {
  url: string;
  events: ReceivedEvent[];
  eventGrid: Record<string, unknown>[];
  heartbeats: Record<string, unknown>[];
  results: { id: string; body: Record<string, unknown> }[];
  requests: { path: string; auth?: string; contentType?: string }[];
  /** Answer this status to event deliveries (503 = down); undefined = accept. */
  failWith?: number;
  queue(vm: string, command: Record<string, unknown>): void;
  close(): Promise<void>;
}

export async function startHubStub(
  options: { token?: string; eventGridKey?: string } = {},
): Promise<HubStub> {
  const app = Fastify({ forceCloseConnections: true });
  const pending = new Map<string, Record<string, unknown>[]>();
  const waiters = new Map<string, () => void>();
  const stub: HubStub = {
    url: '',
    events: [],
    eventGrid: [],
    heartbeats: [],
    results: [],
    requests: [],
    queue(vm, command) {
      pending.set(vm, [...(pending.get(vm) ?? []), command]);
      waiters.get(vm)?.();
    },
    close: () => app.close(),
  };
  app.addContentTypeParser(
    ['application/cloudevents-batch+json', 'application/cloudevents+json'],
    { parseAs: 'string' },
    (_r, body, done) => {
      try {
        done(null, JSON.parse(body as string));
      } catch (err) {
        done(err as Error);
      }
    },
  );
  app.addHook('onRequest', async (req, reply) => {
    stub.requests.push({
      path: req.url,
      auth: req.headers.authorization,
      contentType: req.headers['content-type'],
    });
    if (
      req.url.startsWith('/api/') &&
      options.token &&
      req.headers.authorization !== `Bearer ${options.token}`
    ) {
      return reply.code(401).send({ error: 'bad token' });
    }
  });
  app.post('/api/v1/events', async (req, reply) => {
    if (stub.failWith) return reply.code(stub.failWith).send({ error: 'down' });
    if (!req.headers['content-type']?.startsWith('application/cloudevents-batch+json'))
      return reply.code(415).send();
    stub.events.push(...(req.body as ReceivedEvent[]));
    return reply.code(202).send();
  });
  app.post('/api/v1/agents/:vm/heartbeat', async (req) => {
    stub.heartbeats.push(req.body as Record<string, unknown>);
    return { ok: true };
  });
  app.get('/api/v1/agents/:vm/commands', async (req, reply) => {
    const vm = (req.params as { vm: string }).vm;
    const wait = Number((req.query as { wait?: string }).wait ?? 0);
    if (!pending.get(vm)?.length && wait > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(wait, 2) * 1000);
        waiters.set(vm, () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const commands = pending.get(vm) ?? [];
    pending.set(vm, []);
    if (commands.length === 0) return reply.code(204).send();
    return { commands };
  });
  app.post('/api/v1/agents/:vm/commands/:id/result', async (req) => {
    stub.results.push({ id: (req.params as { id: string }).id, body: req.body as Record<string, unknown> });
    return { ok: true };
  });
  // An Event Grid topic endpoint: aeg-sas-key and the Event Grid schema, as the real one checks.
  app.post('/api/events', async (req, reply) => {
    if (req.headers['aeg-sas-key'] !== options.eventGridKey)
      return reply.code(401).send({ error: { code: 'Unauthorized' } });
    const body = req.body;
    const valid =
      Array.isArray(body) &&
      body.every(
        (e) =>
          typeof e.id === 'string' &&
          typeof e.subject === 'string' &&
          typeof e.eventType === 'string' &&
          typeof e.eventTime === 'string' &&
          typeof e.dataVersion === 'string' &&
          'data' in e,
      );
    if (!valid) return reply.code(400).send({ error: { code: 'BadRequest' } });
    stub.eventGrid.push(...(body as Record<string, unknown>[]));
    return reply.code(200).send();
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  stub.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return stub;
}
