#!/usr/bin/env node
// Entry point of the `forewarn` binary. `forewarn agent` loads only the agent's modules: it runs
// on every VM with a 60 MB budget, and the hub's and simulator's web stack would double that.
import type { Command } from 'commander';

async function command(): Promise<Command> {
  if (process.argv[2] === 'agent') {
    const [{ root }, { agentCommand }] = await Promise.all([import('./root.js'), import('./agent.js')]);
    return root().addCommand(agentCommand());
  }
  return (await import('./program.js')).program();
}

command()
  .then((c) => c.parseAsync(process.argv))
  .catch(async (err: unknown) => {
    const [{ ApiError }, { SimError }] = await Promise.all([
      import('./http-client.js'),
      import('../simulator/fleet.js'),
    ]);
    if (err instanceof ApiError || err instanceof SimError) {
      process.stderr.write(`forewarn: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  });
