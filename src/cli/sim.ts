// `forewarn sim`: serve the simulator, or drive a running one through its control API.
import { Command, Option } from 'commander';
import { SimError } from '../simulator/fleet.js';
import { readScenarioFile } from '../simulator/scenario.js';
import { createSimulator, type Simulator } from '../simulator/server.js';
import { callJson } from './http-client.js';
import {
  booleanValue,
  durationOrSeconds,
  integer,
  keyValue,
  list,
  onOff,
  positiveNumber,
  rate,
} from './options.js';
import { table } from './table.js';

const DEFAULT_PORT = 8169;

interface EventRow {
  eventId: string;
  type: string;
  status: string;
  source: string;
  notBefore: string;
  resources: string[];
  approvedBy: string[];
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function urlOption(): Option {
  return new Option('--url <url>', 'simulator base URL')
    .env('FOREWARN_SIM_URL')
    .default(`http://127.0.0.1:${DEFAULT_PORT}`);
}

function eventTable(events: EventRow[]): string {
  return table(
    events.map((e) => ({ ...e, resources: e.resources.join(','), approvedBy: e.approvedBy.join(',') })),
    ['eventId', 'type', 'status', 'source', 'notBefore', 'resources', 'approvedBy'],
  );
}

export interface ServeOptions {
  port?: number;
  host?: string;
  scenario?: string;
  /** An explicit time scale (option or environment): beats the scenario's `timeScale`. */
  timeScale?: number;
  rateLimit?: number;
  etag?: boolean;
  strictApprovals?: boolean;
  enableDelay?: string;
  defaultVm?: string;
  logLevel?: string;
}

/**
 * What `forewarn sim serve` does before it prints its banner: create the simulator, load the
 * scenario (an explicit time scale wins over the scenario's), check the default VM, listen.
 * Nothing listens if any of it fails.
 */
export async function startSimulator(
  opts: ServeOptions,
): Promise<{ sim: Simulator; url: string; warnings: string[] }> {
  const scenario = opts.scenario ? await readScenarioFile(opts.scenario) : undefined;
  const sim = await createSimulator({
    timeScale: opts.timeScale,
    rateLimit: opts.rateLimit ?? 5,
    etag: opts.etag ?? false,
    strictApprovals: opts.strictApprovals ?? false,
    enableDelay: opts.enableDelay,
    defaultVm: opts.defaultVm,
    logger: { level: opts.logLevel ?? 'info' },
  });
  const warnings: string[] = [];
  try {
    if (scenario !== undefined) sim.player.load(scenario, { timeScale: opts.timeScale });
    const names = sim.controller.fleet.list().map((vm) => vm.name);
    if (opts.defaultVm !== undefined && !names.includes(opts.defaultVm)) {
      // Without a scenario the fleet starts empty and the VM may be created later; with one, the
      // fleet is known, and a name not in it is a mistake.
      if (scenario !== undefined || names.length > 0) {
        throw new SimError(
          400,
          `--default-vm: no VM named ${JSON.stringify(opts.defaultVm)} in the fleet (${names.join(', ')})`,
        );
      }
      warnings.push(
        `default VM ${JSON.stringify(opts.defaultVm)} does not exist yet: the unprefixed /metadata paths answer 404 until it is created`,
      );
    }
    const url = await sim.listen(opts.port ?? DEFAULT_PORT, opts.host ?? '127.0.0.1');
    return { sim, url, warnings };
  } catch (err) {
    await sim.close();
    throw err;
  }
}

function serveCommand(): Command {
  return new Command('serve')
    .description('serve per-VM metadata endpoints and the control API (the default subcommand)')
    .addOption(
      new Option('-p, --port <port>', 'TCP port')
        .env('FOREWARN_SIM_PORT')
        .default(DEFAULT_PORT)
        .argParser(integer(0, 65535)),
    )
    .addOption(new Option('--host <host>', 'address to bind').env('FOREWARN_SIM_HOST').default('127.0.0.1'))
    .addOption(
      new Option('-s, --scenario <file>', 'YAML scenario to load and play at start').env(
        'FOREWARN_SIM_SCENARIO',
      ),
    )
    .addOption(
      new Option(
        '-t, --time-scale <n>',
        "run cloud time this many times faster (60: 15 min notice in 15 s); beats a scenario's timeScale",
      )
        .env('FOREWARN_SIM_TIME_SCALE')
        .argParser(positiveNumber),
    )
    .addOption(
      new Option('--rate-limit <n>', 'metadata requests per second per VM before 429 (0 = off)')
        .env('FOREWARN_SIM_RATE_LIMIT')
        .default(5)
        .argParser(integer(0, 1_000_000)),
    )
    .addOption(
      new Option(
        '--etag [on|off]',
        'send ETag and answer If-None-Match with 304: alone, or on|off, true|false, yes|no, 1|0',
      )
        .env('FOREWARN_SIM_ETAG')
        .argParser(booleanValue),
    )
    .addOption(
      new Option(
        '--strict-approvals [on|off]',
        'answer 400 to StartRequests for unknown or foreign EventIds (default: ignore); alone, or on|off as --etag',
      )
        .env('FOREWARN_SIM_STRICT_APPROVALS')
        .argParser(booleanValue),
    )
    .addOption(
      new Option(
        '--enable-delay <duration>',
        "first Scheduled Events call per VM waits this long (cloud time), e.g. '2m' or 120 (seconds)",
      )
        .env('FOREWARN_SIM_ENABLE_DELAY')
        .argParser(durationOrSeconds),
    )
    .addOption(
      new Option(
        '--default-vm <name>',
        'VM served on the unprefixed /metadata paths (default: the first); must be in the scenario',
      ).env('FOREWARN_SIM_DEFAULT_VM'),
    )
    .addOption(
      new Option('--log-level <level>', 'log level')
        .env('FOREWARN_LOG_LEVEL')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info'),
    )
    .action(async (opts: ServeOptions) => {
      const { sim, url, warnings } = await startSimulator(opts);
      const vms = sim.controller.fleet.list();
      const example = vms[0]
        ? `\n  try: curl -s -H Metadata:true '${url}/vm/${vms[0].name}/metadata/scheduledevents?api-version=2020-07-01'`
        : '';
      const scenario = sim.player.status();
      process.stderr.write(
        `forewarn simulator on ${url}: ${vms.length} VMs, time x${sim.controller.timeScale}` +
          `${scenario ? `, scenario '${scenario.name}'` : ''}\n  control API: ${url}/sim (OpenAPI at ${url}/sim/openapi.json)` +
          `\n  cloud APIs (ECS, EC2, CVM): endpoint ${url}${example}\n` +
          warnings.map((w) => `  warning: ${w}\n`).join(''),
      );
      const stop = async () => {
        await sim.close();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}

function eventCommand(): Command {
  const event = new Command('event').description('schedule and drive maintenance events');
  event
    .command('schedule')
    .description('schedule an event on the VMs matching every given target')
    .requiredOption(
      '--type <type>',
      'the cloud’s event type: azure Freeze | Reboot | Redeploy | Preempt | Terminate; aws system-reboot | ' +
        'instance-reboot | system-maintenance | instance-retirement | instance-stop | spot-terminate | spot-stop | ' +
        'spot-hibernate | rebalance; gcp migrate | terminate | preempt | upcoming-maintenance; alibaba, tencent spot-termination',
    )
    .option('--vm <names>', 'comma-separated VM names', list)
    .option('--pool <pool>', 'VMs of this pool')
    .option('--availability-set <name>', 'VMs of this availability set')
    .option('--scale-set <name>', 'VMs of this scale set')
    .option('--zone <zone>', 'VMs in this zone')
    .option('--fault-domain <n>', 'VMs in this fault domain', integer(0, 19))
    .option('--update-domain <n>', 'VMs in this update domain', integer(0, 19))
    .option('--tag <key=value>', 'VMs with this tag (repeatable)', keyValue)
    .option(
      '--in <duration>',
      "notice before NotBefore, cloud time: '90s', '15m', 'PT5M' or seconds (default per type)",
      durationOrSeconds,
    )
    .option('--not-before <iso>', 'absolute NotBefore (ISO 8601)')
    .option('--duration <seconds>', 'DurationInSeconds (-1 unknown, 0 no impact)', integer(-1, 86_400 * 30))
    .option(
      '--started-for <duration>',
      'how long it stays Started, cloud time (or seconds)',
      durationOrSeconds,
    )
    .option('--source <source>', 'Platform | User', 'Platform')
    .option('--description <text>', 'Description')
    .option('--host-failure', 'publish it already Started, as on an actual host failure')
    .option(
      '--approval <mode>',
      "'any': one VM's approval starts it (Azure); 'all': every affected VM must approve",
    )
    .addOption(urlOption())
    .action(async (o) => {
      const targets = Object.fromEntries(
        Object.entries({
          vms: o.vm,
          pool: o.pool,
          availabilitySet: o.availabilitySet,
          scaleSet: o.scaleSet,
          zone: o.zone,
          faultDomain: o.faultDomain,
          updateDomain: o.updateDomain,
          tags: o.tag,
        }).filter(([, v]) => v !== undefined),
      );
      const body = Object.fromEntries(
        Object.entries({
          type: o.type,
          targets,
          notice: o.in,
          notBefore: o.notBefore,
          durationSeconds: o.duration,
          startedFor: o.startedFor,
          source: o.source,
          description: o.description,
          status: o.hostFailure ? 'Started' : undefined,
          approval: o.approval,
        }).filter(([, v]) => v !== undefined),
      );
      const res = (await callJson(o.url, 'POST', 'sim/events', body)) as { events: EventRow[] };
      process.stdout.write(`${eventTable(res.events)}\n`);
    });
  event
    .command('list')
    .description('list events')
    .option('--status <status>', 'Scheduled | Started | Completed | Canceled')
    .option('--vm <name>', 'events a VM sees')
    .option('--json', 'print JSON')
    .addOption(urlOption())
    .action(async (o) => {
      const q = new URLSearchParams(
        Object.entries({ status: o.status, vm: o.vm }).filter(([, v]) => v) as [string, string][],
      );
      const res = (await callJson(o.url, 'GET', `sim/events${q.size ? `?${q}` : ''}`)) as {
        events: EventRow[];
      };
      if (o.json) print(res);
      else process.stdout.write(`${eventTable(res.events)}\n`);
    });
  event
    .command('show <id>')
    .description('one event with its history')
    .addOption(urlOption())
    .action(async (id, o) => {
      print(await callJson(o.url, 'GET', `sim/events/${encodeURIComponent(id)}`));
    });
  for (const verb of ['start', 'complete', 'cancel'] as const) {
    event
      .command(`${verb} <id>`)
      .description(`${verb} an event now`)
      .addOption(urlOption())
      .action(async (id, o) =>
        print(await callJson(o.url, 'POST', `sim/events/${encodeURIComponent(id)}/${verb}`)),
      );
  }
  event
    .command('reschedule <id>')
    .description('move NotBefore of a Scheduled event')
    .option('--in <duration>', 'new notice from now, cloud time (or seconds)', durationOrSeconds)
    .option('--not-before <iso>', 'new absolute NotBefore')
    .addOption(urlOption())
    .action(async (id, o) =>
      print(
        await callJson(o.url, 'POST', `sim/events/${encodeURIComponent(id)}/reschedule`, {
          notice: o.in,
          notBefore: o.notBefore,
        }),
      ),
    );
  return event;
}

function vmCommand(): Command {
  const vm = new Command('vm').description('manage the simulated fleet');
  vm.command('list')
    .option('--json', 'print JSON')
    .addOption(urlOption())
    .action(async (o) => {
      const res = (await callJson(o.url, 'GET', 'sim/vms')) as { vms: Record<string, unknown>[] };
      if (o.json) return print(res);
      process.stdout.write(
        `${table(res.vms, ['name', 'provider', 'pool', 'availabilitySet', 'scaleSet', 'zone', 'faultDomain', 'updateDomain', 'id'])}\n`,
      );
    });
  vm.command('create <name>')
    .option(
      '--provider <cloud>',
      'azure (default) | aws | gcp | alibaba | tencent: which metadata API it serves',
    )
    .option('--http-tokens <mode>', 'aws, alibaba: optional (default) | required metadata session tokens')
    .option('--pool <pool>')
    .option('--availability-set <name>')
    .option('--scale-set <name>')
    .option('--zone <zone>')
    .option('--fault-domain <n>', 'fault domain', integer(0, 19))
    .option('--update-domain <n>', 'update domain', integer(0, 19))
    .option('--tag <key=value>', 'tag (repeatable)', keyValue)
    .addOption(urlOption())
    .action(async (name, o) => {
      const { url, tag, ...rest } = o;
      print(await callJson(url, 'POST', 'sim/vms', { name, ...rest, ...(tag ? { tags: tag } : {}) }));
    });
  vm.command('delete <name>')
    .addOption(urlOption())
    .action(async (name, o) => {
      print(await callJson(o.url, 'DELETE', `sim/vms/${encodeURIComponent(name)}`));
    });
  for (const verb of ['reboot', 'redeploy'] as const) {
    vm.command(`${verb} <name>`)
      .description(`user-initiated ${verb}, like the portal's button`)
      .option('--in <duration>', 'notice, cloud time (or seconds)', durationOrSeconds)
      .addOption(urlOption())
      .action(async (name, o) =>
        print(
          await callJson(
            o.url,
            'POST',
            `sim/vms/${encodeURIComponent(name)}/${verb}`,
            o.in ? { notice: o.in } : {},
          ),
        ),
      );
  }
  return vm;
}

function faultCommand(): Command {
  const fault = new Command('fault').description('inject metadata-service faults, globally or per VM');
  fault
    .command('set')
    .option('--vm <name>', 'only this VM (its faults replace the global ones)')
    .option('--error-rate <r>', 'answer with --error-status at this rate (0..1)', rate)
    .option(
      '--error-status <code>',
      'status for injected errors (default 500; 410, 503 …)',
      integer(400, 599),
    )
    .option('--latency <ms>', 'added delay in ms', integer(0, 600_000))
    .option('--hang-rate <r>', 'hold responses at this rate', rate)
    .option('--hang <ms>', 'how long a held response waits (default 120000)', integer(0, 3_600_000))
    .option('--malformed-rate <r>', 'serve broken JSON at this rate', rate)
    .option('--malformed-kind <kind>', 'truncated | garbage | empty | wrong-shape')
    .option('--incarnation-backwards-rate <r>', 'serve an older DocumentIncarnation at this rate', rate)
    .option('--vanish-rate <r>', 'serve the document without its events at this rate', rate)
    .option('--count <n>', 'clear after this many affected requests', integer(1, 1_000_000))
    .option('--endpoints <list>', 'scheduledevents,instance,legacy', list)
    .addOption(urlOption())
    .action(async (o) => {
      const spec = Object.fromEntries(
        Object.entries({
          errorRate: o.errorRate,
          errorStatus: o.errorStatus,
          latencyMs: o.latency,
          hangRate: o.hangRate,
          hangMs: o.hang,
          malformedRate: o.malformedRate,
          malformedKind: o.malformedKind,
          incarnationBackwardsRate: o.incarnationBackwardsRate,
          vanishRate: o.vanishRate,
          count: o.count,
          endpoints: o.endpoints,
        }).filter(([, v]) => v !== undefined),
      );
      print(
        await callJson(
          o.url,
          'PUT',
          o.vm ? `sim/vms/${encodeURIComponent(o.vm)}/faults` : 'sim/faults',
          spec,
        ),
      );
    });
  fault
    .command('clear')
    .description("clear the global faults (per-VM faults stay), one VM's (--vm), or all (--all)")
    .option('--vm <name>', 'only this VM')
    .addOption(new Option('--all', 'the global and every per-VM fault spec').conflicts('vm'))
    .addOption(urlOption())
    .action(async (o) => {
      const path = o.vm
        ? `sim/vms/${encodeURIComponent(o.vm)}/faults`
        : `sim/faults${o.all ? '?all=true' : ''}`;
      print(await callJson(o.url, 'DELETE', path));
    });
  fault
    .command('show')
    .addOption(urlOption())
    .action(async (o) => print(await callJson(o.url, 'GET', 'sim/faults')));
  return fault;
}

export function simCommand(): Command {
  const sim = new Command('sim').description(
    'the cloud simulator: per-VM metadata services and a control API',
  );
  sim.addCommand(serveCommand(), { isDefault: true });
  sim.addHelpText(
    'after',
    [
      '',
      'Without a command, `forewarn sim [options]` runs `forewarn sim serve [options]`.',
      'Server options (--port, --host, --scenario, --time-scale, --rate-limit, --etag,',
      '--strict-approvals, --enable-delay, --default-vm, --log-level) are described by',
      '`forewarn sim serve --help`.',
    ].join('\n'),
  );
  sim.addCommand(eventCommand());
  sim.addCommand(vmCommand());
  sim.addCommand(faultCommand());
  const scenario = sim.command('scenario').description('play scenario files');
  scenario
    .command('play <file>')
    .description('load a YAML scenario into a running simulator')
    .addOption(urlOption())
    .action(async (file, o) => {
      print(await callJson(o.url, 'POST', 'sim/scenario', await readScenarioFile(file)));
    });
  scenario
    .command('status')
    .addOption(urlOption())
    .action(async (o) => print(await callJson(o.url, 'GET', 'sim/scenario')));
  sim
    .command('approvals')
    .description('StartRequests the simulator received')
    .option('--event <id>', 'only this event')
    .addOption(urlOption())
    .action(async (o) =>
      print(
        await callJson(
          o.url,
          'GET',
          `sim/approvals${o.event ? `?event=${encodeURIComponent(o.event)}` : ''}`,
        ),
      ),
    );
  sim
    .command('requests')
    .description('recent metadata requests')
    .option('--vm <name>', 'only this VM')
    .option('--limit <n>', 'how many', '50')
    .addOption(urlOption())
    .action(async (o) => {
      const q = new URLSearchParams({ limit: o.limit, ...(o.vm ? { vm: o.vm } : {}) });
      print(await callJson(o.url, 'GET', `sim/requests?${q}`));
    });
  sim
    .command('config')
    .description('show or change time scale, rate limit, ETag, strict approvals and enable delay')
    .option('--time-scale <n>', 'time scale', positiveNumber)
    .option('--rate-limit <n>', 'requests/s per VM (0 = off)', integer(0, 1_000_000))
    .option('--etag <on|off>', 'ETag support', onOff)
    .option('--strict-approvals <on|off>', '400 for StartRequests naming unknown or foreign EventIds', onOff)
    .option('--enable-delay <duration>', 'first-call delay, cloud time (or seconds)', durationOrSeconds)
    .addOption(urlOption())
    .action(async (o) => {
      const body = Object.fromEntries(
        Object.entries({
          timeScale: o.timeScale,
          rateLimit: o.rateLimit,
          etag: o.etag,
          strictApprovals: o.strictApprovals,
          enableDelay: o.enableDelay,
        }).filter(([, v]) => v !== undefined),
      );
      print(
        await callJson(
          o.url,
          Object.keys(body).length ? 'PATCH' : 'GET',
          'sim/config',
          Object.keys(body).length ? body : undefined,
        ),
      );
    });
  sim
    .command('reset')
    .description('drop every event, approval, fault and logged request')
    .option('--fleet', 'also delete every VM')
    .addOption(urlOption())
    .action(async (o) => print(await callJson(o.url, 'POST', 'sim/reset', { fleet: Boolean(o.fleet) })));
  return sim;
}
