// The `transport: { kind: nats }` section of the agent's and the hub's config: which NATS servers,
// which JetStream stream, and whose credentials. One schema per side so a hub-only key on an agent
// is an error, not silence. Subjects are fixed (forewarn.events.<vm>, forewarn.commands.<vm>, …)
// because nats-server's per-user permissions are written against them (`forewarn nats-config`).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { parseDuration } from '../core/time.js';

export const DEFAULT_STREAM = 'FOREWARN_EVENTS';
export const DEFAULT_CONSUMER = 'forewarn-hub';
/** The queue group hubs answer agents' command polls and results in: one hub answers each. */
export const HUB_QUEUE = 'forewarn-hub';

/** A VM name must be one subject token: no dots, spaces or wildcards. */
export const VM_TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

export const subjects = {
  events: (vm: string) => `forewarn.events.${vm}`,
  commands: (vm: string) => `forewarn.commands.${vm}`,
  results: (vm: string) => `forewarn.results.${vm}`,
  /** The agent's private reply inbox: its permissions let it read only there. */
  inbox: (vm: string) => `_INBOX.forewarn.${vm}`,
  allEvents: 'forewarn.events.*',
  allCommands: 'forewarn.commands.*',
  allResults: 'forewarn.results.*',
};

/** The VM a subject like forewarn.events.<vm> belongs to, or undefined. */
export function vmOfSubject(subject: string): string | undefined {
  const parts = subject.split('.');
  return parts.length === 3 && parts[0] === 'forewarn' && VM_TOKEN.test(parts[2]!) ? parts[2] : undefined;
}

const Duration = Type.String({ minLength: 1, description: "e.g. '10s', '2m'" });
const common = {
  kind: Type.Literal('nats'),
  servers: Type.Array(Type.String({ minLength: 1 }), {
    minItems: 1,
    description: 'NATS server URLs, e.g. nats://nats1:4222 (several: the client fails over)',
  }),
  stream: Type.Optional(
    Type.String({
      pattern: '^[A-Za-z0-9_-]{1,64}$',
      description: `JetStream stream (default ${DEFAULT_STREAM})`,
    }),
  ),
  user: Type.Optional(
    Type.String({ minLength: 1, description: 'NATS user (forewarn nats-config: the VM name, or hub)' }),
  ),
  password: Type.Optional(Type.String({ minLength: 1, description: 'NATS password; prefer passwordFile' })),
  passwordFile: Type.Optional(Type.String({ minLength: 1, description: 'file holding the NATS password' })),
  credsFile: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'a decentralized-auth .creds file (JWT + nkey seed), instead of user/password',
    }),
  ),
  timeout: Type.Optional(Duration),
};
export const AgentNatsSchema = Type.Object(
  {
    ...common,
    commands: Type.Optional(
      Type.Boolean({ description: 'take hub commands over NATS request/reply (default true)' }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'publish transitions to NATS JetStream instead of the hub’s HTTP API (docs/deploy-distributed.md)',
  },
);

export const HubNatsSchema = Type.Object(
  {
    ...common,
    consumer: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_-]{1,64}$',
        description: `durable pull consumer every hub replica shares (default ${DEFAULT_CONSUMER})`,
      }),
    ),
    maxAckPending: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100_000,
        description: 'messages in flight to the consuming hub (default 1024; order holds at any value)',
      }),
    ),
    ackWait: Type.Optional(Duration),
    duplicateWindow: Type.Optional(Duration),
    maxAge: Type.Optional(Duration),
    commands: Type.Optional(
      Type.Boolean({ description: 'answer agents’ command polls and results over NATS (default true)' }),
    ),
  },
  {
    additionalProperties: false,
    description: 'also ingest transitions from a NATS JetStream stream (docs/deploy-distributed.md)',
  },
);

export interface NatsConnectionConfig {
  servers: string[];
  stream: string;
  user?: string;
  password?: string;
  creds?: Uint8Array;
  timeoutMs: number;
  commands: boolean;
}

export interface HubNatsConfig extends NatsConnectionConfig {
  consumer: string;
  maxAckPending: number;
  ackWaitMs: number;
  duplicateWindowMs: number;
  maxAgeMs: number;
}

type Fail = (message: string) => Error;

function connection(
  c: Static<typeof AgentNatsSchema> | Static<typeof HubNatsSchema>,
  base: string,
  where: string,
  fail: Fail,
): NatsConnectionConfig {
  const read = (file: string, field: string) => {
    try {
      return readFileSync(resolve(base, file));
    } catch (err) {
      throw fail(`${where}: /transport/${field}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  if (c.credsFile && (c.user || c.password || c.passwordFile))
    throw fail(`${where}: /transport/credsFile: use credsFile or user/password, not both`);
  const password =
    c.password ?? (c.passwordFile ? read(c.passwordFile, 'passwordFile').toString().trim() : undefined);
  if (password && !c.user) throw fail(`${where}: /transport/user: required with a password`);
  return {
    servers: c.servers,
    stream: c.stream ?? DEFAULT_STREAM,
    user: c.user,
    password,
    creds: c.credsFile ? read(c.credsFile, 'credsFile') : undefined,
    timeoutMs: duration(c.timeout, 'timeout', 10_000, where, fail),
    commands: c.commands ?? true,
  };
}

function duration(v: string | undefined, field: string, fallback: number, where: string, fail: Fail): number {
  if (v === undefined) return fallback;
  try {
    return parseDuration(v);
  } catch (err) {
    throw fail(`${where}: /transport/${field}: ${(err as Error).message}`);
  }
}

export function resolveAgentNats(
  c: Static<typeof AgentNatsSchema>,
  base: string,
  where: string,
  fail: Fail,
): NatsConnectionConfig {
  return connection(c, base, where, fail);
}

export function resolveHubNats(
  c: Static<typeof HubNatsSchema>,
  base: string,
  where: string,
  fail: Fail,
): HubNatsConfig {
  return {
    ...connection(c, base, where, fail),
    consumer: c.consumer ?? DEFAULT_CONSUMER,
    maxAckPending: c.maxAckPending ?? 1024,
    ackWaitMs: duration(c.ackWait, 'ackWait', 30_000, where, fail),
    duplicateWindowMs: duration(c.duplicateWindow, 'duplicateWindow', 120_000, where, fail),
    maxAgeMs: duration(c.maxAge, 'maxAge', 7 * 86_400_000, where, fail),
  };
}
