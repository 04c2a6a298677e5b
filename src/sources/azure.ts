// Azure Scheduled Events (metadata-apis.md §1): GET the document each poll, POST StartRequests
// to approve. The parser is strict: a document that is not exactly the documented shape is a
// failed poll, never an empty one.
import { normaliseAzureType, type MaintenanceEvent } from '../core/event.js';
import { parseAzureNotBefore, TimeFormatError, toIso } from '../core/time.js';
import { metadataRequest, retryAfterMs } from './metadata-http.js';
import { SourceError, type MaintenanceSource, type SourceDocument, type VmIdentity } from './source.js';

export const AZURE_IMDS = 'http://169.254.169.254';
export const AZURE_DEFAULT_API_VERSION = '2020-07-01';

export interface AzureSourceOptions {
  /** Base URL of the metadata service (the simulator's per-VM base for tests). */
  baseUrl?: string;
  apiVersion?: string;
  timeoutMs?: number;
  /** The VM's own name, to mark which events concern it. */
  vm: string;
}

function fail(message: string): never {
  throw new SourceError('parse', `Scheduled Events document: ${message}`);
}

/** Parses a Scheduled Events body into events as seen by `vm`. Throws SourceError('parse'). */
export function parseAzureDocument(body: string, vm: string): SourceDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    fail(`not JSON (${JSON.stringify(body.slice(0, 60))})`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) fail('not an object');
  const { DocumentIncarnation: inc, Events: events } = doc as Record<string, unknown>;
  // Microsoft's C# sample models the incarnation as a string; accept a numeric string too.
  const incarnation = typeof inc === 'string' && /^\d+$/.test(inc) ? Number(inc) : inc;
  if (typeof incarnation !== 'number' || !Number.isInteger(incarnation) || incarnation < 0) {
    fail(`DocumentIncarnation ${JSON.stringify(inc)} is not a non-negative integer`);
  }
  if (!Array.isArray(events)) fail('Events is not an array');
  return { incarnation, events: events.map((e, i) => parseAzureEvent(e, i, vm)) };
}

function parseAzureEvent(e: unknown, i: number, vm: string): MaintenanceEvent {
  if (e === null || typeof e !== 'object' || Array.isArray(e)) fail(`Events[${i}] is not an object`);
  const ev = e as Record<string, unknown>;
  const str = (key: string, optional = false): string | undefined => {
    const v = ev[key];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'string') fail(`Events[${i}].${key} is not a string`);
    return v;
  };
  const eventId = str('EventId')!;
  if (!eventId.trim()) fail(`Events[${i}].EventId is empty`);
  const eventType = str('EventType')!;
  const status = str('EventStatus')!;
  if (status !== 'Scheduled' && status !== 'Started')
    fail(`Events[${i}].EventStatus ${JSON.stringify(status)} is unknown`);
  const resources = ev.Resources;
  if (!Array.isArray(resources) || !resources.every((r) => typeof r === 'string')) {
    fail(`Events[${i}].Resources is not an array of names`);
  }
  let notBefore: number | undefined;
  try {
    notBefore = parseAzureNotBefore(str('NotBefore')!);
  } catch (err) {
    if (err instanceof TimeFormatError) fail(`Events[${i}].NotBefore: ${err.message}`);
    throw err;
  }
  const duration = ev.DurationInSeconds;
  if (duration !== undefined && (typeof duration !== 'number' || !Number.isInteger(duration))) {
    fail(`Events[${i}].DurationInSeconds is not an integer`);
  }
  const source = str('EventSource', true);
  const names = (resources as string[]).map((r) => r.replace(/^_/, ''));
  return {
    provider: 'azure',
    eventId,
    vm,
    type: normaliseAzureType(eventType) ?? 'other',
    status: status === 'Started' ? 'started' : 'scheduled',
    notBefore: notBefore === undefined ? undefined : toIso(notBefore),
    durationSeconds: duration as number | undefined,
    description: str('Description', true),
    origin: source === 'User' ? 'user' : 'platform',
    resources: names,
    raw: e,
  };
}

export class AzureScheduledEventsSource implements MaintenanceSource {
  readonly name = 'azure';
  readonly provider = 'azure' as const;
  private readonly url: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: AzureSourceOptions) {
    const base = (options.baseUrl ?? AZURE_IMDS).replace(/\/+$/, '');
    this.url = `${base}/metadata/scheduledevents?api-version=${encodeURIComponent(options.apiVersion ?? AZURE_DEFAULT_API_VERSION)}`;
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  async poll(signal?: AbortSignal): Promise<SourceDocument> {
    const res = await metadataRequest(this.url, {
      headers: { Metadata: 'true' },
      timeoutMs: this.timeoutMs,
      signal,
    });
    if (res.status !== 200) {
      throw new SourceError(
        'http',
        `Scheduled Events answered ${res.status}: ${res.body.slice(0, 200)}`,
        res.status,
        retryAfterMs(res.headers),
      );
    }
    return parseAzureDocument(res.body, this.options.vm);
  }

  /** Only the status counts: the POST body is undocumented (metadata-apis.md §1.7). */
  async approve(eventIds: string[], signal?: AbortSignal): Promise<void> {
    const res = await metadataRequest(this.url, {
      method: 'POST',
      headers: { Metadata: 'true', 'content-type': 'application/json' },
      body: JSON.stringify({ StartRequests: eventIds.map((EventId) => ({ EventId })) }),
      timeoutMs: this.timeoutMs,
      signal,
    });
    if (res.status !== 200) {
      throw new SourceError(
        'http',
        `StartRequests answered ${res.status}: ${res.body.slice(0, 200)}`,
        res.status,
      );
    }
  }
}

/** Reads the VM's identity from /metadata/instance. */
export async function identifyAzureVm(baseUrl = AZURE_IMDS, timeoutMs = 5000): Promise<VmIdentity> {
  const url = `${baseUrl.replace(/\/+$/, '')}/metadata/instance/compute?api-version=2021-02-01`;
  const res = await metadataRequest(url, { headers: { Metadata: 'true' }, timeoutMs });
  if (res.status !== 200)
    throw new SourceError('http', `instance metadata answered ${res.status}`, res.status);
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(res.body) as Record<string, unknown>;
  } catch {
    throw new SourceError('parse', 'instance metadata is not JSON');
  }
  if (typeof c?.name !== 'string' || !c.name)
    throw new SourceError('parse', 'instance metadata has no compute.name');
  const s = (k: string) => (typeof c[k] === 'string' && c[k] !== '' ? (c[k] as string) : undefined);
  const tags: Record<string, string> = {};
  if (Array.isArray(c.tagsList)) {
    for (const t of c.tagsList as { name?: unknown; value?: unknown }[]) {
      if (typeof t?.name === 'string') tags[t.name] = String(t.value ?? '');
    }
  }
  return {
    name: c.name,
    vmId: s('vmId'),
    resourceGroup: s('resourceGroupName'),
    location: s('location'),
    zone: s('zone'),
    faultDomain: s('platformFaultDomain'),
    updateDomain: s('platformUpdateDomain'),
    scaleSet: s('vmScaleSetName'),
    vmSize: s('vmSize'),
    tags,
  };
}
