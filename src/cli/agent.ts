// `forewarn agent`: run the on-VM agent. Config from YAML, FOREWARN_* env, then flags.
import { join } from 'node:path';
import { Command, Option } from 'commander';
import pino, { type Logger } from 'pino';
import { Agent } from '../agent/agent.js';
import { AGENT_ENV, ConfigError, loadAgentConfig, type ResolvedAgentConfig } from '../agent/config.js';
import { HubClient } from '../agent/hub-client.js';
import { AgentJournal } from '../agent/journal.js';
import { EventGridPublisher, HubPublisher, type Publisher } from '../agent/publisher.js';
import { HookSink, type TransitionSink } from '../agent/sinks.js';
import { NatsCommandChannel } from '../agent/nats-commands.js';
import { NatsLink, NatsPublisher } from '../agent/nats-publisher.js';
import { SyslogSink } from '../agent/syslog-sink.js';
import { buildSources, identifyVm } from '../agent/sources.js';
import type { VmIdentity } from '../sources/source.js';
import { backoffDelay } from '../agent/backoff.js';
import { duration } from './options.js';

/** Asks the metadata service who we are, forever: an unreachable IMDS is a health problem, not an exit. */
async function identify(
  config: ResolvedAgentConfig,
  log: Logger,
  signal: AbortSignal,
): Promise<VmIdentity | undefined> {
  if (config.vm) return { name: config.vm };
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      return await identifyVm(config.provider, config.metadataUrl, config.metadataTimeoutMs);
    } catch (err) {
      const wait = backoffDelay(attempt, { baseMs: 1000, maxMs: config.maxBackoffMs });
      log.warn(
        { err: (err as Error).message, retryInMs: wait },
        'cannot identify this VM from instance metadata yet',
      );
      await new Promise((r) => setTimeout(r, wait));
    }
  }
  return undefined;
}

export function buildAgent(
  config: ResolvedAgentConfig,
  identity: VmIdentity,
  log: Logger,
): { agent: Agent; close: () => Promise<void> } {
  const journal = new AgentJournal(join(config.stateDir, 'agent.db'), config.outboxLimit);
  const sources = buildSources(config, identity.name);
  let publisher: Publisher | undefined;
  if (config.hub)
    publisher = new HubPublisher({
      url: config.hub.url,
      token: config.hub.token,
      timeoutMs: config.hub.timeoutMs,
    });
  if (config.eventGrid) publisher = new EventGridPublisher(config.eventGrid);
  // NATS replaces the hub's HTTP for transitions (and commands); the hub URL still takes heartbeats.
  const nats = config.nats && new NatsLink(config.nats, identity.name);
  if (nats) publisher = new NatsPublisher(nats);
  const sinks: TransitionSink[] = [];
  const syslog = config.syslog
    ? new SyslogSink(
        {
          transport: config.syslog.transport,
          host: config.syslog.host,
          port: config.syslog.port,
          path: config.syslog.path,
          format: config.syslog.format,
        },
        config.syslog.facility,
        { transitions: config.syslog.transitions, siblings: config.syslog.siblings ?? true },
      )
    : undefined;
  if (syslog) sinks.push(syslog);
  for (const h of config.hooks) {
    sinks.push(
      new HookSink({ name: h.name, command: h.command, timeoutMs: h.timeoutMs, env: h.env }, h.on, (t, r) =>
        log[r.ok ? 'info' : 'error'](
          {
            hook: h.name,
            id: t.id,
            exitCode: r.exitCode,
            timedOut: r.timedOut,
            ms: r.durationMs,
            err: r.error,
          },
          'local hook ran',
        ),
      ),
    );
  }
  const hub =
    config.hub?.commands !== false && config.hub
      ? new HubClient({
          url: config.hub.url,
          token: config.hub.token,
          vm: identity.name,
          timeoutMs: config.hub.timeoutMs,
        })
      : undefined;
  // Over NATS when configured (the hub URL then carries heartbeats only), else the HTTP long-poll.
  const commands = nats && config.nats?.commands ? new NatsCommandChannel(nats) : undefined;
  const agent = new Agent({
    identity,
    sources,
    journal,
    log,
    pollIntervalMs: config.pollIntervalMs,
    maxBackoffMs: config.maxBackoffMs,
    batchSize: config.batch,
    publisher,
    hub,
    commands,
    heartbeatIntervalMs: config.hub?.heartbeatMs,
    sinks,
    commandHooks: config.hooks
      .filter((h) => h.remote)
      .map((h) => ({ name: h.name, command: h.command, timeoutMs: h.timeoutMs, env: h.env })),
  });
  return {
    agent,
    async close() {
      await agent.stop();
      await syslog?.close();
      await nats?.close();
      journal.close();
    },
  };
}

export function agentCommand(): Command {
  return new Command('agent')
    .description('watch this VM’s metadata service and deliver every maintenance transition at least once')
    .addOption(
      new Option('-c, --config <file>', 'YAML config (schema: docs/agent-config.schema.json)').env(
        'FOREWARN_AGENT_CONFIG',
      ),
    )
    .option('--vm <name>', 'this VM’s name (default: from /metadata/instance)')
    .option('--state-dir <dir>', 'journal directory (default ./data/agent)')
    .option('--provider <cloud>', 'azure | azure-legacy | aws | gcp | alibaba | tencent (default azure)')
    .option('--metadata-url <url>', 'metadata service base URL (default: the cloud’s own)')
    .option('--poll-interval <duration>', "poll interval, floor 200ms (default '1s')", duration)
    .option('--hub-url <url>', 'hub base URL')
    .option('--log-level <level>', 'fatal | error | warn | info | debug | trace | silent')
    .addHelpText(
      'after',
      `\nEnvironment (below flags, above the file):\n${Object.entries(AGENT_ENV)
        .map(([k, v]) => `  ${k.padEnd(28)} ${v}`)
        .join('\n')}\n`,
    )
    .action(async (o) => {
      let config: ResolvedAgentConfig;
      try {
        config = loadAgentConfig(o.config, process.env, {
          vm: o.vm,
          stateDir: o.stateDir,
          'source.provider': o.provider,
          'metadata.url': o.metadataUrl,
          'poll.interval': o.pollInterval,
          'hub.url': o.hubUrl,
          'log.level': o.logLevel,
        });
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`forewarn agent: ${err.message}\n`);
          process.exit(2);
        }
        throw err;
      }
      // Secrets never reach the log: redact them even if a future field logs the config.
      const log = pino({
        level: config.logLevel,
        redact: ['hub.token', 'eventGrid.key', 'nats.password', '*.token', '*.key', '*.password'],
      });
      const abort = new AbortController();
      const state: { running?: ReturnType<typeof buildAgent> } = {};
      const stop = async () => {
        abort.abort();
        await state.running?.close();
        log.info('agent stopped');
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const identity = await identify(config, log, abort.signal);
      if (!identity) return;
      try {
        state.running = buildAgent(config, identity, log);
      } catch (err) {
        // e.g. a VM name that cannot be a NATS subject token
        process.stderr.write(`forewarn agent: ${(err as Error).message}\n`);
        process.exit(2);
      }
      state.running.agent.start();
    });
}
