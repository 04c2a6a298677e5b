// The whole `forewarn` command tree, separate from main.ts so tests can run commands in-process.
import { Command } from 'commander';
import { agentCommand } from './agent.js';
import { demoCommand } from './demo.js';
import { hubCommand } from './hub.js';
import { natsConfigCommand } from './nats-config.js';
import { root } from './root.js';
import { simCommand } from './sim.js';

export function program(): Command {
  return root()
    .addCommand(agentCommand())
    .addCommand(hubCommand())
    .addCommand(demoCommand())
    .addCommand(simCommand())
    .addCommand(natsConfigCommand());
}
