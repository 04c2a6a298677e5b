// Replies the Alibaba and Tencent metadata servers share: plain text (garbled when a fault says
// so) and their web servers' short HTML error pages.
import type { FastifyReply } from 'fastify';
import type { CloudRequest } from './cloud-metadata.js';
import { malform } from './faults.js';

/** 200 text/plain, malformed as the request's fault decision asks. */
export function plainText(r: CloudRequest, body: string): FastifyReply {
  return r.reply
    .code(200)
    .type('text/plain')
    .send(r.fault.malformed ? malform(body, r.fault.malformed) : body);
}

/** An error as an HTML page, e.g. `page('404 Not Found')`. */
export function htmlError(r: CloudRequest, code: number, status: string, page: (status: string) => string) {
  return r.reply
    .code(code)
    .type('text/html')
    .send(page(`${code} ${status}`));
}
