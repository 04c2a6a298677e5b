// `forewarn hub` as a child process for benchmarks: the compiled CLI (dist/cli/main.js, rebuilt
// when older than src/, as production runs it: no tsx loader in its CPU and RSS), or the source
// under tsx (test/helpers/hub-process.ts) when BENCH_HUB_ENTRY=tsx.
import { spawn, type ChildProcess } from 'node:child_process';
import { startHubProcess, type HubProcess } from '../../test/helpers/hub-process.js';
import { REPO, agentEntry } from './agent-child.js';
import { waitUntil } from './agent-child.js';

/** Hub children still running: killed if this process exits without stopping them (a crash, Ctrl-C). */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

export async function startHubChild(
  o: { config: string; env: Record<string, string> },
  log: (m: string) => void,
): Promise<HubProcess & { entry: string }> {
  if (process.env.BENCH_HUB_ENTRY === 'tsx')
    return { ...(await startHubProcess({ ...o, timeoutMs: 60_000 })), entry: 'tsx src/cli/main.ts' };
  const { entry } = agentEntry(log);
  const child = spawn(process.execPath, [entry!, 'hub', '--port', '0', '--config', o.config], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...o.env },
  });
  let out = '';
  // Keep the start of the output (the listening line) and the tail (an error), not everything.
  const keep = (c: Buffer) =>
    (out = out.length < 20_000 ? out + c.toString() : out.slice(0, 10_000) + c.toString().slice(-10_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let gone = false;
  running.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      gone = true;
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  let url: string | undefined;
  await waitUntil(
    'the hub to listen',
    () => {
      if (gone) throw new Error(`hub exited before listening:\n${out}`);
      const line = out.split('\n').find((l) => l.includes('hub listening') && l.endsWith('}'));
      url = line ? (JSON.parse(line) as { url?: string }).url : undefined;
      return url !== undefined;
    },
    60_000,
  );
  return {
    child,
    url: url!,
    entry: entry!,
    output: () => out,
    exited,
    async kill(signal = 'SIGKILL') {
      if (!gone) child.kill(signal);
      return exited;
    },
  };
}
