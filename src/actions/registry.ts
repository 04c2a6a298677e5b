// The actions the hub knows, by name. A new action is one file plus one line here.
import type { Action } from './action.js';
import { approveAction, runHookAction } from './agent-command.js';
import { haproxyAction } from './haproxy.js';
import { httpLbAction } from './http-lb.js';
import { commandAction } from './command.js';
import { createEmailAction } from './email.js';
import { logAction } from './log.js';
import { resetAction } from './reset.js';
import { snapshotAction } from './snapshot.js';
import { createSyslogAction } from './syslog.js';
import { webhookAction } from './webhook.js';

export function defaultActions(): Map<string, Action> {
  return new Map(
    [
      webhookAction,
      logAction,
      approveAction,
      runHookAction,
      createEmailAction(),
      createSyslogAction(),
      commandAction,
      haproxyAction,
      httpLbAction,
      snapshotAction,
      resetAction,
    ].map((a) => [a.kind, a]),
  );
}
