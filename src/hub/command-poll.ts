// Taking and finishing an agent's commands, shared by the HTTP long-poll and NATS request/reply.
import type { CommandRow, Store } from '../store/store.js';
import type { HubEvents } from './hub-events.js';

export interface CommandPollContext {
  store: Store;
  events: HubEvents;
  now: () => number;
  /** A delivered command with no result is offered again after this long. */
  redeliverAfterMs?: number;
}

/** The VM's due commands; when none, waits up to `waitSeconds` for one (or for `until` to settle). */
export async function takeCommandsWaiting(
  ctx: CommandPollContext,
  vm: string,
  waitSeconds: number,
  until?: (done: () => void) => () => void,
): Promise<CommandRow[]> {
  const take = () =>
    ctx.store.takeCommands(vm, new Date(ctx.now()).toISOString(), ctx.redeliverAfterMs ?? 60_000, 50);
  const commands = await take();
  if (commands.length > 0 || waitSeconds <= 0) return commands;
  await new Promise<void>((resolve) => {
    let forget = () => {};
    const done = () => {
      clearTimeout(timer);
      ctx.events.off('command', onCommand);
      forget();
      resolve();
    };
    const onCommand = (target: string) => target === vm && done();
    const timer = setTimeout(done, waitSeconds * 1000);
    ctx.events.on('command', onCommand);
    if (until) forget = until(done);
  });
  return take();
}

/** The wire form of a command for the agent. */
export const commandForAgent = (c: CommandRow) => ({
  id: c.id,
  type: c.type,
  eventId: c.eventId,
  hook: c.hook,
});

/** Records an agent's result (audit, `commandDone`); undefined when the VM has no such command. */
export async function finishCommand(
  ctx: CommandPollContext,
  vm: string,
  id: string,
  result: NonNullable<CommandRow['result']>,
): Promise<CommandRow | undefined> {
  const at = new Date(ctx.now()).toISOString();
  const done = await ctx.store.completeCommand(vm, id, result, at);
  if (!done) return undefined;
  await ctx.store.audit({
    at,
    actor: `agent:${vm}`,
    action: `command.${done.result?.ok ? 'succeeded' : 'failed'}`,
    subject: `command:${done.id}`,
    detail: done.result,
  });
  ctx.events.emit('commandDone', done);
  return done;
}
