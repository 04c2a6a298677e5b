// Default lifecycle timing per Azure event type, from metadata-apis.md §1.5 and §1.11–1.12.
// All values are real-cloud durations; the controller divides them by the time scale.
import type { AzureEventType } from './azure-versions.js';

export interface TypeTiming {
  /** NotBefore − the moment the event appears. */
  noticeMs: number;
  /** DurationInSeconds: -1 unknown, 0 no impact. */
  durationSeconds: number;
  /** How long the event stays `Started` before it disappears from the document. */
  startedForMs: number;
  description: string;
  userDescription?: string;
  /** Published already Started, with no notice (Alibaba's failure events have no Scheduled state). */
  publishedStarted?: boolean;
}

const MIN = 60_000;

export const DEFAULT_TIMING: Record<AzureEventType, TypeTiming> = {
  Freeze: {
    noticeMs: 15 * MIN,
    durationSeconds: 9,
    startedForMs: 5 * MIN,
    description: 'Host server is undergoing maintenance.',
  },
  Reboot: {
    noticeMs: 15 * MIN,
    durationSeconds: -1,
    startedForMs: 10 * MIN,
    description: 'Host server is undergoing maintenance.',
    userDescription: 'Virtual machine is going to be restarted as requested by authorized user.',
  },
  Redeploy: {
    noticeMs: 10 * MIN,
    durationSeconds: -1,
    startedForMs: 10 * MIN,
    description: 'Host Server infrastructure is undergoing maintenance.',
    userDescription: 'Virtual machine is going to be redeployed as requested by authorized user.',
  },
  Preempt: {
    noticeMs: 30_000,
    durationSeconds: -1,
    startedForMs: 2 * MIN,
    description: 'Virtual machine is being evicted because of a Spot capacity or price change.',
  },
  Terminate: {
    noticeMs: 5 * MIN, // notBeforeTimeout is user-set between PT5M and PT15M
    durationSeconds: -1,
    startedForMs: 2 * MIN,
    description: 'Virtual machine is being deleted from its scale set.',
  },
};

export const HOST_FAILURE_DESCRIPTION = 'Virtual machine has encountered a failure.';

/** Lead time of the 2015 in-VM notification service: about five minutes before a reboot. */
export const LEGACY_NOTICE_MS = 5 * MIN;
