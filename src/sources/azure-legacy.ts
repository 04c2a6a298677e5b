// The 2015 in-VM maintenance service: `{}` normally, `{"EventID","EventCreationTime"}` about five
// minutes before a reboot (metadata-apis.md §1.13). No incarnation, no status, no approval.
import type { MaintenanceEvent } from '../core/event.js';
import { parseLegacyEventTime, TimeFormatError, toIso } from '../core/time.js';
import { AZURE_IMDS } from './azure.js';
import { metadataRequest, retryAfterMs } from './metadata-http.js';
import { SourceError, type MaintenanceSource, type SourceDocument } from './source.js';

export function parseLegacyDocument(body: string, vm: string): SourceDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new SourceError(
      'parse',
      `legacy maintenance document is not JSON (${JSON.stringify(body.slice(0, 60))})`,
    );
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    throw new SourceError('parse', 'legacy maintenance document is not an object');
  const d = doc as Record<string, unknown>;
  if (Object.keys(d).length === 0) return { events: [] };
  if (typeof d.EventID !== 'string' || !d.EventID || typeof d.EventCreationTime !== 'string') {
    throw new SourceError('parse', 'legacy maintenance document has no EventID/EventCreationTime');
  }
  let created: number;
  try {
    created = parseLegacyEventTime(d.EventCreationTime);
  } catch (err) {
    if (err instanceof TimeFormatError)
      throw new SourceError('parse', `legacy EventCreationTime: ${err.message}`);
    throw err;
  }
  const event: MaintenanceEvent = {
    provider: 'azure-legacy',
    eventId: d.EventID,
    vm,
    type: 'reboot',
    status: 'scheduled',
    description: `In-VM maintenance notification created ${toIso(created)}: a reboot within about five minutes`,
    origin: 'platform',
    resources: [vm],
    raw: d,
  };
  return { events: [event] };
}

export class AzureLegacySource implements MaintenanceSource {
  readonly name = 'azure-legacy';
  readonly provider = 'azure-legacy' as const;
  private readonly url: string;

  constructor(private readonly options: { baseUrl?: string; timeoutMs?: number; vm: string }) {
    this.url = `${(options.baseUrl ?? AZURE_IMDS).replace(/\/+$/, '')}/metadata/v1/maintenance`;
  }

  async poll(signal?: AbortSignal): Promise<SourceDocument> {
    const res = await metadataRequest(this.url, { timeoutMs: this.options.timeoutMs ?? 5000, signal });
    if (res.status !== 200) {
      throw new SourceError(
        'http',
        `legacy maintenance answered ${res.status}`,
        res.status,
        retryAfterMs(res.headers),
      );
    }
    return parseLegacyDocument(res.body, this.options.vm);
  }
}
