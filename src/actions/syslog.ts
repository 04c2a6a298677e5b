// `syslog`: one record per step, RFC 5424 (default) or RFC 3164, over UDP, TCP (octet-counted) or a
// unix stream socket, with facility/severity per event type and structured data carrying the
// event's id. The transport and formatting are the agent's (src/agent/syslog.ts and
// src/core/syslog-format.ts): one implementation for both programs. Connections are kept per
// target and reused across steps.
import { hostname } from 'node:os';
import { FACILITIES, SEVERITIES, type Facility, type Severity } from '../core/syslog-format.js';
import { SD_ID } from '../agent/syslog-sink.js';
import { SyslogError, SyslogSender, type SyslogSenderOptions } from '../agent/syslog.js';
import type { Action, ActionResult } from './action.js';
import { ActionConfigError } from './action.js';
import { CONTEXT_ROOTS, eventContext, noticeOf } from './event-context.js';
import { checkTemplate, renderString } from './template.js';

const FIELDS = new Set([
  'transport',
  'host',
  'port',
  'path',
  'format',
  'facility',
  'severity',
  'byType',
  'appName',
  'hostname',
  'message',
  'msgId',
]);
const TRANSPORTS = ['udp', 'tcp', 'unix'] as const;
export const DEFAULT_MESSAGE =
  '{{type}} of {{vm}} {{transition}}, NotBefore {{notBeforeUtc}} ({{timeLeft}}), {{origin}}: {{description}}';

interface Level {
  facility?: Facility;
  severity?: Severity;
}

function checkLevel(v: unknown, field: string): void {
  if (!v || typeof v !== 'object')
    throw new ActionConfigError(`syslog: ${field} must be {facility, severity}`);
  for (const [k, x] of Object.entries(v)) {
    if (k === 'facility' && !Object.hasOwn(FACILITIES, x as string))
      throw new ActionConfigError(
        `syslog: ${field}/facility must be one of ${Object.keys(FACILITIES).join(', ')}`,
      );
    else if (k === 'severity' && !Object.hasOwn(SEVERITIES, x as string))
      throw new ActionConfigError(
        `syslog: ${field}/severity must be one of ${Object.keys(SEVERITIES).join(', ')}`,
      );
    else if (k !== 'facility' && k !== 'severity')
      throw new ActionConfigError(`syslog: ${field}/${k}: unknown field`);
  }
}

/** One sender per target, kept open (a TCP connection per receiver, not per message). */
export function createSyslogAction(): Action {
  const senders = new Map<string, SyslogSender>();
  const senderFor = (params: Record<string, unknown>): SyslogSender => {
    const opts: SyslogSenderOptions = {
      transport: (params.transport as SyslogSenderOptions['transport'] | undefined) ?? 'udp',
      host: params.host as string | undefined,
      port: params.port as number | undefined,
      path: params.path as string | undefined,
      format: params.format as SyslogSenderOptions['format'],
    };
    const key = JSON.stringify(opts);
    let s = senders.get(key);
    if (!s) senders.set(key, (s = new SyslogSender(opts)));
    return s;
  };

  return {
    kind: 'syslog',
    validate(params) {
      for (const k of Object.keys(params))
        if (!FIELDS.has(k)) throw new ActionConfigError(`syslog: unknown field ${k}`);
      const t = params.transport ?? 'udp';
      if (!TRANSPORTS.includes(t as never))
        throw new ActionConfigError(`syslog: transport must be one of ${TRANSPORTS.join(', ')}`);
      if (t === 'unix' && (typeof params.path !== 'string' || !params.path))
        throw new ActionConfigError('syslog: path (the unix stream socket) is required with transport unix');
      if (t !== 'unix' && (typeof params.host !== 'string' || !params.host))
        throw new ActionConfigError('syslog: host (the receiver) is required');
      if (
        params.port !== undefined &&
        (!Number.isInteger(params.port) || (params.port as number) < 1 || (params.port as number) > 65535)
      )
        throw new ActionConfigError('syslog: port must be a port number');
      if (params.format !== undefined && params.format !== 'rfc5424' && params.format !== 'rfc3164')
        throw new ActionConfigError('syslog: format must be rfc5424 or rfc3164');
      checkLevel(
        { facility: params.facility ?? 'local0', severity: params.severity ?? 'notice' },
        'facility/severity',
      );
      if (params.byType !== undefined) {
        if (!params.byType || typeof params.byType !== 'object')
          throw new ActionConfigError('syslog: byType maps event types to {facility, severity}');
        for (const [type, level] of Object.entries(params.byType)) checkLevel(level, `byType/${type}`);
      }
      for (const f of ['message', 'msgId', 'appName'] as const) {
        if (params[f] === undefined) continue;
        if (typeof params[f] !== 'string') throw new ActionConfigError(`syslog: ${f} must be a string`);
        checkTemplate(params[f], CONTEXT_ROOTS, `syslog: ${f}`);
      }
    },
    async close() {
      const all = [...senders.values()];
      senders.clear();
      await Promise.allSettled(all.map((s) => s.close()));
    },
    async run(ctx, params): Promise<ActionResult> {
      const context = eventContext(ctx, params);
      const byType = (params.byType as Record<string, Level> | undefined)?.[ctx.event.type] ?? {};
      const notice = noticeOf(params);
      const sd: Record<string, string> = {
        eventId: ctx.event.eventId,
        provider: ctx.event.provider,
        type: ctx.event.type,
        vm: ctx.vm,
        transition: ctx.transition,
        rule: ctx.rule,
        step: ctx.step,
        idempotencyKey: ctx.idempotencyKey,
      };
      if (ctx.event.notBefore) sd.notBefore = ctx.event.notBefore;
      if (notice) sd.notice = notice.kind;
      const message = {
        facility: byType.facility ?? (params.facility as Facility | undefined) ?? 'local0',
        severity: byType.severity ?? (params.severity as Severity | undefined) ?? 'notice',
        timestamp: new Date(ctx.now()),
        hostname: (params.hostname as string | undefined) ?? hostname(),
        appName: renderString((params.appName as string | undefined) ?? 'forewarn', context),
        msgId: renderString(
          (params.msgId as string | undefined) ?? (notice ? notice.kind : '{{transition}}'),
          context,
        ),
        structuredData: { [SD_ID]: sd },
        message: renderString(
          (params.message as string | undefined) ??
            (notice
              ? `${notice.kind} ${notice.step ?? ''} ${notice.detail ?? ''}: ${DEFAULT_MESSAGE}`
              : DEFAULT_MESSAGE),
          context,
        ),
      };
      const sender = senderFor(params);
      try {
        await sender.send(message);
        return { ok: true, detail: `sent to ${sender.target}` };
      } catch (err) {
        return {
          ok: false,
          retryable: err instanceof SyslogError ? err.retryable : true,
          detail: (err as Error).message,
        };
      }
    },
  };
}
