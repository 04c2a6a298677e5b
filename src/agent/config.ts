// Agent configuration: a YAML file validated against a published JSON Schema, then FOREWARN_*
// environment variables, then flags (highest). A bad value fails fast naming its path.
import { readFileSync } from 'node:fs';
import { AgentNatsSchema, resolveAgentNats, type NatsConnectionConfig } from '../nats/config.js';
import { Type, type Static } from '@sinclair/typebox';
import { parse as parseYaml } from 'yaml';
import { EVENT_TYPES, TRANSITIONS, type Provider } from '../core/event.js';
import { FACILITIES, type Facility } from '../core/syslog-format.js';
import { parseDuration } from '../core/time.js';
import { setPath } from '../core/config-path.js';
import { firstSchemaError } from '../core/validate.js';
import { METADATA_URLS, resolveSource, SourceConfigSchema, type SourceSettings } from './source-config.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const Duration = Type.String({ minLength: 1, description: "e.g. '1s', '500ms', '5m', 'PT30S'" });
const SecretValue = (what: string) =>
  Type.Optional(Type.String({ minLength: 1, description: `the ${what}; prefer ${what}File or an env var` }));
const SecretFile = (what: string) =>
  Type.Optional(Type.String({ minLength: 1, description: `file holding the ${what}` }));
const Enum = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));

