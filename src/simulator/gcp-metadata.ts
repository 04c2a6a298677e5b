// The GCE metadata server (metadata-apis.md §3): `Metadata-Flavor: Google` required, an ETag on
// every value, and `wait_for_change` long-polls that answer at once when `last_etag` is stale and
// otherwise hold until the value changes or `timeout_sec` runs out (then: same value, same ETag).
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { FastifyReply } from 'fastify';
import { formatRfc3339Seconds } from '../core/time.js';
import type { CloudMetadataContext, CloudMetadataServer, CloudRequest } from './cloud-metadata.js';
import type { Activity } from './controller.js';
import { malform } from './faults.js';
import type { SimVm } from './fleet.js';

/** The emulator caps waits at an hour (§3.3); the real maximum is UNVERIFIED. */
export const MAX_WAIT_S = 3600;
const FLAVOR = 'Metadata-Flavor';

/** 16 hex digits, as Google prints its 64-bit ETags: here the last 8 bytes of an MD5 of the value. */
export function gcpEtag(value: string): string {
  return createHash('md5').update(value).digest('hex').slice(16);
}

export function gcpInstanceId(vm: SimVm): string {
  return BigInt(`0x${vm.id.replace(/-/g, '').slice(0, 15)}`).toString();
}

/** `upcoming-maintenance` as the metadata server shows it (snake case, `can_reschedule` a string). */
export function upcomingDocument(a: Activity | undefined): Record<string, unknown> {
  if (!a) return {};
  return {
    can_reschedule: 'true',
    latest_window_start_time: formatRfc3339Seconds(a.notBefore),
    maintenance_reasons: [a.description],
    maintenance_status: a.status === 'Started' ? 'ONGOING' : 'PENDING',
    type: 'SCHEDULED',
    window_end_time: formatRfc3339Seconds(a.notBefore + a.startedForMs),
    window_start_time: formatRfc3339Seconds(a.notBefore),
  };
}

type Value = { text: string; json: unknown };

export function gcpMetadata(ctx: CloudMetadataContext): CloudMetadataServer {
  const c = ctx.controller;

  /** The value of a key now, or undefined for an unknown key. */
  const valueOf = (vm: SimVm, key: string, vanish: boolean): Value | undefined => {
    const active = vanish ? [] : c.visibleTo(vm.name).filter((a) => a.provider === 'gcp');
    const leaf = (s: string): Value => ({ text: s, json: s });
    switch (key) {
      case 'instance/maintenance-event': {
        const m = active.find((a) => a.type === 'migrate' || a.type === 'terminate');
        return leaf(
          !m
            ? 'NONE'
            : m.type === 'migrate'
              ? 'MIGRATE_ON_HOST_MAINTENANCE'
              : 'TERMINATE_ON_HOST_MAINTENANCE',
        );
      }
      case 'instance/preempted':
        return leaf(active.some((a) => a.type === 'preempt') ? 'TRUE' : 'FALSE');
      case 'instance/upcoming-maintenance': {
        const doc = upcomingDocument(active.find((a) => a.type === 'upcoming-maintenance'));
        return { text: JSON.stringify(doc), json: doc };
      }
      case 'instance/id':
        return leaf(gcpInstanceId(vm));
      case 'instance/name':
        return leaf(vm.name);
      case 'instance/hostname':
        return leaf(`${vm.name}.c.forewarn-sim.internal`);
      case 'instance/zone':
        return leaf(
          `projects/123456789012/zones/${vm.zone && vm.zone.includes('-') ? vm.zone : 'us-central1-a'}`,
        );
      case 'instance/scheduling/on-host-maintenance':
        return leaf('MIGRATE');
      case 'instance/scheduling/preemptible':
        return leaf('FALSE');
      case 'instance/':
      case 'instance':
        return leaf(
          [
            'hostname',
            'id',
            'maintenance-event',
            'name',
            'preempted',
            'scheduling/',
            'upcoming-maintenance',
            'zone',
          ].join('\n'),
        );
      default:
        return undefined;
    }
  };

  const bad = (r: CloudRequest, code: number, message: string): FastifyReply =>
    r.reply.code(code).header(FLAVOR, 'Google').type('text/html; charset=UTF-8').send(`${message}\n`);

  return {
    provider: 'gcp',
    root: 'computeMetadata',
    endpoint: () => 'gcp',
    async handle(r) {
      const { request, reply, query } = r;
      if (request.method !== 'GET' && request.method !== 'HEAD') return bad(r, 405, 'Method not allowed');
      if (request.headers['x-forwarded-for'] !== undefined) return bad(r, 403, 'Forbidden: X-Forwarded-For');
      if (String(request.headers['metadata-flavor'] ?? '') !== 'Google')
        return bad(r, 403, 'Missing required header "Metadata-Flavor": "Google"');
      if (!r.path.startsWith('v1/')) return bad(r, 404, 'Not Found');
      const key = r.path.slice(3);
      const alt = query.get('alt') ?? 'text';
      const wait = query.get('wait_for_change') ?? 'false';
      const timeout = query.get('timeout_sec');
      if (alt !== 'text' && alt !== 'json') return bad(r, 400, `Bad request: alt=${alt}`);
      if (wait !== 'true' && wait !== 'false') return bad(r, 400, `Bad request: wait_for_change=${wait}`);
      if (timeout !== null && !/^[1-9]\d{0,6}$/.test(timeout))
        return bad(r, 400, `Bad request: timeout_sec=${timeout}`);
      let value = valueOf(r.vm, key, r.fault.vanish);
      if (!value) return bad(r, 404, 'Not Found');

      if (wait === 'true') {
        // Without last_etag, wait for the next change after this request.
        const last = query.get('last_etag') ?? gcpEtag(value.text);
        const deadline = Date.now() + Math.min(Number(timeout ?? MAX_WAIT_S), MAX_WAIT_S) * 1000;
        const gone = new AbortController();
        const onClose = () => gone.abort();
        reply.raw.once('close', onClose);
        const signal = AbortSignal.any([ctx.closing, gone.signal]);
        try {
          while (gcpEtag(value.text) === last && Date.now() < deadline && !signal.aborted) {
            await once(c, 'changed', {
              signal: AbortSignal.any([signal, AbortSignal.timeout(deadline - Date.now())]),
            }).catch(() => undefined);
            value = valueOf(r.vm, key, false)!;
          }
        } finally {
          reply.raw.off('close', onClose);
        }
      }
      const body = alt === 'json' ? JSON.stringify(value.json) : value.text;
      void reply
        .header(FLAVOR, 'Google')
        .header('ETag', gcpEtag(value.text))
        .type(alt === 'json' ? 'application/json' : 'application/text');
      return reply.code(200).send(r.fault.malformed ? malform(body, r.fault.malformed) : body);
    },
  };
}
