// The metadata services of AWS, GCP, Alibaba and Tencent VMs, behind one front: which VM, its
// cloud, the rate limit, injected faults and the request log. The paths overlap (AWS, Alibaba
// and Tencent all serve /latest/...), so the VM's provider picks the server, as on a real VM.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { alibabaMetadata } from './alibaba-metadata.js';
import { awsMetadata } from './aws-metadata.js';
import type { MetadataContext } from './azure-metadata.js';
import type { SimProvider } from './cloud-types.js';
import type { Endpoint, FaultDecision } from './faults.js';
import type { SimVm } from './fleet.js';
import { gcpMetadata } from './gcp-metadata.js';
import { pause } from './pause.js';
import type { TokenStore } from './imds-tokens.js';
import { metadataFront } from './request-log.js';
import { tencentMetadata } from './tencent-metadata.js';

export interface CloudMetadataContext extends MetadataContext {
  tokens: TokenStore;
}

/** One request, past the front: the VM, the faults decided for it, the path below the root. */
export interface CloudRequest {
  request: FastifyRequest;
  reply: FastifyReply;
  vm: SimVm;
  fault: FaultDecision;
  /** The path after `/latest/` or `/computeMetadata/`, without the query. */
  path: string;
  query: URLSearchParams;
}

/** One cloud's metadata server: one file per cloud (aws-metadata.ts, …). */
export interface CloudMetadataServer {
  provider: SimProvider;
  root: 'latest' | 'computeMetadata';
  /** Which fault endpoint a request counts as. */
  endpoint(path: string, method: string): Endpoint;
  handle(r: CloudRequest): Promise<FastifyReply>;
  /** Answers a path on a version root (`/2021-03-23/api/token`), if the cloud has that rule. */
  versioned?(r: CloudRequest, version: string): Promise<FastifyReply>;
}

export function cloudMetadataRoutes(ctx: CloudMetadataContext) {
  const servers = [awsMetadata(ctx), gcpMetadata(ctx), alibabaMetadata(ctx), tencentMetadata(ctx)];
  return async function routes(app: FastifyInstance): Promise<void> {
    const served = metadataFront(app, ctx.log);

    const dispatch = (root: CloudMetadataServer['root'], version?: string) =>
      async function handler(request: FastifyRequest, reply: FastifyReply) {
        const params = request.params as { vm?: string; '*'?: string; version?: string };
        const name = params.vm ?? ctx.defaultVm ?? ctx.controller.fleet.first()?.name;
        const vm = name ? ctx.controller.fleet.get(name) : undefined;
        if (!vm)
          return reply
            .code(404)
            .type('text/plain')
            .send(`no such VM ${JSON.stringify(name ?? '')}\n`);
        const server = servers.find((s) => s.provider === vm.provider && s.root === root);
        if (!server || (version && !server.versioned)) {
          return reply
            .code(404)
            .type('text/plain')
            .send(`${vm.name} is a VM of ${vm.provider}: it does not serve /${version ?? root}/\n`);
        }
        const raw = request.raw.url ?? '';
        const query = new URLSearchParams(raw.includes('?') ? raw.slice(raw.indexOf('?') + 1) : '');
        const path = version ? 'api/token' : (params['*'] ?? '');
        const record: { vm: string; faults?: string[] } = { vm: vm.name };
        served.set(request, record);
        if (!ctx.limiter.allow(vm.name))
          return reply.code(429).type('text/plain').send('429 - Too Many Requests\n');
        const fault = ctx.faults.decide(vm.name, server.endpoint(path, request.method));
        if (fault.labels.length) record.faults = fault.labels;
        const wait = fault.latencyMs + (fault.hangMs ?? 0);
        if (wait > 0) await pause(wait, ctx.closing, reply);
        if (fault.errorStatus) {
          if (fault.retryAfter !== undefined) void reply.header('retry-after', String(fault.retryAfter));
          return reply
            .code(fault.errorStatus)
            .type('text/plain')
            .send(`${fault.errorStatus} - Injected failure\n`);
        }
        const r: CloudRequest = { request, reply, vm, fault, path, query };
        return version ? server.versioned!(r, version) : server.handle(r);
      };

    const all = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH'] as const;
    app.route({ method: [...all], url: '/latest/*', handler: dispatch('latest') });
    app.route({ method: [...all], url: '/computeMetadata/*', handler: dispatch('computeMetadata') });
    app.route({
      method: ['PUT'],
      url: '/:version/api/token',
      handler: async (request, reply) =>
        dispatch('latest', (request.params as { version: string }).version)(request, reply),
    });
  };
}
