// `log`: a structured record of the event in the hub's log (pino), e.g. for a log shipper.
import type { Action, ActionContext, ActionResult } from './action.js';
import { ActionConfigError } from './action.js';

const LEVELS = ['info', 'warn', 'error'] as const;

export const logAction: Action = {
  kind: 'log',
  validate(params) {
    const extra = Object.keys(params).filter((k) => k !== 'level' && k !== 'message');
    if (extra.length) throw new ActionConfigError(`log: unknown field ${extra[0]}`);
    if (params.level !== undefined && !LEVELS.includes(params.level as (typeof LEVELS)[number])) {
      throw new ActionConfigError(`log: level must be one of ${LEVELS.join(', ')}`);
    }
  },
  async run(ctx: ActionContext, params): Promise<ActionResult> {
    const level = (params.level as (typeof LEVELS)[number] | undefined) ?? 'info';
    const e = ctx.event;
    ctx.log[level](
      {
        rule: ctx.rule,
        step: ctx.step,
        vm: ctx.vm,
        transition: ctx.transition,
        event: {
          key: e.key,
          type: e.type,
          status: e.status,
          notBefore: e.notBefore,
          origin: e.origin,
          resources: e.resources,
          description: e.description,
        },
        idempotencyKey: ctx.idempotencyKey,
      },
      typeof params.message === 'string'
        ? params.message
        : `maintenance ${ctx.transition}: ${e.type} of ${ctx.vm}`,
    );
    return { ok: true, detail: 'logged' };
  },
};
