// The hub config of the kill/restart runs (restart.test.ts, failover.test.ts, the kill -9 drill):
// one rule that matches everything, with N webhook steps to a receiver, and a store.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface WaveConfig {
  /** The webhook receiver; each step posts to `<url>?<step name>`. */
  url: string;
  steps: string[];
  /** `store:` lines (PostgreSQL); none for SQLite (`--db`). */
  store?: string[];
  stepTimeout?: string;
  concurrency?: number;
}

/** Writes `<dir>/hub.yaml` and returns its path. Logs at info: startHubProcess waits for "hub listening". */
export function writeWaveConfig(dir: string, o: WaveConfig): string {
  const path = join(dir, 'hub.yaml');
  writeFileSync(
    path,
    [
      ...(o.store ?? []),
      'log:',
      '  level: info',
      'executor:',
      `  concurrency: ${o.concurrency ?? 16}`,
      '  baseBackoff: 50ms',
      'rules:',
      '  - name: notify',
      '    match: {}',
      '    steps:',
      ...o.steps.map(
        (name) =>
          `      - { name: ${name}, action: webhook, timeout: ${o.stepTimeout ?? '2s'}, with: { url: "${o.url}?${name}" } }`,
      ),
      '',
    ].join('\n'),
  );
  return path;
}
