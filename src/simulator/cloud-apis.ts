// The clouds' control-plane APIs on the simulator's root path, where the SDKs send them (all
// three SDKs post to `/` of their endpoint): a call with X-TC-Action is Tencent CVM, one signed
// AWS4-HMAC-SHA256 is AWS EC2, anything else Alibaba ECS. Bodies are kept raw, since every
// signature covers the body's exact bytes. Azure Resource Manager calls (arm-api.ts) come under
// /subscriptions/…, as @azure/arm-compute sends them. Also the control routes (/sim/cloud/...) that show
// disks, snapshots and reinstalls and inject faults.
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { parseDuration } from '../core/time.js';
import { CLOUD_APIS, CLOUD_FAULT_KINDS, type CloudInventory } from './cloud-inventory.js';
import { armCall, tokenCall } from './arm-api.js';
import { cvmCall } from './cvm-api.js';
import { ec2Call } from './ec2-api.js';
import { ecsCall } from './ecs-api.js';
import { SimError } from './fleet.js';

export function cloudApiRoutes(inv: CloudInventory) {
  return async function routes(app: FastifyInstance): Promise<void> {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_req, raw, done) =>
      done(null, raw),
    );
    const handle = async (request: FastifyRequest, reply: FastifyReply) => {
      const req = {
        method: request.method,
        url: request.raw.url ?? '/',
        headers: request.headers,
        body: typeof request.body === 'string' ? request.body : '',
      };
      // The signatures are checked against the wall clock, as the SDKs sign with it.
      const answer =
        request.headers['x-tc-action'] !== undefined
          ? cvmCall(inv, req, Date.now())
          : String(request.headers.authorization ?? '').startsWith('AWS4-')
            ? ec2Call(inv, req, Date.now())
            : ecsCall(inv, req);
      if ('xml' in answer) return reply.code(answer.status).type('text/xml;charset=UTF-8').send(answer.body);
      if (typeof answer.body === 'string')
        return reply.code(answer.status).type('text/plain').send(answer.body);
      return reply
        .code(answer.status)
        .type('application/json;charset=utf-8')
        .send(JSON.stringify(answer.body));
    };
    app.route({ method: ['GET', 'POST'], url: '/', schema: { hide: true }, handler: handle });
    app.post('/:tenant/oauth2/v2.0/token', { schema: { hide: true } }, async (request, reply) => {
      const answer = tokenCall(
        inv,
        (request.params as { tenant: string }).tenant,
        typeof request.body === 'string' ? request.body : '',
      );
      return reply.code(answer.status).send(answer.body);
    });
    app.route({
      method: ['GET', 'PUT'],
      url: '/subscriptions/*',
      schema: { hide: true },
      handler: async (request, reply) => {
        let body: unknown;
        try {
          body = typeof request.body === 'string' && request.body ? JSON.parse(request.body) : undefined;
        } catch {
          return reply
            .code(400)
            .send({ error: { code: 'InvalidRequestContent', message: 'The request content was invalid.' } });
        }
        const answer = armCall(inv, {
          method: request.method,
          url: request.raw.url ?? '/',
          origin: `${request.protocol}://${request.headers.host ?? 'localhost'}`,
          authorization: request.headers.authorization,
          body,
        });
        return reply
          .code(answer.status)
          .headers(answer.headers ?? {})
          .type('application/json; charset=utf-8')
          .send(JSON.stringify(answer.body));
      },
    });
  };
}

const CloudFaultSchema = Type.Object(
  {
    api: Type.Union(CLOUD_APIS.map((a) => Type.Literal(a))),
    action: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2,64}$' })),
    kind: Type.Union(CLOUD_FAULT_KINDS.map((k) => Type.Literal(k))),
    after: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000 })),
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000 })),
  },
  { additionalProperties: false },
);
const CloudConfigBody = Type.Object(
  {
    snapshotDuration: Type.Optional(Type.Union([Type.String(), Type.Number({ minimum: 0 })])),
    resetDuration: Type.Optional(Type.Union([Type.String(), Type.Number({ minimum: 0 })])),
    defaultDataDisks: Type.Optional(Type.Integer({ minimum: 0, maximum: 16 })),
  },
  { additionalProperties: false },
);

function duration(value: string | number | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseDuration(value);
  } catch (err) {
    throw new SimError(400, `${field}: ${(err as Error).message}`);
  }
}

export function cloudControlRoutes(inv: CloudInventory) {
  return async function routes(base: FastifyInstance): Promise<void> {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    const tags = ['cloud'];
    const config = () => ({
      snapshotDurationMs: inv.snapshotMs,
      resetDurationMs: inv.resetMs,
      defaultDataDisks: inv.defaultDataDisks,
      // Key ids only: the secrets stay out of the API.
      accessKeyIds: { ecs: inv.keys.ecs.map((k) => k.id), cvm: inv.keys.cvm.map((k) => k.id) },
    });
    app.get('/cloud/config', { schema: { tags } }, async () => config());
    app.patch(
      '/cloud/config',
      {
        schema: {
          tags,
          body: CloudConfigBody,
          description:
            'Cloud-time durations of a snapshot and a reinstall (scaled by timeScale), data disks per new VM.',
        },
      },
      async (req) => {
        const snap = duration(req.body.snapshotDuration, 'snapshotDuration');
        const reset = duration(req.body.resetDuration, 'resetDuration');
        if (snap !== undefined) inv.snapshotMs = snap;
        if (reset !== undefined) inv.resetMs = reset;
        if (req.body.defaultDataDisks !== undefined) inv.defaultDataDisks = req.body.defaultDataDisks;
        return config();
      },
    );
    app.get(
      '/cloud/disks',
      { schema: { tags, description: 'Every Alibaba VM’s disks and AWS VM’s volumes (system first).' } },
      async () => ({
        disks: inv.disks(),
      }),
    );
    app.put(
      '/cloud/vms/:name/disks',
      {
        schema: {
          tags,
          params: Type.Object({ name: Type.String() }),
          body: Type.Object(
            { dataDisks: Type.Integer({ minimum: 0, maximum: 16 }) },
            { additionalProperties: false },
          ),
        },
      },
      async (req) => {
        inv.setDataDisks(req.params.name, req.body.dataDisks);
        return { disks: inv.disksOf(inv.requireVm(req.params.name)) };
      },
    );
    app.get(
      '/cloud/snapshots',
      { schema: { tags, description: 'Snapshots taken through the ECS API, with their state.' } },
      async () => ({
        snapshots: inv.view().snapshots,
      }),
    );
    app.get(
      '/cloud/resets',
      { schema: { tags, description: 'ResetInstance calls accepted by the CVM API, per instance.' } },
      async () => ({
        resets: inv.view().resets,
      }),
    );
    app.get('/cloud/faults', { schema: { tags } }, async () => ({ faults: inv.listFaults() }));
    app.put(
      '/cloud/faults',
      {
        schema: {
          tags,
          body: Type.Array(CloudFaultSchema, { maxItems: 100 }),
          description:
            'Replaces the control-plane faults: throttle (Throttling.User / RequestLimitExceeded), internal-error, unavailable (503), forbidden.',
        },
      },
      async (req) => {
        inv.setFaults(req.body);
        return { faults: inv.listFaults() };
      },
    );
    app.delete('/cloud/faults', { schema: { tags } }, async () => {
      inv.setFaults([]);
      return { faults: [] };
    });
  };
}
