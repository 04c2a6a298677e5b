// The agent's side of the hub API besides events: heartbeats, and commands long-polled from
// /api/v1/agents/<vm>/commands with their results posted back.
import { httpRequest } from '../sources/http.js';

export interface AgentCommand {
  id: string;
  type: 'approve' | 'run-hook';
  eventId?: string;
  hook?: string;
  /** The transition the command answers, when the hub knows it (its env is passed to hooks). */
  transitionId?: string;
}

export interface CommandResult {
  ok: boolean;
  detail: string;
  output?: unknown;
}

/** What the agent's command loop needs: the HTTP long-poll and NATS request/reply both provide it. */
export interface CommandChannel {
  commands(waitSeconds: number, signal?: AbortSignal): Promise<AgentCommand[]>;
  report(commandId: string, result: CommandResult, signal?: AbortSignal): Promise<void>;
}

/** The well-formed commands of a hub's answer; anything else is ignored. */
export function agentCommands(list: unknown[]): AgentCommand[] {
  return list.filter(
    (c): c is AgentCommand =>
      typeof c === 'object' &&
      c !== null &&
      typeof (c as AgentCommand).id === 'string' &&
      ['approve', 'run-hook'].includes((c as AgentCommand).type),
  );
}

export class HubClient implements CommandChannel {
  constructor(private readonly options: { url: string; token: string; vm: string; timeoutMs?: number }) {}

  private url(path: string): string {
    return new URL(
      `/api/v1/agents/${encodeURIComponent(this.options.vm)}${path}`,
      this.options.url,
    ).toString();
  }

  private headers(json: boolean): Record<string, string> {
    return {
      authorization: `Bearer ${this.options.token}`,
      ...(json ? { 'content-type': 'application/json' } : {}),
    };
  }

  async heartbeat(payload: unknown, signal?: AbortSignal): Promise<void> {
    const res = await httpRequest(this.url('/heartbeat'), {
      method: 'POST',
      headers: this.headers(true),
      body: JSON.stringify(payload),
      signal,
      timeoutMs: this.options.timeoutMs ?? 10_000,
    });
    if (res.status >= 300) throw new Error(`heartbeat answered ${res.status}`);
  }

  /** Waits up to `waitSeconds` on the hub for commands; returns [] when none came. */
  async commands(waitSeconds: number, signal?: AbortSignal): Promise<AgentCommand[]> {
    const res = await httpRequest(`${this.url('/commands')}?wait=${waitSeconds}`, {
      method: 'GET',
      headers: this.headers(false),
      signal,
      timeoutMs: (waitSeconds + 10) * 1000,
    });
    const text = res.body;
    if (res.status === 204) return [];
    if (res.status >= 300) throw new Error(`commands answered ${res.status}: ${text.slice(0, 200)}`);
    const body = JSON.parse(text) as { commands?: unknown };
    if (!Array.isArray(body.commands)) throw new Error('commands answer has no commands array');
    return agentCommands(body.commands);
  }

  async report(commandId: string, result: CommandResult, signal?: AbortSignal): Promise<void> {
    const res = await httpRequest(this.url(`/commands/${encodeURIComponent(commandId)}/result`), {
      method: 'POST',
      headers: this.headers(true),
      body: JSON.stringify(result),
      signal,
      timeoutMs: this.options.timeoutMs ?? 10_000,
    });
    if (res.status >= 300) throw new Error(`command result answered ${res.status}`);
  }
}
