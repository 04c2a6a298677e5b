// One way to open a NATS connection for agents and hubs: credentials from the config, reconnect
// forever once connected (a NATS restart is a pause, not an exit), and for an agent a private
// reply inbox its server permissions can be written against.
import type { NatsConnection } from '@nats-io/transport-node';
import type { NatsConnectionConfig } from './config.js';

export async function connectNats(
  c: NatsConnectionConfig,
  o: { name: string; inboxPrefix?: string },
): Promise<NatsConnection> {
  // Loaded on first use: an agent on HTTPS never pays the NATS client's memory (≤ 60 MB budget).
  const { connect, credsAuthenticator } = await import('@nats-io/transport-node');
  return connect({
    servers: c.servers,
    name: o.name,
    inboxPrefix: o.inboxPrefix,
    user: c.creds ? undefined : c.user,
    pass: c.creds ? undefined : c.password,
    authenticator: c.creds ? credsAuthenticator(c.creds) : undefined,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    timeout: c.timeoutMs,
  });
}

/** Why a NATS call failed, without the payload: the message of the error and of its cause. */
export function natsErrorText(err: unknown): string {
  const e = err as Error & { cause?: Error };
  return e.cause?.message ? `${e.message}: ${e.cause.message}` : String(e?.message ?? err);
}
