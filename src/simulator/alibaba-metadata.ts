// Alibaba Cloud ECS instance metadata at 100.100.100.200 (metadata-apis.md §4.1): the spot
// reclamation time, and the security-hardened mode (a session token, like IMDSv2).
import type { FastifyReply } from 'fastify';
import { formatRfc3339Seconds } from '../core/time.js';
import type { CloudMetadataContext, CloudMetadataServer, CloudRequest } from './cloud-metadata.js';
import { htmlError, plainText } from './cloud-replies.js';
import type { SimVm } from './fleet.js';
import { parseTtl } from './imds-tokens.js';

const TTL_HEADER = 'x-aliyun-ecs-metadata-token-ttl-seconds';
const TOKEN_HEADER = 'x-aliyun-ecs-metadata-token';

// Alibaba's error pages are not quoted in the reference (UNVERIFIED): a short HTML page per status.
const page = (status: string) =>
  `<html>\n<head><title>${status}</title></head>\n<body>\n<center><h1>${status}</h1></center>\n</body>\n</html>\n`;

export function alibabaInstanceId(vm: SimVm): string {
  return `i-bp1${vm.id.replace(/-/g, '').slice(0, 17).toLowerCase()}`;
}

export function alibabaMetadata(ctx: CloudMetadataContext): CloudMetadataServer {
  const c = ctx.controller;
  const text = plainText;
  const fail = (r: CloudRequest, code: number, status: string) => htmlError(r, code, status, page);

  const token = async (r: CloudRequest): Promise<FastifyReply> => {
    if (r.request.method !== 'PUT') return fail(r, 405, 'Method Not Allowed');
    if (r.request.headers['x-forwarded-for'] !== undefined) return fail(r, 403, 'Forbidden');
    const ttl = parseTtl(r.request.headers[TTL_HEADER]);
    if (ttl === undefined) return fail(r, 400, 'Bad Request');
    return r.reply
      .code(200)
      .header(TTL_HEADER, String(ttl))
      .type('text/plain')
      .send(ctx.tokens.issue(r.vm.name, ttl));
  };

  const read = async (r: CloudRequest): Promise<FastifyReply> => {
    if (r.request.method !== 'GET' && r.request.method !== 'HEAD') return fail(r, 405, 'Method Not Allowed');
    const given = r.request.headers[TOKEN_HEADER];
    if (given !== undefined) {
      if (!ctx.tokens.check(r.vm.name, String(given)).ok) return fail(r, 401, 'Unauthorized');
    } else if (r.vm.httpTokens === 'required') {
      return fail(r, 401, 'Unauthorized');
    }
    switch (r.path.replace(/\/+$/, '')) {
      case 'meta-data':
        return text(r, ['instance/', 'instance-id', 'private-ipv4', 'region-id', 'zone-id'].join('\n'));
      case 'meta-data/instance-id':
        return text(r, alibabaInstanceId(r.vm));
      case 'meta-data/private-ipv4':
        return text(r, r.vm.privateIp);
      case 'meta-data/region-id':
        return text(r, r.vm.location === 'westeurope' ? 'cn-hangzhou' : r.vm.location);
      case 'meta-data/instance/spot/termination-time': {
        const spot = r.fault.vanish
          ? undefined
          : c.visibleTo(r.vm.name).find((a) => a.provider === 'alibaba' && a.type === 'spot-termination');
        // 404 means no reclamation is scheduled (§4.1).
        if (!spot) return fail(r, 404, 'Not Found');
        return text(r, formatRfc3339Seconds(spot.notBefore));
      }
      default:
        return fail(r, 404, 'Not Found');
    }
  };

  return {
    provider: 'alibaba',
    root: 'latest',
    endpoint: (path) => (path === 'api/token' ? 'alibaba-token' : 'alibaba'),
    handle: (r) => (r.path === 'api/token' ? token(r) : read(r)),
  };
}
