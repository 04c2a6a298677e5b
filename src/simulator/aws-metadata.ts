// AWS EC2 instance metadata (metadata-apis.md §2), AEMM semantics without its deviations (§6.6):
// text/plain bodies, notice times fixed when issued, several events and a history, the TTL header
// on reads, 403 for a versioned token path and for X-Forwarded-For on the token PUT.
import type { FastifyReply } from 'fastify';
import { formatAwsEventTime, formatRfc3339Seconds } from '../core/time.js';
import type { CloudMetadataContext, CloudMetadataServer, CloudRequest } from './cloud-metadata.js';
import type { Activity } from './controller.js';
import { malform } from './faults.js';
import type { SimVm } from './fleet.js';
import { parseTtl } from './imds-tokens.js';

const TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';
const TOKEN_HEADER = 'x-aws-ec2-metadata-token';
const SCHEDULED_CODES = [
  'system-reboot',
  'instance-reboot',
  'system-maintenance',
  'instance-retirement',
  'instance-stop',
];
const SPOT_ACTIONS: Record<string, string> = {
  'spot-terminate': 'terminate',
  'spot-stop': 'stop',
  'spot-hibernate': 'hibernate',
};

/** EC2's XHTML error page, as IMDS serves it. */
function page(status: string): string {
  return (
    '<?xml version="1.0" encoding="iso-8859-1"?>\n' +
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n' +
    '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n' +
    '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n' +
    ` <head>\n  <title>${status}</title>\n </head>\n <body>\n  <h1>${status}</h1>\n </body>\n</html>\n`
  );
}

export function awsInstanceId(vm: SimVm): string {
  return `i-0${vm.id.replace(/-/g, '').slice(0, 16).toLowerCase()}`;
}

/** One entry of `events/maintenance/scheduled` or `history`. */
export function awsEventEntry(a: Activity): Record<string, string> {
  const prefix = a.status === 'Completed' ? '[Completed] ' : a.status === 'Canceled' ? '[Canceled] ' : '';
  return {
    NotBefore: formatAwsEventTime(a.notBefore),
    Code: a.type,
    Description: `${prefix}${a.description}`,
    EventId: a.eventId,
    NotAfter: formatAwsEventTime(a.notBefore + a.startedForMs),
    State: a.status === 'Completed' ? 'completed' : a.status === 'Canceled' ? 'canceled' : 'active',
  };
}

export function awsMetadata(ctx: CloudMetadataContext): CloudMetadataServer {
  const c = ctx.controller;
  const mine = (vm: SimVm, r: CloudRequest) =>
    r.fault.vanish ? [] : c.visibleTo(vm.name).filter((a) => a.provider === 'aws');

  const text = (r: CloudRequest, body: string, status = 200): FastifyReply => {
    const out = status === 200 && r.fault.malformed ? malform(body, r.fault.malformed) : body;
    return r.reply
      .code(status)
      .type('text/plain')
      .send(r.request.method === 'HEAD' ? undefined : out);
  };
  const notFound = (r: CloudRequest) => r.reply.code(404).type('text/html').send(page('404 - Not Found'));

  const token = async (r: CloudRequest): Promise<FastifyReply> => {
    if (r.request.method !== 'PUT')
      return r.reply.code(405).type('text/html').send(page('405 - Method Not Allowed'));
    if (r.request.headers['x-forwarded-for'] !== undefined)
      return r.reply.code(403).type('text/html').send(page('403 - Forbidden'));
    const ttl = parseTtl(r.request.headers[TTL_HEADER]);
    if (ttl === undefined)
      return r.reply.code(400).type('text/html').send(page('400 - Missing or Invalid Parameters'));
    return r.reply
      .code(200)
      .header(TTL_HEADER, String(ttl))
      .type('text/plain')
      .send(ctx.tokens.issue(r.vm.name, ttl));
  };

  const read = async (r: CloudRequest): Promise<FastifyReply> => {
    const { vm, path } = r;
    if (r.request.method !== 'GET' && r.request.method !== 'HEAD')
      return r.reply.code(405).type('text/html').send(page('405 - Method Not Allowed'));
    const given = r.request.headers[TOKEN_HEADER];
    if (given !== undefined) {
      const check = ctx.tokens.check(vm.name, String(given));
      if (!check.ok) return r.reply.code(401).type('text/html').send(page('401 - Unauthorized'));
      void r.reply.header(TTL_HEADER, String(check.remainingS));
    } else if (vm.httpTokens === 'required') {
      return r.reply.code(401).type('text/html').send(page('401 - Unauthorized'));
    }
    const p = path.replace(/\/+$/, '');
    const events = mine(vm, r);
    switch (p) {
      case 'meta-data':
        return text(
          r,
          ['events/', 'instance-id', 'instance-type', 'local-ipv4', 'placement/', 'spot/'].join('\n'),
        );
      case 'meta-data/instance-id':
        return text(r, awsInstanceId(vm));
      case 'meta-data/instance-type':
        return text(r, vm.vmSize.startsWith('Standard_') ? 'm5.large' : vm.vmSize);
      case 'meta-data/local-ipv4':
        return text(r, vm.privateIp);
      case 'meta-data/events/maintenance/scheduled': {
        const active = events.filter((a) => SCHEDULED_CODES.includes(a.type)).map(awsEventEntry);
        return text(r, JSON.stringify(active, null, 2));
      }
      case 'meta-data/events/maintenance/history': {
        const done = r.fault.vanish
          ? []
          : c
              .list({ vm: vm.name })
              .filter((a) => a.provider === 'aws' && SCHEDULED_CODES.includes(a.type))
              .filter((a) => a.status === 'Completed' || a.status === 'Canceled')
              .map(awsEventEntry);
        return text(r, JSON.stringify(done, null, 2));
      }
      case 'meta-data/spot/instance-action':
      case 'meta-data/spot/termination-time': {
        const spot = events.find((a) => SPOT_ACTIONS[a.type]);
        if (!spot) return notFound(r);
        if (p.endsWith('termination-time')) {
          // The legacy item is only for a termination (§2.4).
          if (spot.type !== 'spot-terminate') return notFound(r);
          return text(r, formatRfc3339Seconds(spot.notBefore));
        }
        return text(
          r,
          JSON.stringify({ action: SPOT_ACTIONS[spot.type], time: formatRfc3339Seconds(spot.notBefore) }),
        );
      }
      case 'meta-data/events/recommendations/rebalance': {
        const signal = events.find((a) => a.type === 'rebalance');
        if (!signal) return notFound(r);
        return text(r, JSON.stringify({ noticeTime: formatRfc3339Seconds(signal.createdAt) }));
      }
      default:
        return notFound(r);
    }
  };

  return {
    provider: 'aws',
    root: 'latest',
    endpoint: (path) => (path === 'api/token' ? 'aws-token' : 'aws'),
    handle: (r) => (r.path === 'api/token' ? token(r) : read(r)),
    // A token PUT on a version path is refused (§2.2); only /latest/api/token issues tokens.
    versioned: async (r) => r.reply.code(403).type('text/html').send(page('403 - Forbidden')),
  };
}
