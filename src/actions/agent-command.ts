// `approve` and `run-hook`: a command for the affected VM's agent, queued once (its id is the
// step's idempotency key) and awaited until the agent reports back or the step times out.
import { EVENT_TYPES } from '../core/event.js';
import type { Action, ActionContext, ActionResult } from './action.js';
import { ActionConfigError } from './action.js';

/**
 * Approving early only moves the moment for these; a redeploy (new host, temporary disk lost), a
 * termination or a preemption is never hurried unless a rule lists it in `types`.
 */
export const APPROVE_EARLY_TYPES = ['reboot', 'freeze'];

/** How a policy refusal starts its detail (a succeeded step that approved nothing). */
export const NOT_APPROVED = 'not approved early by policy';

/** The approval policy of an `approve` step: which types and origins may be approved early. */
function policyRefusal(ctx: ActionContext, params: Record<string, unknown>): string | undefined {
  const types = (params.types as string[] | undefined) ?? APPROVE_EARLY_TYPES;
  const origins = (params.origins as string[] | undefined) ?? ['platform', 'user'];
  if (!types.includes(ctx.event.type)) return `type ${ctx.event.type} is not in [${types.join(', ')}]`;
  if (!origins.includes(ctx.event.origin))
    return `origin ${ctx.event.origin} is not in [${origins.join(', ')}]`;
  return undefined;
}

function checkList(kind: string, field: string, value: unknown, allowed: readonly string[]): void {
  if (value === undefined) return;
  if (!Array.isArray(value) || value.some((v) => !allowed.includes(v as string)))
    throw new ActionConfigError(`${kind}: ${field} must be a list of ${allowed.join(', ')}`);
}

async function awaitResult(ctx: ActionContext, id: string): Promise<ActionResult> {
  for (;;) {
    const found = await ctx.store.getCommand(id);
    if (found?.result) {
      return found.result.ok
        ? { ok: true, detail: found.result.detail, output: found.result }
        : // The agent refused or the hook failed: repeating the same command cannot change that.
          { ok: false, retryable: false, detail: found.result.detail, output: found.result };
    }
    if (ctx.signal.aborted)
      return {
        ok: false,
        retryable: true,
        detail: `no result from the agent of ${ctx.vm} yet (command ${id} stays queued)`,
      };
    await new Promise((r) => setTimeout(r, 100));
  }
}

function commandAction(kind: 'approve' | 'run-hook'): Action {
  return {
    kind,
    validate(params) {
      const allowed = kind === 'run-hook' ? ['hook'] : ['types', 'origins'];
      const extra = Object.keys(params).filter((k) => !allowed.includes(k));
      if (extra.length) throw new ActionConfigError(`${kind}: unknown field ${extra[0]}`);
      checkList(kind, 'types', params.types, EVENT_TYPES);
      checkList(kind, 'origins', params.origins, ['platform', 'user']);
      if (kind === 'run-hook' && (typeof params.hook !== 'string' || !params.hook))
        throw new ActionConfigError('run-hook: hook (a hook name configured on the agent) is required');
    },
    async run(ctx, params) {
      if (kind === 'approve' && !ctx.event.resources.some((r) => r.toLowerCase() === ctx.vm.toLowerCase())) {
        return { ok: false, retryable: false, detail: `event does not concern ${ctx.vm}; not approving` };
      }
      const refusal = kind === 'approve' ? policyRefusal(ctx, params) : undefined;
      if (refusal) {
        // Not an error: the policy keeps this one for the platform's own time (NotBefore).
        return {
          ok: true,
          detail: `${NOT_APPROVED} (${refusal}); the platform starts it at NotBefore`,
          output: { approved: false, reason: refusal },
        };
      }
      const id = `step:${ctx.idempotencyKey}`;
      await ctx.store.enqueueCommand(
        {
          id,
          vm: ctx.vm,
          type: kind,
          eventId: ctx.event.eventId,
          hook: kind === 'run-hook' ? (params.hook as string) : undefined,
          origin: `rule:${ctx.rule}/${ctx.step}`,
        },
        new Date(ctx.now()).toISOString(),
      );
      ctx.notifyCommand(ctx.vm);
      return awaitResult(ctx, id);
    },
  };
}

export const approveAction = commandAction('approve');
export const runHookAction = commandAction('run-hook');
