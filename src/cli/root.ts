// The bare `forewarn` command, without its subcommands (so each can be loaded on its own).
import { readFileSync } from 'node:fs';
import { Command } from 'commander';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export function root(): Command {
  return new Command('forewarn')
    .description('Cloud VM scheduled maintenance: discover what the cloud is about to do, and act first.')
    .version(pkg.version)
    .showHelpAfterError();
}
