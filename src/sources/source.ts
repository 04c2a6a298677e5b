// One interface for every metadata source. A source reads one document per poll and turns it
// into MaintenanceEvents; it never decides what changed (that is the tracker's job).
import type { MaintenanceEvent, Provider } from '../core/event.js';

export interface SourceDocument {
  /** Azure DocumentIncarnation; undefined for sources without one. */
  incarnation?: number;
  /** Every event in the document, this VM's and its siblings'. */
  events: MaintenanceEvent[];
}

export type SourceErrorKind = 'http' | 'timeout' | 'network' | 'parse';

/** A failed poll. Never to be read as "no events". */
export class SourceError extends Error {
  constructor(
    readonly kind: SourceErrorKind,
    message: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'SourceError';
  }
}

export interface MaintenanceSource {
  /** Stable name, used as the key of this source's tracker state. */
  readonly name: string;
  readonly provider: Provider;
  /** Reads the current document; throws SourceError on anything but a valid document. */
  poll(signal?: AbortSignal): Promise<SourceDocument>;
  /**
   * Hands back the events the tracker still holds, once at start. A source whose documents carry
   * no ids (GCP maintenance-event) mints them, and needs them again after a restart.
   */
  restore?(events: MaintenanceEvent[]): void;
  /** Asks the cloud to start these events early (Azure StartRequests). */
  approve?(eventIds: string[], signal?: AbortSignal): Promise<void>;
}

/** Who this VM is, as the metadata service says or config overrides. */
export interface VmIdentity {
  name: string;
  vmId?: string;
  resourceGroup?: string;
  location?: string;
  zone?: string;
  faultDomain?: string;
  updateDomain?: string;
  scaleSet?: string;
  vmSize?: string;
  tags?: Record<string, string>;
}
