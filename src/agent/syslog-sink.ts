// Writes each transition to syslog (RFC 5424 by default), what the 2015 "log upcoming reboots to
// syslog every five minutes" scripts did, once per transition and with structured data.
import { hostname } from 'node:os';
import { formatDuration } from '../core/time.js';
import type { TransitionRecord } from '../core/transition.js';
import type { Facility, Severity, SyslogMessage } from '../core/syslog-format.js';
import type { TransitionSink, Selector } from './sinks.js';
import { selects } from './sinks.js';
import { SyslogSender, type SyslogSenderOptions } from './syslog.js';

/** IANA's example enterprise number (RFC 5612) until forewarn has its own. */
export const SD_ID = 'forewarn@32473';

const DISRUPTIVE = new Set(['reboot', 'redeploy', 'preempt', 'terminate', 'stop', 'retire', 'reimage']);

export function severityOf(t: TransitionRecord): Severity {
  if (!t.mine) return 'info';
  if (t.transition === 'completed' || t.transition === 'canceled') return 'notice';
  return DISRUPTIVE.has(t.event.type) ? 'warning' : 'notice';
}

export function describeTransition(t: TransitionRecord, now = Date.now()): string {
  const e = t.event;
  const who = t.mine ? e.vm : `sibling ${e.resources.join(',')} (seen from ${e.vm})`;
  let when = '';
  if (e.notBefore && (t.transition === 'scheduled' || t.transition === 'rescheduled')) {
    const left = Date.parse(e.notBefore) - now;
    when = `, not before ${e.notBefore}${left > 0 ? ` (in ${formatDuration(left)})` : ''}`;
  }
  const inferred = t.inferred ? ' (inferred: it vanished after NotBefore)' : '';
  return `${e.type} of ${who} ${t.transition}${when}${inferred}${e.description ? `: ${e.description}` : ''}`;
}

export function toSyslogMessage(t: TransitionRecord, facility: Facility, host = hostname()): SyslogMessage {
  const e = t.event;
  return {
    facility,
    severity: severityOf(t),
    timestamp: new Date(t.observedAt),
    hostname: host,
    appName: 'forewarn-agent',
    procId: String(process.pid),
    msgId: t.transition,
    structuredData: {
      [SD_ID]: {
        id: t.id,
        provider: e.provider,
        eventId: e.eventId,
        type: e.type,
        transition: t.transition,
        mine: String(t.mine),
        ...(e.notBefore ? { notBefore: e.notBefore } : {}),
      },
    },
    message: describeTransition(t),
  };
}

export class SyslogSink implements TransitionSink {
  readonly name = 'syslog';
  private readonly sender: SyslogSender;

  constructor(
    options: SyslogSenderOptions,
    private readonly facility: Facility = 'daemon',
    private readonly selector: Selector = { siblings: true },
  ) {
    this.sender = new SyslogSender(options);
  }

  wants(t: TransitionRecord): boolean {
    return selects(this.selector, t);
  }

  async handle(t: TransitionRecord): Promise<void> {
    await this.sender.send(toSyslogMessage(t, this.facility));
  }

  close(): Promise<void> {
    return this.sender.close();
  }
}
