// `forewarn hub`: run the hub; `forewarn hub token`: derive an agent's token.
import { Command, Option } from 'commander';
import pino from 'pino';
import { deriveAgentToken } from '../hub/auth.js';
import {
  HUB_ENV,
  HubConfigError,
  loadHubConfig,
  type ResolvedHubConfig,
  type StoreConfig,
} from '../hub/config.js';
import { createHub } from '../hub/server.js';
import { PostgresStore } from '../store/postgres.js';
import { SqliteStore } from '../store/sqlite.js';
import { SqliteThreadedStore } from '../store/sqlite-threaded.js';
import type { Store } from '../store/store.js';
import { integer } from './options.js';

function load(o: {
  config?: string;
  port?: number;
  host?: string;
  db?: string;
  logLevel?: string;
}): ResolvedHubConfig {
  try {
    return loadHubConfig(o.config, process.env, {
      'listen.port': o.port,
      'listen.host': o.host,
      'store.path': o.db,
      'log.level': o.logLevel,
    });
  } catch (err) {
    if (err instanceof HubConfigError) {
      process.stderr.write(`forewarn hub: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

async function openStore(c: StoreConfig, log: pino.Logger): Promise<Store> {
  if (c.kind === 'sqlite')
    return c.writerThread
      ? new SqliteThreadedStore(c.path, { synchronous: c.synchronous })
      : new SqliteStore(c.path, { synchronous: c.synchronous });
  return PostgresStore.open({
    url: c.url,
    schema: c.schema,
    poolSize: c.poolSize,
    onListenError: (err) => log.warn({ err: err.message }, 'postgres LISTEN connection lost; reconnecting'),
  });
}

/** What to log about the store: never the URL (it may carry a password). */
function describeStore(c: StoreConfig): Record<string, unknown> {
  if (c.kind === 'sqlite') return { kind: 'sqlite', path: c.path };
  const u = new URL(c.url);
  return { kind: 'postgres', host: u.host, database: u.pathname.slice(1), schema: c.schema };
}

export function hubCommand(): Command {
  const hub = new Command('hub').description('the central hub: ingest, store, rules, actions, API');
  const common = (c: Command) =>
    c
      .addOption(
        new Option('-c, --config <file>', 'YAML config (schema: docs/hub-config.schema.json)').env(
          'FOREWARN_HUB_CONFIG',
        ),
      )
      .option('--port <port>', 'listen port (default 8480)', integer(0, 65535))
      .option('--host <host>', 'listen address (default 127.0.0.1)')
      .option('--db <file>', 'SQLite file (default ./data/hub.db; store.kind sqlite only)')
      .option('--log-level <level>', 'fatal | error | warn | info | debug | trace | silent');
  common(hub.command('serve', { isDefault: true }).description('run the hub (the default subcommand)'))
    .addHelpText(
      'after',
      `\nEnvironment (below flags, above the file):\n${Object.entries(HUB_ENV)
        .map(([k, v]) => `  ${k.padEnd(26)} ${v}`)
        .join('\n')}\n  FOREWARN_ADMIN_TOKEN       an extra admin operator token\n`,
    )
    .action(async (o) => {
      const config = load(o);
      const log = pino({ level: config.logLevel });
      let h;
      let store: Store | undefined;
      try {
        store = await openStore(config.store, log);
        h = await createHub({
          store,
          // One hub owns a SQLite file; replicas sharing PostgreSQL must leave each other's leases alone.
          releaseLeasesAtStart: config.store.kind === 'sqlite',
          auth: config.auth,
          rules: config.rules,
          log,
          concurrency: config.concurrency,
          pools: config.pools,
          baseBackoffMs: config.baseBackoffMs,
          staleAfterMs: config.staleAfterMs,
          publicUrl: config.publicUrl,
          retentionMs: config.retentionMs,
          lbReconcileIntervalMs: config.lbReconcileIntervalMs,
          nats: config.nats,
          lbReconcileGraceMs: config.lbReconcileGraceMs,
        });
      } catch (err) {
        process.stderr.write(`forewarn hub: ${(err as Error).message}\n`);
        await store?.close().catch(() => undefined);
        process.exit(2);
      }
      const url = await h.listen(config.port, config.host);
      log.info({ url, store: describeStore(config.store), rules: h.rules.all().length }, 'hub listening');
      const stop = async () => {
        await h.close();
        await store.close();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  common(
    hub
      .command('token')
      .description('print the agent token of a VM (derived from auth.agentSecret)')
      .requiredOption('--vm <name>', 'the VM'),
  ).action((o) => {
    const config = load(o);
    if (!config.auth.agentSecret) {
      process.stderr.write(
        'forewarn hub token: no auth.agentSecret (or FOREWARN_AGENT_SECRET) is configured\n',
      );
      process.exit(2);
    }
    process.stdout.write(`${deriveAgentToken(config.auth.agentSecret, o.vm)}\n`);
  });
  return hub;
}
