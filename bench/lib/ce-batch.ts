// Realistic agent batches for the hub benchmarks: each event is what the agent sends
// (`toCloudEvent(record).toJSON()` of a `scheduled` transition of an Azure Reboot, raw Azure
// document included), with a unique EventId per event. The JSON of one event per VM is built once
// through the real code, then the EventId is spliced in, so making a batch costs little CPU in the
// load generator (which shares the machine's 2 cores with the hub).
import { toCloudEvent, vmSource, type TransitionRecord } from '../../src/core/transition.js';

const MARK = 'EVENTID0MARK';

export const BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json; charset=utf-8';

export function benchRecord(vm: string, eventId: string, notBefore: string): TransitionRecord {
  const description = 'Virtual machine is going to be restarted as requested by authorized user.';
  return {
    id: `azure/${eventId}/scheduled`,
    transition: 'scheduled',
    mine: true,
    observedAt: new Date().toISOString(),
    event: {
      provider: 'azure',
      eventId,
      vm,
      type: 'reboot',
      status: 'scheduled',
      notBefore,
      durationSeconds: -1,
      description,
      origin: 'platform',
      resources: [vm],
      raw: {
        EventId: eventId,
        EventType: 'Reboot',
        ResourceType: 'VirtualMachine',
        Resources: [vm],
        EventStatus: 'Scheduled',
        NotBefore: new Date(notBefore).toUTCString(),
        Description: description,
        EventSource: 'Platform',
        DurationInSeconds: -1,
      },
    },
  };
}

/** Builds batches for one VM; `next(n, ids)` returns the body of n new events and pushes their ids. */
export class VmBatcher {
  private readonly parts: string[];
  /** The CloudEvents `source` of this VM's events. */
  readonly source: string;

  constructor(
    readonly vm: string,
    notBefore: string,
  ) {
    this.source = vmSource(vm);
    this.parts = JSON.stringify(toCloudEvent(benchRecord(vm, MARK, notBefore))).split(MARK);
  }

  event(eventId: string): string {
    return this.parts.join(eventId);
  }

  batch(eventIds: readonly string[]): string {
    let body = '[';
    for (let i = 0; i < eventIds.length; i++) body += (i ? ',' : '') + this.event(eventIds[i]!);
    return `${body}]`;
  }
}

/** A GUID-shaped, unique EventId: run tag, VM index, sequence. */
export function eventIdOf(runTag: number, vmIndex: number, seq: number): string {
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${hex(runTag >>> 0, 8)}-${hex(vmIndex & 0xffff, 4)}-4000-8000-${hex(seq, 12)}`;
}

export function vmName(i: number): string {
  return `bench-vm-${String(i).padStart(4, '0')}`;
}
