// The `forewarn` command tree, separate from main.ts so tests can run commands in-process.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { agentCommand } from './agent.js';
import { demoCommand } from './demo.js';
import { hubCommand } from './hub.js';
import { simCommand } from './sim.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export function program(): Command {
  return new Command('forewarn')
    .description('Cloud VM scheduled maintenance: discover what the cloud is about to do, and act first.')
    .version(pkg.version)
    .showHelpAfterError()
    .addCommand(agentCommand())
    .addCommand(hubCommand())
    .addCommand(demoCommand())
    .addCommand(simCommand());
}
