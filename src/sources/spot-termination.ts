// The spot reclamation notice Alibaba and Tencent publish the same way: one metadata path holding
// the termination time (404 when there is none), each cloud in its own time format.
import type { MaintenanceEvent, Provider } from '../core/event.js';
import { TimeFormatError, toIso } from '../core/time.js';
import { retryAfterMs } from './metadata-http.js';
import { SourceError, type SourceDocument } from './source.js';

/** The termination time `body` → a spot reclamation event of this VM, id fixed by the notice time. */
export function spotTerminationEvent(
  provider: Provider,
  body: string,
  vm: string,
  now: number,
  parseTime: (text: string) => number,
): MaintenanceEvent {
  let at: number;
  try {
    at = parseTime(body.trim());
  } catch (err) {
    if (err instanceof TimeFormatError)
      throw new SourceError('parse', `spot/termination-time: ${err.message}`);
    throw err;
  }
  return {
    provider,
    eventId: `${vm}:spot-termination:${toIso(at)}`,
    vm,
    type: 'preempt',
    status: at <= now ? 'started' : 'scheduled',
    notBefore: toIso(at),
    description: 'Spot instance reclamation',
    origin: 'platform',
    resources: [vm],
    raw: { terminationTime: body.trim() },
  };
}

/** The answer of the termination-time path: 404 no notice, 200 one, anything else an error. */
export function terminationDocument(
  res: { status: number; body: string; headers: Record<string, string | string[] | undefined> },
  event: (body: string) => MaintenanceEvent,
): SourceDocument {
  if (res.status === 404) return { events: [] };
  if (res.status !== 200) {
    throw new SourceError(
      'http',
      `spot/termination-time answered ${res.status}: ${res.body.slice(0, 120)}`,
      res.status,
      retryAfterMs(res.headers),
    );
  }
  return { events: [event(res.body)] };
}