export const AgentConfigSchema = Type.Object(
  {
    vm: Type.Optional(
      Type.String({ minLength: 1, description: 'VM name; default: read from /metadata/instance' }),
    ),
    stateDir: Type.Optional(
      Type.String({ minLength: 1, description: 'where the journal lives (default ./data/agent)' }),
    ),
    metadata: Type.Optional(
      Type.Object(
        {
          url: Type.Optional(
            Type.String({ pattern: '^https?://', description: 'default http://169.254.169.254' }),
          ),
          apiVersion: Type.Optional(
            Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'default 2020-07-01' }),
          ),
          timeout: Type.Optional(Duration),
          scheduledEvents: Type.Optional(
            Type.Boolean({ description: 'poll Scheduled Events (default true)' }),
          ),
          legacy: Type.Optional(
            Type.Boolean({ description: 'also poll the 2015 /metadata/v1/maintenance (default false)' }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    source: Type.Optional(SourceConfigSchema),
    poll: Type.Optional(
      Type.Object(
        { interval: Type.Optional(Duration), maxBackoff: Type.Optional(Duration) },
        { additionalProperties: false },
      ),
    ),
    hub: Type.Optional(
      Type.Object(
        {
          url: Type.String({ pattern: '^https?://' }),
          token: SecretValue('token'),
          tokenFile: SecretFile('token'),
          heartbeat: Type.Optional(Duration),
          timeout: Type.Optional(Duration),
          commands: Type.Optional(
            Type.Boolean({ description: 'long-poll the hub for commands (default true)' }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    eventGrid: Type.Optional(
      Type.Object(
        {
          endpoint: Type.String({ pattern: '^https?://' }),
          key: SecretValue('aeg-sas-key'),
          keyFile: SecretFile('aeg-sas-key'),
          timeout: Type.Optional(Duration),
        },
        {
          additionalProperties: false,
          description: 'publish to an Azure Event Grid topic instead of the hub',
        },
      ),
    ),
    transport: Type.Optional(AgentNatsSchema),
    outbox: Type.Optional(
      Type.Object(
        {
          limit: Type.Optional(Type.Integer({ minimum: 10, maximum: 10_000_000 })),
          batch: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
        },
        { additionalProperties: false },
      ),
    ),
    syslog: Type.Optional(
      Type.Object(
        {
          transport: Enum(['udp', 'tcp', 'unix', 'logger'] as const),
          host: Type.Optional(Type.String()),
          port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
          path: Type.Optional(Type.String()),
          format: Type.Optional(Enum(['rfc5424', 'rfc3164'] as const)),
          facility: Type.Optional(Enum(Object.keys(FACILITIES) as Facility[])),
          transitions: Type.Optional(Type.Array(Enum(TRANSITIONS))),
          siblings: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
    hooks: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }),
            command: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
            timeout: Type.Optional(Duration),
            on: Type.Optional(
              Type.Object(
                {
                  types: Type.Optional(Type.Array(Enum(EVENT_TYPES))),
                  transitions: Type.Optional(Type.Array(Enum(TRANSITIONS))),
                  siblings: Type.Optional(Type.Boolean()),
                },
                { additionalProperties: false },
              ),
            ),
            remote: Type.Optional(
              Type.Boolean({ description: 'the hub may run it with run-hook (default false)' }),
            ),
            env: Type.Optional(Type.Record(Type.String(), Type.String())),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    log: Type.Optional(
      Type.Object(
        {
          level: Type.Optional(Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const)),
        },
        { additionalProperties: false },
      ),
    ),
  },
  {
    additionalProperties: false,
    $id: 'https://forewarn.dev/schemas/agent-config.json',
    title: 'forewarn agent configuration',
  },
);
export type AgentConfigFile = Static<typeof AgentConfigSchema>;

/** Environment variables and the config path each one sets. */
export const AGENT_ENV: Record<string, string> = {
  FOREWARN_VM: 'vm',
  FOREWARN_STATE_DIR: 'stateDir',
  FOREWARN_PROVIDER: 'source.provider',
  FOREWARN_METADATA_URL: 'metadata.url',
  FOREWARN_API_VERSION: 'metadata.apiVersion',
  FOREWARN_POLL_INTERVAL: 'poll.interval',
  FOREWARN_HUB_URL: 'hub.url',
  FOREWARN_HUB_TOKEN: 'hub.token',
  FOREWARN_HUB_TOKEN_FILE: 'hub.tokenFile',
  FOREWARN_EVENTGRID_ENDPOINT: 'eventGrid.endpoint',
  FOREWARN_EVENTGRID_KEY: 'eventGrid.key',
  FOREWARN_LOG_LEVEL: 'log.level',
};

export interface ResolvedAgentConfig {
  vm?: string;
  stateDir: string;
  provider: Provider;
  source: SourceSettings;
  metadataUrl: string;
  apiVersion: string;
  metadataTimeoutMs: number;
  scheduledEvents: boolean;
  legacy: boolean;
  pollIntervalMs: number;
  maxBackoffMs: number;
  hub?: { url: string; token: string; heartbeatMs: number; timeoutMs: number; commands: boolean };
  eventGrid?: { endpoint: string; key: string; timeoutMs: number };
  /** `transport: { kind: nats }`: transitions (and commands) over NATS instead of hub HTTP. */
  nats?: NatsConnectionConfig;
  outboxLimit: number;
  batch: number;
  syslog?: NonNullable<AgentConfigFile['syslog']>;
  hooks: {
    name: string;
    command: string[];
    timeoutMs: number;
    on: NonNullable<NonNullable<AgentConfigFile['hooks']>[number]['on']>;
    remote: boolean;
    env?: Record<string, string>;
  }[];
  logLevel: string;
}

export const POLL_FLOOR_MS = 200;

/**
 * Loads the file (if any), applies env then `overrides` (flags, as config paths), validates
 * the result, and resolves durations and secrets.
 */
export function loadAgentConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  overrides: Record<string, unknown> = {},
): ResolvedAgentConfig {
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config ${file}: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (err) {
      throw new ConfigError(`config ${file} is not valid YAML: ${(err as Error).message}`);
    }
    if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw new ConfigError(`config ${file}: the top level must be a mapping`);
    }
    raw = (parsed as Record<string, unknown>) ?? {};
  }
  for (const [name, path] of Object.entries(AGENT_ENV))
    if (env[name] !== undefined && env[name] !== '') setPath(raw, path, env[name]);
  for (const [path, value] of Object.entries(overrides)) if (value !== undefined) setPath(raw, path, value);

  const where = file ? `config ${file}` : 'config';
  const error = firstSchemaError(AgentConfigSchema, raw);
  if (error) throw new ConfigError(`${where}: ${error.path}: ${error.message}`);
  const c = raw as AgentConfigFile;

  const duration = (value: string | undefined, path: string, fallback: number) => {
    if (value === undefined) return fallback;
    try {
      return parseDuration(value);
    } catch (err) {
      throw new ConfigError(`${where}: /${path.replaceAll('.', '/')}: ${(err as Error).message}`);
    }
  };
  const secret = (inline: string | undefined, fileRef: string | undefined, path: string): string => {
    if (inline) return inline;
    if (fileRef) {
      try {
        return readFileSync(fileRef, 'utf8').trim();
      } catch (err) {
        throw new ConfigError(
          `${where}: /${path.replaceAll('.', '/')}File: cannot read ${fileRef}: ${(err as Error).message}`,
        );
      }
    }
    throw new ConfigError(
      `${where}: /${path.replaceAll('.', '/')}: required (or ${path.split('.').at(-1)}File)`,
    );
  };

  const pollIntervalMs = duration(c.poll?.interval, 'poll.interval', 1000);
  if (pollIntervalMs < POLL_FLOOR_MS) {
    throw new ConfigError(
      `${where}: /poll/interval: ${pollIntervalMs} ms is below the ${POLL_FLOOR_MS} ms floor`,
    );
  }
  if (c.hub && c.eventGrid) throw new ConfigError(`${where}: /eventGrid: choose hub or eventGrid, not both`);
  if (c.transport && c.eventGrid)
    throw new ConfigError(`${where}: /transport: choose the NATS transport or eventGrid, not both`);
  const { provider, source, scheduledEvents, legacy } = resolveSource(c.source, c.metadata, {
    where,
    seconds: (value, path) => duration(value, path, 0),
    error: (message) => new ConfigError(message),
  });
  if (c.syslog) {
    if (c.syslog.transport === 'unix' && !c.syslog.path)
      throw new ConfigError(`${where}: /syslog/path: required for the unix transport`);
    if ((c.syslog.transport === 'udp' || c.syslog.transport === 'tcp') && !c.syslog.port)
      throw new ConfigError(`${where}: /syslog/port: required for ${c.syslog.transport}`);
  }
  const names = new Set<string>();
  for (const [i, h] of (c.hooks ?? []).entries()) {
    if (names.has(h.name)) throw new ConfigError(`${where}: /hooks/${i}/name: ${h.name} is defined twice`);
    names.add(h.name);
  }

  return {
    vm: c.vm,
    stateDir: c.stateDir ?? './data/agent',
    provider,
    source,
    metadataUrl: c.metadata?.url ?? METADATA_URLS[provider],
    apiVersion: c.metadata?.apiVersion ?? '2020-07-01',
    metadataTimeoutMs: duration(c.metadata?.timeout, 'metadata.timeout', 5000),
    scheduledEvents,
    legacy,
    pollIntervalMs,
    maxBackoffMs: duration(c.poll?.maxBackoff, 'poll.maxBackoff', 30_000),
    hub: c.hub && {
      url: c.hub.url,
      token: secret(c.hub.token, c.hub.tokenFile, 'hub.token'),
      heartbeatMs: duration(c.hub.heartbeat, 'hub.heartbeat', 30_000),
      timeoutMs: duration(c.hub.timeout, 'hub.timeout', 10_000),
      commands: c.hub.commands ?? true,
    },
    eventGrid: c.eventGrid && {
      endpoint: c.eventGrid.endpoint,
      key: secret(c.eventGrid.key, c.eventGrid.keyFile, 'eventGrid.key'),
      timeoutMs: duration(c.eventGrid.timeout, 'eventGrid.timeout', 10_000),
    },
    nats: c.transport && resolveAgentNats(c.transport, process.cwd(), where, (m) => new ConfigError(m)),
    outboxLimit: c.outbox?.limit ?? 10_000,
    batch: c.outbox?.batch ?? 100,
    syslog: c.syslog,
    hooks: (c.hooks ?? []).map((h, i) => ({
      name: h.name,
      command: h.command,
      timeoutMs: duration(h.timeout, `hooks.${i}.timeout`, 60_000),
      on: h.on ?? { transitions: ['scheduled'] },
      remote: h.remote ?? false,
      env: h.env,
    })),
    logLevel: c.log?.level ?? 'info',
  };
}
