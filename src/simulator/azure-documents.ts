// Renders what a VM's metadata service returns. Pure: activities and VM in, JSON out.
import { formatLegacyEventTime, formatRfc1123 } from '../core/time.js';
import type { ScheduledEventsVersion } from './azure-versions.js';
import type { Activity } from './controller.js';
import type { SimVm } from './fleet.js';
import { LEGACY_NOTICE_MS } from './timing.js';

export interface AzureScheduledEvent {
  EventId: string;
  EventType: string;
  ResourceType: 'VirtualMachine';
  Resources: string[];
  EventStatus: 'Scheduled' | 'Started';
  NotBefore: string;
  Description?: string;
  EventSource?: string;
  DurationInSeconds?: number;
}

export interface AzureScheduledEventsDocument {
  DocumentIncarnation: number;
  Events: AzureScheduledEvent[];
}

/** Only the fields and event types the requested api-version knows. */
export function renderScheduledEvents(
  activities: Activity[],
  incarnation: number,
  version: ScheduledEventsVersion,
): AzureScheduledEventsDocument {
  const events = activities
    .filter(
      (a) =>
        a.provider === 'azure' &&
        (version.types as readonly string[]).includes(a.type) &&
        (a.status === 'Scheduled' || a.status === 'Started'),
    )
    .map((a) => {
      const e: AzureScheduledEvent = {
        EventId: a.eventId,
        EventType: a.type,
        ResourceType: 'VirtualMachine',
        Resources: a.resources.map((r) => (version.underscoreNames ? `_${r}` : r)),
        EventStatus: a.status as 'Scheduled' | 'Started',
        NotBefore: a.status === 'Started' ? '' : formatRfc1123(a.notBefore),
      };
      if (version.description) e.Description = a.description;
      if (version.eventSource) e.EventSource = a.source;
      if (version.durationInSeconds) e.DurationInSeconds = a.durationSeconds;
      return e;
    });
  return { DocumentIncarnation: incarnation, Events: events };
}

/**
 * The 2015 in-VM service: `{}` normally, one event object from about five minutes (scaled)
 * before a reboot of this VM until it is over.
 */
export function renderLegacyMaintenance(
  activities: Activity[],
  vm: string,
  now: number,
  timeScale: number,
): Record<string, string> {
  const window = LEGACY_NOTICE_MS / timeScale;
  const due = activities
    .filter(
      (a) =>
        a.provider === 'azure' && (a.type === 'Reboot' || a.type === 'Redeploy') && a.resources.includes(vm),
    )
    .filter((a) => a.status === 'Started' || (a.status === 'Scheduled' && a.notBefore - now <= window))
    .sort((x, y) => x.notBefore - y.notBefore)[0];
  if (!due) return {};
  return { EventID: due.eventId.toLowerCase(), EventCreationTime: formatLegacyEventTime(due.createdAt) };
}

export function renderLegacyInstanceInfo(vm: SimVm): Record<string, string> {
  return { ID: `_${vm.name}`, UD: String(vm.updateDomain), FD: String(vm.faultDomain) };
}

/** `/metadata/instance`: enough compute identity for an agent to know which VM it runs on. */
export function renderInstance(vm: SimVm, version: string): Record<string, unknown> {
  const tags = Object.entries(vm.tags);
  const resourceId =
    `/subscriptions/${vm.subscriptionId}/resourceGroups/${vm.resourceGroup}` +
    `/providers/Microsoft.Compute/virtualMachines/${vm.name}`;
  const compute: Record<string, unknown> = {
    azEnvironment: 'AzurePublicCloud',
    location: vm.location,
    name: vm.name,
    osType: 'Linux',
    placementGroupId: vm.scaleSet ? `pg-${vm.scaleSet}` : '',
    platformFaultDomain: String(vm.faultDomain),
    platformUpdateDomain: String(vm.updateDomain),
    provider: 'Microsoft.Compute',
    resourceGroupName: vm.resourceGroup,
    resourceId,
    subscriptionId: vm.subscriptionId,
    tags: tags.map(([k, v]) => `${k}:${v}`).join(';'),
    vmId: vm.id,
    vmScaleSetName: vm.scaleSet ?? '',
    vmSize: vm.vmSize,
    zone: vm.zone ?? '',
  };
  // tagsList arrived with 2019-06-04; compare as strings, the versions are ISO dates.
  if (version >= '2019-06-04') compute.tagsList = tags.map(([name, value]) => ({ name, value }));
  return {
    compute,
    network: {
      interface: [
        {
          ipv4: { ipAddress: [{ privateIpAddress: vm.privateIp, publicIpAddress: '' }], subnet: [] },
          ipv6: { ipAddress: [] },
          macAddress: vm.id.replace(/-/g, '').slice(0, 12).toUpperCase(),
        },
      ],
    },
  };
}
