// Hub commands over core NATS request/reply: the agent asks on forewarn.commands.<vm> (a long-poll,
// answered by one hub of the queue group) and reports on forewarn.results.<vm>. Core NATS, not
// JetStream: the hub's store already is the durable command queue with redelivery of unreported
// commands, and the agent's journal makes a re-sent command idempotent; a second durable copy in a
// stream would only be a second truth to keep in step.
import { subjects } from '../nats/config.js';
import { natsErrorText } from '../nats/connect.js';
import { agentCommands, type AgentCommand, type CommandChannel, type CommandResult } from './hub-client.js';
import type { NatsLink } from './nats-publisher.js';

/** Settles with `p`, or rejects as soon as `signal` aborts (a held request must not hold up stop()). */
function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('stopped'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export class NatsCommandChannel implements CommandChannel {
  constructor(private readonly link: NatsLink) {}

  private async request(subject: string, body: unknown, timeoutMs: number, signal?: AbortSignal) {
    const nc = await abortable(this.link.connection(), signal);
    let reply;
    try {
      reply = await abortable(nc.request(subject, JSON.stringify(body), { timeout: timeoutMs }), signal);
    } catch (err) {
      throw new Error(`NATS request on ${subject} failed: ${natsErrorText(err)}`);
    }
    const answer = reply.json<{ error?: string }>();
    if (answer.error) throw new Error(`hub refused ${subject}: ${answer.error}`);
    return answer;
  }

  async commands(waitSeconds: number, signal?: AbortSignal): Promise<AgentCommand[]> {
    const answer = (await this.request(
      subjects.commands(this.link.vm),
      { wait: waitSeconds },
      (waitSeconds + 10) * 1000,
      signal,
    )) as { commands?: unknown };
    if (!Array.isArray(answer.commands)) throw new Error('commands answer has no commands array');
    return agentCommands(answer.commands);
  }

  async report(commandId: string, result: CommandResult, signal?: AbortSignal): Promise<void> {
    await this.request(
      subjects.results(this.link.vm),
      { id: commandId, ...result },
      this.link.config.timeoutMs,
      signal,
    );
  }
}
