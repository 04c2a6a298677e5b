// Where transitions go: the forewarn hub (CloudEvents batch) or any Azure Event Grid topic
// (Event Grid schema, aeg-sas-key), which is what the original bash-and-Event-Grid setups used.
import { httpRequest } from '../sources/http.js';
import { toCloudEvent, toEventGridEvent, type TransitionRecord } from '../core/transition.js';
import { retryAfterMs } from '../sources/metadata-http.js';

/** A failed delivery: retryable ones are tried again with backoff, the others are counted and parked. */
export class PublishError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'PublishError';
  }
}

export interface Publisher {
  readonly name: string;
  publish(batch: TransitionRecord[], signal?: AbortSignal): Promise<void>;
}

/** Statuses worth retrying; Event Grid's own list of non-retryable codes is 400, 401, 403, 404, 413. */
function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

async function post(
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
  signal?: AbortSignal,
) {
  let res;
  try {
    res = await httpRequest(url, { method: 'POST', headers, body, timeoutMs, signal });
  } catch (err) {
    throw new PublishError(`cannot deliver to ${url}: ${(err as Error).message}`, true);
  }
  if (res.status >= 200 && res.status < 300) return;
  throw new PublishError(
    `${url} answered ${res.status}: ${res.body.slice(0, 200)}`,
    retryable(res.status),
    retryAfterMs(res.headers),
    res.status,
  );
}

export interface HubPublisherOptions {
  /** Hub base URL, e.g. https://hub.example:8443 */
  url: string;
  token: string;
  timeoutMs?: number;
}

/** CloudEvents 1.0 batch mode (`application/cloudevents-batch+json`) to the hub's ingest API. */
export class HubPublisher implements Publisher {
  readonly name = 'hub';
  constructor(private readonly options: HubPublisherOptions) {}

  async publish(batch: TransitionRecord[], signal?: AbortSignal): Promise<void> {
    const body = JSON.stringify(batch.map(toCloudEvent));
    await post(
      new URL('/api/v1/events', this.options.url).toString(),
      {
        'content-type': 'application/cloudevents-batch+json; charset=utf-8',
        authorization: `Bearer ${this.options.token}`,
      },
      body,
      this.options.timeoutMs ?? 10_000,
      signal,
    );
  }
}

export interface EventGridPublisherOptions {
  /** The topic endpoint, e.g. https://<topic>.<region>-1.eventgrid.azure.net/api/events */
  endpoint: string;
  key: string;
  timeoutMs?: number;
}

/** Event Grid topics take up to 1 MB per request; we send far smaller batches. */
export class EventGridPublisher implements Publisher {
  readonly name = 'event-grid';
  constructor(private readonly options: EventGridPublisherOptions) {}

  async publish(batch: TransitionRecord[], signal?: AbortSignal): Promise<void> {
    const body = JSON.stringify(batch.map(toEventGridEvent));
    if (Buffer.byteLength(body) > 1024 * 1024) {
      throw new PublishError('batch exceeds Event Grid’s 1 MB request limit', false);
    }
    await post(
      this.options.endpoint,
      { 'content-type': 'application/json; charset=utf-8', 'aeg-sas-key': this.options.key },
      body,
      this.options.timeoutMs ?? 10_000,
      signal,
    );
  }
}
