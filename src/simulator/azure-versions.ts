// What each Scheduled Events api-version shows (metadata-apis.md §1.2): which event types exist
// and which fields a document carries. Events of a type the version does not know are hidden.

export type AzureEventType = 'Freeze' | 'Reboot' | 'Redeploy' | 'Preempt' | 'Terminate';
export const AZURE_EVENT_TYPES: readonly AzureEventType[] = [
  'Freeze',
  'Reboot',
  'Redeploy',
  'Preempt',
  'Terminate',
];

export interface ScheduledEventsVersion {
  version: string;
  types: readonly AzureEventType[];
  description: boolean;
  eventSource: boolean;
  durationInSeconds: boolean;
  /** 2017-03-01 preview: IaaS resource names carried a leading underscore. */
  underscoreNames: boolean;
}

const BASE: AzureEventType[] = ['Freeze', 'Reboot', 'Redeploy'];
const v = (
  version: string,
  types: AzureEventType[],
  fields: Partial<Omit<ScheduledEventsVersion, 'version' | 'types'>> = {},
): ScheduledEventsVersion => ({
  version,
  types,
  description: false,
  eventSource: false,
  durationInSeconds: false,
  underscoreNames: false,
  ...fields,
});

/** Oldest first. Each entry adds to the one before it. */
export const SCHEDULED_EVENTS_VERSIONS: readonly ScheduledEventsVersion[] = [
  v('2017-03-01', BASE, { underscoreNames: true }),
  v('2017-08-01', BASE),
  v('2017-11-01', [...BASE, 'Preempt']),
  v('2019-01-01', [...BASE, 'Preempt', 'Terminate']),
  v('2019-04-01', [...BASE, 'Preempt', 'Terminate'], { description: true }),
  v('2019-08-01', [...BASE, 'Preempt', 'Terminate'], { description: true, eventSource: true }),
  v('2020-07-01', [...BASE, 'Preempt', 'Terminate'], {
    description: true,
    eventSource: true,
    durationInSeconds: true,
  }),
];

export function scheduledEventsVersion(version: string | undefined): ScheduledEventsVersion | undefined {
  return SCHEDULED_EVENTS_VERSIONS.find((x) => x.version === version);
}

/** Newest three, as IMDS lists them in its "api-version is invalid" error. */
export const SCHEDULED_EVENTS_NEWEST = SCHEDULED_EVENTS_VERSIONS.slice(-3)
  .map((x) => x.version)
  .reverse();

/** api-versions of /metadata/instance (the compute document has many more than scheduledevents). */
export const INSTANCE_VERSIONS: readonly string[] = [
  '2017-03-01', '2017-04-02', '2017-08-01', '2017-10-01', '2017-12-01', '2018-02-01', '2018-04-02',
  '2018-10-01', '2019-02-01', '2019-03-11', '2019-04-30', '2019-06-01', '2019-06-04', '2019-08-01',
  '2019-08-15', '2019-11-01', '2020-06-01', '2020-07-15', '2020-09-01', '2020-10-01', '2020-12-01',
  '2021-01-01', '2021-02-01', '2021-03-01', '2021-05-01', '2021-08-01', '2021-10-01', '2021-11-01',
  '2021-11-15', '2021-12-13', '2022-02-01', '2022-03-01', '2022-07-01', '2022-08-01', '2022-11-01',
  '2023-07-01', '2023-11-15', '2024-03-15', '2024-07-17', '2025-04-07',
]; // prettier-ignore

export const INSTANCE_NEWEST = ['2025-04-07', '2024-07-17', '2024-03-15'];
