// Which metadata sources an agent watches, and how it learns its VM's name, by cloud
// (config `source.provider`). Each cloud's details live in its file under src/sources/.
import type { Provider } from '../core/event.js';
import { AlibabaMetadataSource, identifyAlibabaVm } from '../sources/alibaba.js';
import { AwsImdsSource, identifyAwsVm } from '../sources/aws.js';
import { AzureLegacySource } from '../sources/azure-legacy.js';
import { AzureScheduledEventsSource, identifyAzureVm } from '../sources/azure.js';
import { GcpMetadataSource, identifyGcpVm } from '../sources/gcp.js';
import type { MaintenanceSource, VmIdentity } from '../sources/source.js';
import { identifyTencentVm, TencentMetadataSource } from '../sources/tencent.js';
import type { ResolvedAgentConfig } from './config.js';
import type { TrackerOptions } from './tracker.js';

export interface SourceEntry {
  source: MaintenanceSource;
  tracker?: TrackerOptions;
}

export function buildSources(config: ResolvedAgentConfig, vm: string): SourceEntry[] {
  const base = { baseUrl: config.metadataUrl, timeoutMs: config.metadataTimeoutMs, vm };
  const o = config.source;
  switch (config.provider) {
    case 'aws':
      return [
        {
          source: new AwsImdsSource({
            ...base,
            tokenTtlSeconds: o.tokenTtlSeconds,
            allowV1Fallback: o.v1Fallback,
          }),
        },
      ];
    case 'gcp': {
      const gcp = {
        ...base,
        // The request timeout is on top of the long-poll wait.
        waitSeconds: o.longPollSeconds,
        terminateNoticeSeconds: o.terminateNoticeSeconds,
      };
      // A GCP notice ends only by happening: gone means completed, whatever the estimated NotBefore.
      const sources: SourceEntry[] = [
        { source: new GcpMetadataSource(gcp), tracker: { disappearance: 'completed' } },
      ];
      if (o.upcoming !== false)
        sources.push({ source: new GcpMetadataSource({ ...gcp, watch: 'upcoming' }) });
      return sources;
    }
    case 'alibaba':
      return [
        {
          source: new AlibabaMetadataSource({
            ...base,
            token: o.token,
            tokenTtlSeconds: o.tokenTtlSeconds,
            allowV1Fallback: o.v1Fallback,
          }),
        },
      ];
    case 'tencent':
      return [{ source: new TencentMetadataSource(base) }];
    case 'azure':
    case 'azure-legacy': {
      const sources: SourceEntry[] = [];
      if (config.scheduledEvents)
        sources.push({ source: new AzureScheduledEventsSource({ ...base, apiVersion: config.apiVersion }) });
      // The 2015 service shows no status: a vanished event is always over, never canceled.
      if (config.legacy)
        sources.push({ source: new AzureLegacySource(base), tracker: { disappearance: 'completed' } });
      return sources;
    }
  }
}

/** The VM's identity as its cloud's metadata service tells it. */
export function identifyVm(provider: Provider, url: string, timeoutMs: number): Promise<VmIdentity> {
  switch (provider) {
    case 'aws':
      return identifyAwsVm(url, timeoutMs);
    case 'gcp':
      return identifyGcpVm(url, timeoutMs);
    case 'alibaba':
      return identifyAlibabaVm(url, timeoutMs);
    case 'tencent':
      return identifyTencentVm(url, timeoutMs);
    case 'azure':
    case 'azure-legacy':
      return identifyAzureVm(url, timeoutMs);
  }
}
