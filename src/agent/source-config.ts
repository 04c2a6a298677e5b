// The agent's `source` config: which cloud's metadata to watch, and the options each cloud takes.
// An option of another cloud is an error naming its path, never silently ignored.
import { Type, type Static } from '@sinclair/typebox';
import { PROVIDERS, type Provider } from '../core/event.js';

const Enum = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));

export const SourceConfigSchema = Type.Object(
  {
    provider: Enum(PROVIDERS),
    tokenTtl: Type.Optional(
      Type.String({
        minLength: 1,
        description: "aws, alibaba: metadata session token TTL, 1s to 6h (default '6h')",
      }),
    ),
    v1Fallback: Type.Optional(
      Type.Boolean({
        description: 'aws, alibaba: read without a token when the token PUT fails (default false)',
      }),
    ),
    token: Type.Optional(
      Type.Boolean({ description: 'alibaba: use the hardened-mode session token (default true)' }),
    ),
    longPoll: Type.Optional(
      Type.String({ minLength: 1, description: "gcp: wait_for_change timeout_sec (default '60s')" }),
    ),
    terminateNotice: Type.Optional(
      Type.String({
        minLength: 1,
        description: "gcp: notice assumed for TERMINATE_ON_HOST_MAINTENANCE (default '60s'; '1h' on GPU VMs)",
      }),
    ),
    upcoming: Type.Optional(
      Type.Boolean({ description: 'gcp: also watch upcoming-maintenance (default true)' }),
    ),
  },
  {
    additionalProperties: false,
    description: 'which cloud’s metadata service to watch (default azure)',
  },
);
export type SourceConfig = Static<typeof SourceConfigSchema>;

/** Per-cloud source options, resolved; each applies to the providers named in its schema description. */
export interface SourceSettings {
  tokenTtlSeconds?: number;
  v1Fallback?: boolean;
  token?: boolean;
  longPollSeconds?: number;
  terminateNoticeSeconds?: number;
  upcoming?: boolean;
}

/** Where each cloud's metadata service answers from inside a VM. */
export const METADATA_URLS: Record<Provider, string> = {
  azure: 'http://169.254.169.254',
  'azure-legacy': 'http://169.254.169.254',
  aws: 'http://169.254.169.254',
  gcp: 'http://metadata.google.internal',
  alibaba: 'http://100.100.100.200',
  tencent: 'http://metadata.tencentyun.com',
};

const SOURCE_OPTIONS: Record<keyof SourceConfig, Provider[] | 'all'> = {
  provider: 'all',
  tokenTtl: ['aws', 'alibaba'],
  v1Fallback: ['aws', 'alibaba'],
  token: ['alibaba'],
  longPoll: ['gcp'],
  terminateNotice: ['gcp'],
  upcoming: ['gcp'],
};

const AZURE_ONLY = ['apiVersion', 'scheduledEvents', 'legacy'] as const;

/** Checks the per-cloud options against the provider and resolves them; `error` builds the thrown error. */
export function resolveSource(
  c: SourceConfig | undefined,
  metadata:
    | (Partial<Record<(typeof AZURE_ONLY)[number], unknown>> & {
        scheduledEvents?: boolean;
        legacy?: boolean;
      })
    | undefined,
  o: { where: string; seconds: (value: string, path: string) => number; error: (message: string) => Error },
): { provider: Provider; source: SourceSettings; scheduledEvents: boolean; legacy: boolean } {
  const provider = c?.provider ?? 'azure';
  for (const [key, value] of Object.entries(c ?? {})) {
    const allowed = SOURCE_OPTIONS[key as keyof SourceConfig];
    if (value !== undefined && allowed !== 'all' && !allowed.includes(provider))
      throw o.error(`${o.where}: /source/${key}: only for provider ${allowed.join(' or ')}, not ${provider}`);
  }
  if (provider !== 'azure') {
    for (const key of AZURE_ONLY) {
      if (metadata?.[key] !== undefined)
        throw o.error(`${o.where}: /metadata/${key}: only for provider azure, not ${provider}`);
    }
  }
  const scheduledEvents = provider === 'azure' ? (metadata?.scheduledEvents ?? true) : false;
  const legacy = provider === 'azure-legacy' || (provider === 'azure' && (metadata?.legacy ?? false));
  if (provider === 'azure' && !scheduledEvents && !legacy)
    throw o.error(`${o.where}: /metadata: enable scheduledEvents or legacy`);
  const seconds = (value: string | undefined, path: string, min: number, max: number) => {
    if (value === undefined) return undefined;
    const ms = o.seconds(value, path);
    if (ms < min * 1000 || ms > max * 1000 || ms % 1000 !== 0)
      throw o.error(`${o.where}: /${path.replaceAll('.', '/')}: whole seconds from ${min} to ${max}`);
    return ms / 1000;
  };
  const source: SourceSettings = {
    tokenTtlSeconds: seconds(c?.tokenTtl, 'source.tokenTtl', 1, 21_600),
    v1Fallback: c?.v1Fallback,
    token: c?.token,
    longPollSeconds: seconds(c?.longPoll, 'source.longPoll', 1, 3600),
    terminateNoticeSeconds: seconds(c?.terminateNotice, 'source.terminateNotice', 1, 86_400),
    upcoming: c?.upcoming,
  };
  for (const k of Object.keys(source) as (keyof SourceSettings)[])
    if (source[k] === undefined) delete source[k];
  return { provider, source, scheduledEvents, legacy };
}
