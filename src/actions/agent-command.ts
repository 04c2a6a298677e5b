// `approve` and `run-hook`: a command for the affected VM's agent, queued once (its id is the
// step's idempotency key) and awaited until the agent reports back or the step times out.
import type { Action, ActionContext, ActionResult } from './action.js';
import { ActionConfigError } from './action.js';

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
      const allowed = kind === 'run-hook' ? ['hook'] : [];
      const extra = Object.keys(params).filter((k) => !allowed.includes(k));
      if (extra.length) throw new ActionConfigError(`${kind}: unknown field ${extra[0]}`);
      if (kind === 'run-hook' && (typeof params.hook !== 'string' || !params.hook))
        throw new ActionConfigError('run-hook: hook (a hook name configured on the agent) is required');
    },
    async run(ctx, params) {
      if (kind === 'approve' && !ctx.event.resources.some((r) => r.toLowerCase() === ctx.vm.toLowerCase())) {
        return { ok: false, retryable: false, detail: `event does not concern ${ctx.vm}; not approving` };
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
