// Hub configuration: YAML validated against a published JSON Schema, FOREWARN_* env, then flags.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from '../core/time.js';
import { setPath } from '../core/config-path.js';
import { firstSchemaError } from '../core/validate.js';
import { SCHEMA_NAME } from '../store/postgres-schema.js';
import type { AuthConfig, Role } from './auth.js';
import { checkPools, Pool, type PoolT } from './budgets.js';
import { HubNatsSchema, resolveHubNats, type HubNatsConfig } from '../nats/config.js';

function pools(list: PoolT[]): PoolT[] {
  try {
    checkPools(list);
  } catch (err) {
    throw new HubConfigError((err as Error).message);
  }
  return list;
}

export class HubConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HubConfigError';
  }
}

const Duration = Type.String({ minLength: 1 });
const Secret = {
  token: Type.Optional(Type.String({ minLength: 8 })),
  tokenFile: Type.Optional(Type.String({ minLength: 1 })),
};

export const HubConfigSchema = Type.Object(
  {
    listen: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.String()),
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
        },
        { additionalProperties: false },
      ),
    ),
    publicUrl: Type.Optional(
      Type.String({ pattern: '^https?://', description: 'base URL for links in notifications' }),
    ),
    store: Type.Optional(
      Type.Object(
        {
          kind: Type.Optional(
            Type.Union([Type.Literal('sqlite'), Type.Literal('postgres')], {
              description: 'sqlite (default): one hub; postgres: several hub replicas share one database',
            }),
          ),
          path: Type.Optional(
            Type.String({ minLength: 1, description: 'sqlite: the file (default ./data/hub.db)' }),
          ),
          sqlite: Type.Optional(Type.String({ minLength: 1, description: 'sqlite: older name of path' })),
          synchronous: Type.Optional(
            Type.Union([Type.Literal('full'), Type.Literal('normal')], {
              description:
                'sqlite: full (default): every acknowledged event survives power loss; normal: survives a killed process',
            }),
          ),
          url: Type.Optional(
            Type.String({ pattern: '^postgres(ql)?://', description: 'postgres: connection URL' }),
          ),
          urlFile: Type.Optional(
            Type.String({
              minLength: 1,
              description: 'postgres: a file holding the URL (it may carry a password)',
            }),
          ),
          schema: Type.Optional(
            Type.String({
              pattern: SCHEMA_NAME.source,
              description: 'postgres: schema of the tables, created if missing (default forewarn)',
            }),
          ),
          poolSize: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 200,
              description: 'postgres: connections per hub (default 10)',
            }),
          ),
          writerThread: Type.Optional(
            Type.Boolean({
              description:
                'sqlite: true (default): writes run on their own thread, so commits never stall HTTP; false: on the event loop',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    retention: Type.Optional(Duration),
    staleAfter: Type.Optional(Duration),
    auth: Type.Optional(
      Type.Object(
        {
          agentSecret: Type.Optional(Type.String({ minLength: 16 })),
          agentSecretFile: Type.Optional(Type.String({ minLength: 1 })),
          agents: Type.Optional(
            Type.Array(
              Type.Object({ vm: Type.String({ minLength: 1 }), ...Secret }, { additionalProperties: false }),
            ),
          ),
          operators: Type.Optional(
            Type.Array(
              Type.Object(
                {
                  name: Type.String({ minLength: 1 }),
                  role: Type.Union([Type.Literal('read'), Type.Literal('operate'), Type.Literal('admin')]),
                  ...Secret,
                },
                { additionalProperties: false },
              ),
            ),
          ),
          eventGridKeys: Type.Optional(
            Type.Array(
              Type.Object(
                {
                  name: Type.String({ minLength: 1 }),
                  key: Type.Optional(Type.String({ minLength: 8 })),
                  keyFile: Type.Optional(Type.String()),
                },
                { additionalProperties: false },
              ),
            ),
          ),
          pushSecrets: Type.Optional(
            Type.Array(
              Type.Object(
                {
                  name: Type.String({ minLength: 1, description: 'shown as the reporter: push:<name>' }),
                  secret: Type.Optional(Type.String({ minLength: 16 })),
                  secretFile: Type.Optional(Type.String()),
                },
                { additionalProperties: false },
              ),
              {
                description: 'shared secrets of cloud event pushes (/api/v1/push/aws, /api/v1/push/alibaba)',
              },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    rules: Type.Optional(
      Type.Array(Type.Unknown(), { description: 'rules (each as docs/rule.schema.json); see docs/hub.md' }),
    ),
    pools: Type.Optional(
      Type.Array(Pool, {
        description:
          'pool budgets: at most maxUnavailable VMs of a pool out of service at once (docs/budgets.md)',
      }),
    ),
    rulesFile: Type.Optional(Type.String({ description: 'a YAML file with a `rules:` list' })),
    executor: Type.Optional(
      Type.Object(
        {
          concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          baseBackoff: Type.Optional(Duration),
        },
        { additionalProperties: false },
      ),
    ),
    loadBalancers: Type.Optional(
      Type.Object(
        {
          reconcileEvery: Type.Optional(
            Type.String({
              minLength: 1,
              description:
                "how often drained servers of finished events are compared with HAProxy (default 30s; '0s' off)",
            }),
          ),
          reconcileGrace: Type.Optional(
            Type.String({ minLength: 1, description: 'how long an event must be over before (default 60s)' }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    transport: Type.Optional(HubNatsSchema),
    log: Type.Optional(
      Type.Object(
        {
          level: Type.Optional(
            Type.Union(
              ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  {
    additionalProperties: false,
    $id: 'https://forewarn.dev/schemas/hub-config.json',
    title: 'forewarn hub configuration',
  },
);
type HubConfigFile = Static<typeof HubConfigSchema>;

export const HUB_ENV: Record<string, string> = {
  FOREWARN_HUB_HOST: 'listen.host',
  FOREWARN_HUB_PORT: 'listen.port',
  FOREWARN_HUB_STORE: 'store.kind',
  FOREWARN_HUB_DB: 'store.path',
  FOREWARN_HUB_POSTGRES_URL: 'store.url',
  FOREWARN_HUB_POSTGRES_SCHEMA: 'store.schema',
  FOREWARN_HUB_PUBLIC_URL: 'publicUrl',
  FOREWARN_AGENT_SECRET: 'auth.agentSecret',
  FOREWARN_LOG_LEVEL: 'log.level',
};

export type StoreConfig =
  | { kind: 'sqlite'; path: string; synchronous: 'full' | 'normal'; writerThread: boolean }
  | { kind: 'postgres'; url: string; schema: string; poolSize: number };

export interface ResolvedHubConfig {
  host: string;
  port: number;
  publicUrl?: string;
  store: StoreConfig;
  retentionMs: number;
  staleAfterMs: number;
  auth: AuthConfig;
  rules: unknown[];
  pools: PoolT[];
  concurrency: number;
  baseBackoffMs: number;
  lbReconcileIntervalMs: number;
  lbReconcileGraceMs: number;
  logLevel: string;
  /** `transport: { kind: nats }`: also ingest from JetStream. */
  nats?: HubNatsConfig;
}

export function loadHubConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  overrides: Record<string, unknown> = {},
): ResolvedHubConfig {
  const where = file ? `config ${file}` : 'config';
  const readYaml = (path: string): unknown => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new HubConfigError(`cannot read ${path}: ${(err as Error).message}`);
    }
    try {
      return parseYaml(text);
    } catch (err) {
      throw new HubConfigError(`${path} is not valid YAML: ${(err as Error).message}`);
    }
  };
  const raw = ((file ? readYaml(file) : {}) ?? {}) as Record<string, unknown>;
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new HubConfigError(`${where}: the top level must be a mapping`);
  for (const [name, path] of Object.entries(HUB_ENV)) {
    const v = env[name];
    if (v !== undefined && v !== '') setPath(raw, path, path === 'listen.port' ? Number(v) : v);
  }
  for (const [path, value] of Object.entries(overrides)) if (value !== undefined) setPath(raw, path, value);
  const error = firstSchemaError(HubConfigSchema, raw);
  if (error) throw new HubConfigError(`${where}: ${error.path}: ${error.message}`);
  const c = raw as HubConfigFile;
  const base = file ? dirname(resolve(file)) : process.cwd();
  const read = (path: string, field: string) => {
    try {
      return readFileSync(resolve(base, path), 'utf8').trim();
    } catch (err) {
      throw new HubConfigError(`${where}: ${field}: cannot read ${path}: ${(err as Error).message}`);
    }
  };
  const duration = (v: string | undefined, field: string, fallback: number) => {
    if (v === undefined) return fallback;
    try {
      return parseDuration(v);
    } catch (err) {
      throw new HubConfigError(`${where}: ${field}: ${(err as Error).message}`);
    }
  };
  const secret = (inline: string | undefined, path: string | undefined, field: string) => {
    if (inline) return inline;
    if (path) return read(path, `${field}File`);
    throw new HubConfigError(`${where}: ${field}: required (or ${field.split('/').at(-1)}File)`);
  };
  const a = c.auth ?? {};
  const auth: AuthConfig = {
    agentSecret:
      a.agentSecret ?? (a.agentSecretFile ? read(a.agentSecretFile, '/auth/agentSecretFile') : undefined),
    agents: (a.agents ?? []).map((x, i) => ({
      vm: x.vm,
      token: secret(x.token, x.tokenFile, `/auth/agents/${i}/token`),
    })),
    operators: (a.operators ?? []).map((x, i) => ({
      name: x.name,
      role: x.role as Role,
      token: secret(x.token, x.tokenFile, `/auth/operators/${i}/token`),
    })),
    eventGridKeys: (a.eventGridKeys ?? []).map((x, i) => ({
      name: x.name,
      key: secret(x.key, x.keyFile, `/auth/eventGridKeys/${i}/key`),
    })),
    pushSecrets: (a.pushSecrets ?? []).map((x, i) => ({
      name: x.name,
      secret: secret(x.secret, x.secretFile, `/auth/pushSecrets/${i}/secret`),
    })),
  };
  if (env.FOREWARN_ADMIN_TOKEN)
    auth.operators!.push({ name: 'admin (env)', role: 'admin', token: env.FOREWARN_ADMIN_TOKEN });
  let rules = c.rules ?? [];
  if (c.rulesFile) {
    const doc = readYaml(resolve(base, c.rulesFile)) as { rules?: unknown } | null;
    if (!doc || !Array.isArray(doc.rules))
      throw new HubConfigError(`${c.rulesFile}: expected a top-level rules: list`);
    rules = [...rules, ...doc.rules];
  }
  return {
    host: c.listen?.host ?? '127.0.0.1',
    port: c.listen?.port ?? 8480,
    publicUrl: c.publicUrl,
    store: storeConfig(c.store ?? {}, where, read),
    retentionMs: duration(c.retention, '/retention', 30 * 86_400_000),
    staleAfterMs: duration(c.staleAfter, '/staleAfter', 120_000),
    auth,
    rules,
    concurrency: c.executor?.concurrency ?? 64,
    pools: pools(c.pools ?? []),
    baseBackoffMs: duration(c.executor?.baseBackoff, '/executor/baseBackoff', 1000),
    lbReconcileIntervalMs: duration(c.loadBalancers?.reconcileEvery, '/loadBalancers/reconcileEvery', 30_000),
    lbReconcileGraceMs: duration(c.loadBalancers?.reconcileGrace, '/loadBalancers/reconcileGrace', 60_000),
    logLevel: c.log?.level ?? 'info',
    nats: c.transport && resolveHubNats(c.transport, base, where, (m) => new HubConfigError(m)),
  };
}

/** The store section, with the fields of the other kind refused by name. */
function storeConfig(
  s: NonNullable<HubConfigFile['store']>,
  where: string,
  read: (path: string, field: string) => string,
): StoreConfig {
  const refuse = (fields: (keyof typeof s)[], kind: string) => {
    const bad = fields.find((f) => s[f] !== undefined);
    if (bad) throw new HubConfigError(`${where}: /store/${bad}: only for kind ${kind}`);
  };
  if (s.kind === 'postgres') {
    refuse(['path', 'sqlite', 'synchronous', 'writerThread'], 'sqlite');
    const url = s.url ?? (s.urlFile ? read(s.urlFile, '/store/urlFile') : undefined);
    if (!url) throw new HubConfigError(`${where}: /store/url: required for kind postgres (or urlFile)`);
    if (!/^postgres(ql)?:\/\//.test(url))
      throw new HubConfigError(`${where}: /store/urlFile: must hold a postgres:// URL`);
    return { kind: 'postgres', url, schema: s.schema ?? 'forewarn', poolSize: s.poolSize ?? 10 };
  }
  refuse(['url', 'urlFile', 'schema', 'poolSize'], 'postgres');
  return {
    kind: 'sqlite',
    path: s.path ?? s.sqlite ?? './data/hub.db',
    synchronous: s.synchronous ?? 'full',
    writerThread: s.writerThread ?? true,
  };
}
