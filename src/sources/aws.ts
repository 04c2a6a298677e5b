// AWS EC2 instance metadata (metadata-apis.md §2): scheduled maintenance events, the Spot
// interruption notice and the rebalance recommendation, read with IMDSv2 session tokens.
// Nothing in IMDS says an event started, so an event whose time has come is reported `started`.
import type { EventType, MaintenanceEvent } from '../core/event.js';
import { parseAwsEventTime, parseRfc3339, TimeFormatError, toIso } from '../core/time.js';
import { ImdsSession } from './imds-token.js';
import { retryAfterMs, type MetadataResponse } from './metadata-http.js';
import { SourceError, type MaintenanceSource, type SourceDocument, type VmIdentity } from './source.js';

export const AWS_IMDS = 'http://169.254.169.254';
const PATHS = {
  scheduled: '/latest/meta-data/events/maintenance/scheduled',
  spot: '/latest/meta-data/spot/instance-action',
  rebalance: '/latest/meta-data/events/recommendations/rebalance',
} as const;

export interface AwsSourceOptions {
  baseUrl?: string;
  vm: string;
  timeoutMs?: number;
  /** IMDSv2 token TTL in seconds (default 21600). */
  tokenTtlSeconds?: number;
  /** Read without a token when the token PUT fails (default false). */
  allowV1Fallback?: boolean;
  now?: () => number;
}

const CODES: Record<string, EventType> = {
  'system-reboot': 'reboot',
  'instance-reboot': 'reboot',
  'system-maintenance': 'system-maintenance',
  'instance-retirement': 'retire',
  'instance-stop': 'stop',
};
const SPOT_ACTIONS = ['hibernate', 'stop', 'terminate'];

function fail(what: string, message: string): never {
  throw new SourceError('parse', `${what}: ${message}`);
}

function json(body: string, what: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    fail(what, `not JSON (${JSON.stringify(body.slice(0, 60))})`);
  }
}

function time(parse: (s: string) => number, value: unknown, what: string): number {
  if (typeof value !== 'string') fail(what, 'is not a string');
  try {
    return parse(value);
  } catch (err) {
    if (err instanceof TimeFormatError) fail(what, err.message);
    throw err;
  }
}

const statusAt = (at: number, now: number) => (at <= now ? 'started' : 'scheduled');

/** `events/maintenance/scheduled`: a JSON array; an empty body means none (§2.3). */
export function parseAwsScheduled(body: string, vm: string, now: number): MaintenanceEvent[] {
  if (body.trim() === '') return [];
  const doc = json(body, 'events/maintenance/scheduled');
  if (!Array.isArray(doc)) fail('events/maintenance/scheduled', 'not a JSON array');
  const events: MaintenanceEvent[] = [];
  for (const [i, e] of doc.entries()) {
    const at = `events/maintenance/scheduled[${i}]`;
    if (e === null || typeof e !== 'object' || Array.isArray(e)) fail(at, 'not an object');
    const ev = e as Record<string, unknown>;
    for (const key of ['Code', 'EventId', 'State'])
      if (typeof ev[key] !== 'string' || !ev[key]) fail(at, `${key} is missing or not a string`);
    // Finished events belong in `history`; if one lingers here it is not pending.
    if (ev.State !== 'active') continue;
    const notBefore = time(parseAwsEventTime, ev.NotBefore, `${at}.NotBefore`);
    if (ev.NotAfter !== undefined) time(parseAwsEventTime, ev.NotAfter, `${at}.NotAfter`);
    if (ev.Description !== undefined && typeof ev.Description !== 'string')
      fail(at, 'Description is not a string');
    events.push({
      provider: 'aws',
      eventId: ev.EventId as string,
      vm,
      type: CODES[ev.Code as string] ?? 'other',
      status: statusAt(notBefore, now),
      notBefore: toIso(notBefore),
      description: ev.Description as string | undefined,
      origin: 'platform',
      resources: [vm],
      raw: e,
    });
  }
  return events;
}

