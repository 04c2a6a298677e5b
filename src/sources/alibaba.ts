// Alibaba Cloud ECS instance metadata at 100.100.100.200 (metadata-apis.md §4.1): the spot
// reclamation time, 404 meaning none. In security-hardened mode reads carry a session token,
// fetched like IMDSv2's. ECS has no metadata path for scheduled system events: those arrive as
// CloudMonitor/EventBridge pushes to the hub.
import type { MaintenanceEvent } from '../core/event.js';
import { parseRfc3339 } from '../core/time.js';
import { ImdsSession } from './imds-token.js';
import { metadataRequest } from './metadata-http.js';
import { terminationDocument, spotTerminationEvent } from './spot-termination.js';
import { SourceError, type MaintenanceSource, type SourceDocument, type VmIdentity } from './source.js';

export const ALIBABA_METADATA = 'http://100.100.100.200';
const TERMINATION = '/latest/meta-data/instance/spot/termination-time';

export interface AlibabaSourceOptions {
  baseUrl?: string;
  vm: string;
  timeoutMs?: number;
  /** Hardened mode: read with a session token (default true; falls back to plain reads if allowed). */
  token?: boolean;
  tokenTtlSeconds?: number;
  allowV1Fallback?: boolean;
  now?: () => number;
}

/** `2015-01-05T18:02:00Z` → a spot reclamation event of this VM, id fixed by the notice time. */
export function parseAlibabaTermination(body: string, vm: string, now: number): MaintenanceEvent {
  return spotTerminationEvent('alibaba', body, vm, now, parseRfc3339);
}

export class AlibabaMetadataSource implements MaintenanceSource {
  readonly name = 'alibaba';
  readonly provider = 'alibaba' as const;
  readonly session?: ImdsSession;
  private readonly base: string;
  private readonly now: () => number;

  constructor(private readonly options: AlibabaSourceOptions) {
    this.base = (options.baseUrl ?? ALIBABA_METADATA).replace(/\/+$/, '');
    this.now = options.now ?? Date.now;
    if (options.token !== false) {
      this.session = new ImdsSession({
        tokenUrl: `${this.base}/latest/api/token`,
        ttlHeader: 'X-aliyun-ecs-metadata-token-ttl-seconds',
        tokenHeader: 'X-aliyun-ecs-metadata-token',
        ttlSeconds: options.tokenTtlSeconds,
        allowV1Fallback: options.allowV1Fallback,
        timeoutMs: options.timeoutMs ?? 2000,
        now: this.now,
      });
    }
  }

  async poll(signal?: AbortSignal): Promise<SourceDocument> {
    const url = `${this.base}${TERMINATION}`;
    const res = this.session
      ? await this.session.get(url, signal)
      : await metadataRequest(url, { timeoutMs: this.options.timeoutMs ?? 2000, signal });
    return terminationDocument(res, (body) => parseAlibabaTermination(body, this.options.vm, this.now()));
  }
}

/** This instance's id, from `meta-data/instance-id` (token-less; hardened mode then needs `vm` in config). */
export async function identifyAlibabaVm(baseUrl = ALIBABA_METADATA, timeoutMs = 2000): Promise<VmIdentity> {
  const source = new AlibabaMetadataSource({ baseUrl, vm: '', timeoutMs, allowV1Fallback: true });
  const res = await source.session!.get(`${baseUrl.replace(/\/+$/, '')}/latest/meta-data/instance-id`);
  const id = res.body.trim();
  if (res.status !== 200 || !/^i-[0-9a-z]+$/.test(id))
    throw new SourceError('http', `instance-id answered ${res.status}: ${res.body.slice(0, 60)}`, res.status);
  return { name: id };
}
