// Tencent Cloud CVM instance metadata (metadata-apis.md §5.1): the spot reclamation time, plain
// HTTP with no header, 404 meaning none, the body a UTC+8 local time with no zone marker.
import type { MaintenanceEvent } from '../core/event.js';
import { parseTencentTime } from '../core/time.js';
import { metadataRequest } from './metadata-http.js';
import { terminationDocument, spotTerminationEvent } from './spot-termination.js';
import { SourceError, type MaintenanceSource, type SourceDocument, type VmIdentity } from './source.js';

export const TENCENT_METADATA = 'http://metadata.tencentyun.com';
const TERMINATION = '/latest/meta-data/spot/termination-time';

export interface TencentSourceOptions {
  baseUrl?: string;
  vm: string;
  timeoutMs?: number;
  now?: () => number;
}

/** `2018-08-18 12:05:33` (UTC+8) → a spot reclamation event of this VM, id fixed by the notice time. */
export function parseTencentTermination(body: string, vm: string, now: number): MaintenanceEvent {
  return spotTerminationEvent('tencent', body, vm, now, parseTencentTime);
}

export class TencentMetadataSource implements MaintenanceSource {
  readonly name = 'tencent';
  readonly provider = 'tencent' as const;
  private readonly url: string;
  private readonly now: () => number;

  constructor(private readonly options: TencentSourceOptions) {
    this.url = `${(options.baseUrl ?? TENCENT_METADATA).replace(/\/+$/, '')}${TERMINATION}`;
    this.now = options.now ?? Date.now;
  }

  async poll(signal?: AbortSignal): Promise<SourceDocument> {
    const res = await metadataRequest(this.url, { timeoutMs: this.options.timeoutMs ?? 2000, signal });
    return terminationDocument(res, (body) => parseTencentTermination(body, this.options.vm, this.now()));
  }
}

export async function identifyTencentVm(baseUrl = TENCENT_METADATA, timeoutMs = 2000): Promise<VmIdentity> {
  const res = await metadataRequest(`${baseUrl.replace(/\/+$/, '')}/latest/meta-data/instance-id`, {
    timeoutMs,
  });
  const id = res.body.trim();
  if (res.status !== 200 || !/^ins-[0-9a-z]+$/.test(id))
    throw new SourceError('http', `instance-id answered ${res.status}: ${res.body.slice(0, 60)}`, res.status);
  return { name: id };
}