/** `spot/instance-action`: `{"action","time"}`; the id is the VM and the notice time, fixed once issued. */
export function parseAwsSpot(body: string, vm: string, now: number): MaintenanceEvent {
  const doc = json(body, 'spot/instance-action');
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    fail('spot/instance-action', 'not an object');
  const { action, time: t } = doc as Record<string, unknown>;
  if (typeof action !== 'string' || !SPOT_ACTIONS.includes(action))
    fail('spot/instance-action', `action ${JSON.stringify(action)} is not hibernate, stop or terminate`);
  const at = time(parseRfc3339, t, 'spot/instance-action.time');
  return {
    provider: 'aws',
    eventId: `${vm}:spot-instance-action:${toIso(at)}`,
    vm,
    type: 'preempt',
    status: statusAt(at, now),
    notBefore: toIso(at),
    description: `Spot interruption: ${action}`,
    origin: 'platform',
    resources: [vm],
    raw: doc,
  };
}

/** `events/recommendations/rebalance`: `{"noticeTime"}`, a signal with no action time. */
export function parseAwsRebalance(body: string, vm: string): MaintenanceEvent {
  const doc = json(body, 'events/recommendations/rebalance');
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    fail('events/recommendations/rebalance', 'not an object');
  const at = time(parseRfc3339, (doc as Record<string, unknown>).noticeTime, 'rebalance.noticeTime');
  return {
    provider: 'aws',
    eventId: `${vm}:rebalance:${toIso(at)}`,
    vm,
    type: 'rebalance',
    status: 'scheduled',
    description: `EC2 instance rebalance recommendation, emitted ${toIso(at)}`,
    origin: 'platform',
    resources: [vm],
    raw: doc,
  };
}

export class AwsImdsSource implements MaintenanceSource {
  readonly name = 'aws';
  readonly provider = 'aws' as const;
  readonly session: ImdsSession;
  private readonly base: string;
  private readonly now: () => number;

  constructor(private readonly options: AwsSourceOptions) {
    this.base = (options.baseUrl ?? AWS_IMDS).replace(/\/+$/, '');
    this.now = options.now ?? Date.now;
    this.session = new ImdsSession({
      tokenUrl: `${this.base}/latest/api/token`,
      ttlHeader: 'X-aws-ec2-metadata-token-ttl-seconds',
      tokenHeader: 'X-aws-ec2-metadata-token',
      ttlSeconds: options.tokenTtlSeconds,
      allowV1Fallback: options.allowV1Fallback,
      timeoutMs: options.timeoutMs ?? 2000,
      now: this.now,
    });
  }

  /** Reads all three items; any failure fails the whole poll (never a partial, emptier document). */
  async poll(signal?: AbortSignal): Promise<SourceDocument> {
    const vm = this.options.vm;
    const scheduled = await this.read('scheduled', signal);
    const spot = await this.read('spot', signal);
    const rebalance = await this.read('rebalance', signal);
    const now = this.now();
    const events = scheduled === undefined ? [] : parseAwsScheduled(scheduled, vm, now);
    if (spot !== undefined) events.push(parseAwsSpot(spot, vm, now));
    if (rebalance !== undefined) events.push(parseAwsRebalance(rebalance, vm));
    return { events };
  }

  /** The body, or undefined for 404 (nothing there); anything else is a failed poll. */
  private async read(item: keyof typeof PATHS, signal?: AbortSignal): Promise<string | undefined> {
    const res: MetadataResponse = await this.session.get(`${this.base}${PATHS[item]}`, signal);
    if (res.status === 404) return undefined;
    if (res.status !== 200) {
      throw new SourceError(
        'http',
        `${PATHS[item]} answered ${res.status}: ${res.body.slice(0, 120)}`,
        res.status,
        retryAfterMs(res.headers),
      );
    }
    return res.body;
  }
}

/** This instance's id, from `meta-data/instance-id`. */
export async function identifyAwsVm(baseUrl = AWS_IMDS, timeoutMs = 2000): Promise<VmIdentity> {
  const source = new AwsImdsSource({ baseUrl, vm: '', timeoutMs, allowV1Fallback: true });
  const res = await source.session.get(`${baseUrl.replace(/\/+$/, '')}/latest/meta-data/instance-id`);
  const id = res.body.trim();
  if (res.status !== 200 || !/^i-[0-9a-f]+$/.test(id))
    throw new SourceError('http', `instance-id answered ${res.status}: ${res.body.slice(0, 60)}`, res.status);
  return { name: id };
}
