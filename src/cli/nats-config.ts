// `forewarn nats-config`: writes nats-server's authorization block for a fleet and one password
// file per VM (and for the hub), so each agent gets exactly its own credentials.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { authorizationBlock, hubUser, newPassword, vmUser } from '../nats/authorization.js';
import { DEFAULT_STREAM } from '../nats/config.js';

export function natsConfigCommand(): Command {
  return new Command('nats-config')
    .description('write a nats-server authorization block: each VM may publish only on its own subjects')
    .requiredOption('--vms <list>', 'comma-separated VM names (one NATS user each)')
    .option('--out <dir>', 'where to write nats-auth.conf and the password files', './nats')
    .option('--hub-user <name>', 'the hubs’ NATS user', 'hub')
    .option('--stream <name>', 'the JetStream stream the hubs consume', DEFAULT_STREAM)
    .action((o: { vms: string; out: string; hubUser: string; stream: string }) => {
      const vms = o.vms
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean);
      if (vms.length === 0 || new Set([...vms, o.hubUser]).size !== vms.length + 1) {
        process.stderr.write('forewarn nats-config: --vms needs distinct names, none equal to --hub-user\n');
        process.exit(2);
      }
      let users;
      try {
        users = [hubUser(o.hubUser, newPassword(), o.stream), ...vms.map((vm) => vmUser(vm, newPassword()))];
      } catch (err) {
        process.stderr.write(`forewarn nats-config: ${(err as Error).message}\n`);
        process.exit(2);
      }
      mkdirSync(o.out, { recursive: true, mode: 0o700 });
      const write = (name: string, text: string) => {
        const path = join(o.out, name);
        writeFileSync(path, text, { mode: 0o600 });
        chmodSync(path, 0o600);
        return path;
      };
      const conf = write('nats-auth.conf', authorizationBlock(users));
      for (const u of users) write(`${u.user}.password`, `${u.password}\n`);
      process.stdout.write(
        `wrote ${conf} (include it in nats-server.conf) and ${users.length} password files in ${o.out}\n` +
          `each agent: transport.user = its VM name, transport.passwordFile = <vm>.password\n`,
      );
    });
}
