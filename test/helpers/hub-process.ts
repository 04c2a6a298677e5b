// Runs `forewarn hub` as a child process (as an operator would), so tests can kill -9 it.
import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from './wait.js';

export interface HubProcess {
  child: ChildProcess;
  url: string;
  /** Everything it wrote (stdout and stderr). */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `forewarn hub --port 0 [--db <db>] --config <config>` and waits for its "hub listening"
 * line. Without `db` the config (or env) says which store.
 */
export async function startHubProcess(o: {
  db?: string;
  config: string;
  env: Record<string, string>;
  timeoutMs?: number;
}): Promise<HubProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'hub',
      '--port',
      '0',
      ...(o.db ? ['--db', o.db] : []),
      '--config',
      o.config,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env } },
  );
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let gone = false;
  void exited.then(() => (gone = true));
  const listening = waitFor(
    () => {
      for (const line of out.split('\n')) {
        if (!line.includes('hub listening')) continue;
        try {
          return (JSON.parse(line) as { url?: string }).url;
        } catch {
          // a partial line: wait for the rest
        }
      }
      return undefined;
    },
    o.timeoutMs ?? 20_000,
    50,
  );
  // A hub that exits (a bad config, an unwritable store) fails the start at once, saying why.
  let url: string;
  try {
    url = await Promise.race([
      listening,
      exited
        .then(() => waitFor(() => out.includes('hub listening'), 200).catch(() => ''))
        .then((ok) => {
          if (ok) return listening;
          throw new Error(`hub exited before listening:\n${out}`);
        }),
    ]);
  } catch (err) {
    child.kill('SIGKILL'); // never leave a hub behind that did not come up in time
    throw err;
  }
  return {
    child,
    url,
    output: () => out,
    exited,
    async kill(signal = 'SIGKILL') {
      if (!gone) child.kill(signal);
      return exited;
    },
  };
}
