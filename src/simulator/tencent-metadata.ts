// Tencent Cloud CVM instance metadata at metadata.tencentyun.com (metadata-apis.md §5.1): the spot
// reclamation time, as local time in UTC+8 with no zone marker. No header, no token.
import { formatTencentTime } from '../core/time.js';
import type { CloudMetadataContext, CloudMetadataServer, CloudRequest } from './cloud-metadata.js';
import { htmlError, plainText } from './cloud-replies.js';
import type { SimVm } from './fleet.js';

// Tencent's error pages are not quoted in the reference (UNVERIFIED): a short HTML page per status.
const page = (status: string) =>
  `<html>\n<head><title>${status}</title></head>\n<body>\n<h1>${status}</h1>\n</body>\n</html>\n`;

export function tencentInstanceId(vm: SimVm): string {
  return `ins-${vm.id.replace(/-/g, '').slice(0, 8).toLowerCase()}`;
}

export function tencentMetadata(ctx: CloudMetadataContext): CloudMetadataServer {
  const c = ctx.controller;
  const text = plainText;
  const fail = (r: CloudRequest, code: number, status: string) => htmlError(r, code, status, page);

  return {
    provider: 'tencent',
    root: 'latest',
    endpoint: () => 'tencent',
    async handle(r) {
      if (r.request.method !== 'GET' && r.request.method !== 'HEAD')
        return fail(r, 405, 'Method Not Allowed');
      switch (r.path.replace(/\/+$/, '')) {
        case 'meta-data':
          return text(r, ['instance-id', 'local-ipv4', 'placement/', 'spot/'].join('\n'));
        case 'meta-data/instance-id':
          return text(r, tencentInstanceId(r.vm));
        case 'meta-data/local-ipv4':
          return text(r, r.vm.privateIp);
        case 'meta-data/spot/termination-time': {
          const spot = r.fault.vanish
            ? undefined
            : c.visibleTo(r.vm.name).find((a) => a.provider === 'tencent' && a.type === 'spot-termination');
          // 404: not a spot instance, or reclamation not triggered (§5.1).
          if (!spot) return fail(r, 404, 'Not Found');
          return text(r, formatTencentTime(spot.notBefore));
        }
        default:
          return fail(r, 404, 'Not Found');
      }
    },
  };
}
