// An ActionContext for running one action directly against a real receiver (SMTP, rsyslog, a
// script), without a hub around it. The hub tests cover the executor's side.
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import type { ActionContext } from '../../src/actions/action.js';
import type { EventRow, Store } from '../../src/store/store.js';

export function eventRow(overrides: Partial<EventRow> = {}): EventRow {
  const eventId = randomUUID().toUpperCase();
  return {
    key: `azure/${eventId.toLowerCase()}`,
    provider: 'azure',
    eventId,
    type: 'reboot',
    status: 'scheduled',
    notBefore: new Date(Date.now() + 15 * 60_000).toISOString(),
    description: 'Host server is undergoing maintenance.',
    origin: 'platform',
    resources: ['web-01'],
    reporters: ['web-01'],
    firstSeenAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    lastTransition: 'scheduled',
    raw: {},
    ...overrides,
  };
}

export function actionContext(overrides: Partial<ActionContext> = {}): ActionContext {
  const event = overrides.event ?? eventRow();
  return {
    event,
    transition: 'scheduled',
    vm: event.resources[0] ?? 'web-01',
    rule: 'tell-admin',
    step: 'mail',
    phase: 'do',
    idempotencyKey: `fw-${randomUUID().replaceAll('-', '')}`,
    attempt: 1,
    deadline: event.notBefore,
    signal: AbortSignal.timeout(60_000),
    store: undefined as unknown as Store,
    log: pino({ level: 'silent' }),
    now: Date.now,
    eventUrl: `http://hub.example/api/v1/events/${event.key}`,
    notifyCommand: () => undefined,
    ...overrides,
  };
}
