// Delivers the outbox at least once, in order: one batch in flight, acked only after the
// receiver said 2xx. A non-retryable answer parks the batch's head and alerts, it does not spin.
import type { Logger } from 'pino';
import { backoffDelay } from './backoff.js';
import type { AgentJournal } from './journal.js';
import { PublishError, type Publisher } from './publisher.js';

export interface DeliveryOptions {
  batchSize?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface DeliveryHealth {
  lastSuccessAt?: string;
  consecutiveFailures: number;
  lastError?: string;
  backlog: number;
}

export class Delivery {
  private wake?: () => void;
  private stopped = false;
  private running?: Promise<void>;
  private readonly abort = new AbortController();
  readonly health: DeliveryHealth = { consecutiveFailures: 0, backlog: 0 };

  constructor(
    private readonly journal: AgentJournal,
    private readonly publisher: Publisher,
    private readonly log: Logger,
    private readonly options: DeliveryOptions = {},
  ) {}

  start(): void {
    this.running ??= this.loop();
  }

  /** New rows were committed: deliver now rather than at the next timer. */
  notify(): void {
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.wake?.();
    await this.running;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private async loop(): Promise<void> {
    const batchSize = this.options.batchSize ?? 100;
    while (!this.stopped) {
      const rows = this.journal.peek(batchSize);
      this.health.backlog = this.journal.outboxSize();
      if (rows.length === 0) {
        await this.sleep(60_000);
        continue;
      }
      try {
        await this.publisher.publish(
          rows.map((r) => r.record),
          this.abort.signal,
        );
        this.journal.ack(rows.map((r) => r.seq));
        this.health.lastSuccessAt = new Date().toISOString();
        this.health.consecutiveFailures = 0;
        this.health.lastError = undefined;
        this.health.backlog = this.journal.outboxSize();
      } catch (err) {
        if (this.stopped) break;
        try {
          this.journal.markAttempt(rows.map((r) => r.seq));
        } catch {
          // a full disk: the attempt count is only informative, the rows stay in the outbox
        }
        const failure = err instanceof PublishError ? err : new PublishError(String(err), true);
        this.health.consecutiveFailures++;
        this.health.lastError = failure.message;
        const delay = Math.max(
          failure.retryAfterMs ?? 0,
          backoffDelay(this.health.consecutiveFailures - 1, {
            baseMs: this.options.baseBackoffMs ?? 500,
            maxMs: this.options.maxBackoffMs ?? 30_000,
          }),
        );
        // Non-retryable (bad token, rejected schema) will not heal by itself: say so loudly, retry slowly.
        const level = failure.retryable ? 'warn' : 'error';
        this.log[level](
          { publisher: this.publisher.name, err: failure.message, retryInMs: delay, batch: rows.length },
          failure.retryable
            ? 'delivery failed, will retry'
            : 'delivery rejected; fix the configuration, retrying slowly',
        );
        await this.sleep(failure.retryable ? delay : Math.max(delay, this.options.maxBackoffMs ?? 30_000));
      }
    }
  }
}
