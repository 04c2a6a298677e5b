// `forewarn demo`: the whole flow in one process, so a newcomer sees it in a minute. A hub on
// SQLite, a simulated fleet with an agent per VM, sample rules, a stand-in load balancer, and a
// maintenance wave on a loop (time ×60). Prints what happens and where to look.
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import Fastify from 'fastify';
import pino from 'pino';
import { parse as parseYaml } from 'yaml';
import { buildAgent } from './agent.js';
import { loadAgentConfig } from '../agent/config.js';
import { deriveAgentToken } from '../hub/auth.js';
import { startMailCapture } from '../hub/mail-capture.js';
import { createHub } from '../hub/server.js';
import { readScenarioFile } from '../simulator/scenario.js';
import { createSimulator } from '../simulator/server.js';
import { SqliteThreadedStore } from '../store/sqlite-threaded.js';
import { integer } from './options.js';

const say = (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)}  ${line}\n`);

export function demoCommand(): Command {
  return new Command('demo')
    .description('hub + simulated fleet + an agent per VM + sample rules, with a maintenance wave on a loop')
    .option('--port <port>', 'hub port (default 8480)', integer(0, 65535), 8480)
    .option('--sim-port <port>', 'simulator port (default 8169)', integer(0, 65535), 8169)
    .option('--scenario <file>', 'scenario to loop', 'examples/rolling-wave.yaml')
    .option('--rules <file>', 'rules', 'examples/demo-rules.yaml')
    .option('--data <dir>', 'where the demo keeps its files (wiped at start)', './data/demo')
    .option('--once', 'play the wave once, then exit')
    .action(async (o) => {
      rmSync(o.data, { recursive: true, force: true });
      const quiet = pino({ level: 'warn' }, pino.destination(2));
      const scenario = await readScenarioFile(o.scenario);

      // A stand-in load balancer: what the drain rule calls.
      const lb = Fastify();
      lb.post('/drain', async (req) => {
        const b = req.body as { vm: string; notBefore?: string };
        say(`LB      drained ${b.vm} (NotBefore ${b.notBefore ?? '-'})`);
        return { ok: true };
      });
      lb.post('/ready', async (req) => {
        say(`LB      ${(req.body as { vm: string }).vm} back in the pool`);
        return { ok: true };
      });
      const lbUrl = await lb.listen({ port: 0, host: '127.0.0.1' });

      const sim = await createSimulator({ timeScale: 60 });
      const simUrl = await sim.listen(o.simPort);
      const secret = randomBytes(24).toString('base64url');
      const admin = `demo-admin-${randomBytes(8).toString('hex')}`;
      // A capture SMTP server: the sample rules mail the administrator here (GET /api/v1/demo/mail).
      const mail = await startMailCapture({
        onMail: (m) => say(`MAIL    to ${m.to.join(', ')}: ${m.subject}`),
      });
      const rulesText = readFileSync(o.rules, 'utf8')
        .replaceAll('{{LB_URL}}', lbUrl)
        .replaceAll("'{{SMTP_PORT}}'", String(mail.port)); // quoted in the file, a number once filled in
      const store = new SqliteThreadedStore(join(o.data, 'hub.db'));
      const hub = await createHub({
        store,
        auth: { agentSecret: secret, operators: [{ name: 'demo', role: 'admin', token: admin }] },
        rules: (parseYaml(rulesText) as { rules: unknown[] }).rules,
        log: quiet,
        mailCapture: mail,
        onAttempt: (a) => {
          if (a.rule === 'log-everything') return;
          say(
            `ACTION  ${a.rule}/${a.step.name} for ${a.vm}: ${a.outcome.status}${a.outcome.status === 'succeeded' ? '' : ` (${a.detail})`}`,
          );
        },
      });
      const hubUrl = await hub.listen(o.port);
      hub.events.on('transition', (t) => {
        const when =
          t.event.notBefore && (t.transition === 'scheduled' || t.transition === 'rescheduled')
            ? `, NotBefore in ${Math.round((Date.parse(t.event.notBefore) - Date.now()) / 1000)} s`
            : '';
        say(
          `EVENT   ${t.event.type} of ${t.event.resources.join(',')} ${t.transition}${when} (reported by ${t.reporter}, ${t.event.origin})`,
        );
      });

      sim.player.load(scenario);
      const agents = sim.controller.fleet.list().map((vm) => {
        const config = loadAgentConfig(
          undefined,
          {},
          {
            vm: vm.name,
            stateDir: join(o.data, 'agents', vm.name),
            'metadata.url': `${simUrl}/vm/${vm.name}`,
            'hub.url': hubUrl,
            'hub.token': deriveAgentToken(secret, vm.name),
            'hub.heartbeat': '10s',
          },
        );
        const built = buildAgent(config, { name: vm.name, tags: vm.tags }, quiet);
        built.agent.start();
        return built;
      });

      process.stdout.write(
        [
          '',
          `forewarn demo: ${agents.length} simulated VMs, each with an agent, reporting to one hub; cloud time runs x60.`,
          `  dashboard    ${hubUrl}/     (log in with the operator token ${admin})`,
          `  hub API      ${hubUrl}/api/v1/events     (token: ${admin})`,
          `  try          curl -s -H 'authorization: Bearer ${admin}' ${hubUrl}/api/v1/events | head -c 600`,
          `  fleet        curl -s -H 'authorization: Bearer ${admin}' ${hubUrl}/api/v1/fleet`,
          `  mail         curl -s -H 'authorization: Bearer ${admin}' ${hubUrl}/api/v1/demo/mail   (SMTP capture on 127.0.0.1:${mail.port})`,
          `  simulator    ${simUrl}/sim/events     (schedule more: forewarn sim event schedule --type Reboot --vm web-03 --in 2m)`,
          `  rules        ${o.rules}`,
          '',
        ].join('\n'),
      );

      // Replay the wave when it is over, so the demo keeps showing something.
      const lastAt = Math.max(...sim.player.status()!.steps.map((s) => Date.parse(s.dueAt)));
      const period = lastAt - Date.now() + 30_000;
      let loop: NodeJS.Timeout | undefined;
      const stop = async () => {
        if (loop) clearInterval(loop);
        await Promise.all(agents.map((a) => a.close()));
        await hub.close();
        await store.close();
        await sim.close();
        await lb.close();
        await mail.close();
        process.exit(0);
      };
      if (o.once) {
        setTimeout(() => void stop(), period);
      } else {
        loop = setInterval(() => {
          say('DEMO    replaying the maintenance wave');
          // Same names, fresh events: the agents keep polling their VMs as if nothing happened.
          sim.player.reset();
          sim.controller.reset({ fleet: true });
          sim.player.load(scenario);
        }, period);
      }
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
