// examples/haproxy stays true: its rules load in a real hub (every haproxy step's params are
// checked), its hub config loads, and HAProxy itself accepts its haproxy.cfg (`haproxy -c`).
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadHubConfig } from '../../src/hub/config.js';
import { tempDir } from '../helpers/agent.js';
import { HAPROXY, haproxySkipReason } from '../helpers/haproxy.js';
import { startHub, type TestHub } from '../helpers/hub.js';

const dir = join(import.meta.dirname, '../../examples/haproxy');
let h: TestHub | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('examples/haproxy', () => {
  it('its rules load in a hub', async () => {
    const { rules } = parse(readFileSync(join(dir, 'rules.yaml'), 'utf8')) as { rules: any[] };
    h = await startHub({ rules });
    expect(h.hub.rules.all().map((r) => r.name)).toEqual(['haproxy-drain']);
    expect(rules[0].steps[0]).toMatchObject({ action: 'haproxy', with: { operation: 'drain' } });
    expect(rules[0].steps[1]).toMatchObject({ action: 'approve' });
    expect(rules[0].undo[0]).toMatchObject({ action: 'haproxy', with: { operation: 'ready' } });
    expect(h.hub.rules.all()[0]!.window).toMatchObject({ timeZone: 'Europe/Berlin' });
  });

  it('its hub config loads, with the reconciler settings', () => {
    const tmp = tempDir('forewarn-lb-example-');
    writeFileSync(join(tmp, 'secret'), 'an-agent-secret-of-some-length');
    const yaml = readFileSync(join(dir, 'hub.yaml'), 'utf8').replace(
      '/etc/forewarn/agent-secret',
      join(tmp, 'secret'),
    );
    writeFileSync(join(tmp, 'hub.yaml'), yaml);
    writeFileSync(join(tmp, 'rules.yaml'), readFileSync(join(dir, 'rules.yaml')));
    const config = loadHubConfig(join(tmp, 'hub.yaml'), {});
    expect(config).toMatchObject({ lbReconcileIntervalMs: 30_000, lbReconcileGraceMs: 60_000 });
    expect(config.pools).toEqual([
      { name: 'web', match: { vms: ['web-*'] }, maxUnavailable: 1, leaseTimeout: '1h', forceBefore: '3m' },
    ]);
    expect(config.rules).toHaveLength(1);
  });

  const skip = haproxySkipReason();
  it.skipIf(skip)('HAProxy accepts its haproxy.cfg (socket moved to a temp dir, no group)', async () => {
    const tmp = tempDir('forewarn-lb-example-');
    const cfg = readFileSync(join(dir, 'haproxy.cfg'), 'utf8')
      .replace('/run/haproxy/admin.sock mode 660 group forewarn', join(tmp, 'admin.sock'))
      .replace('bind :80', 'bind 127.0.0.1:18099');
    writeFileSync(join(tmp, 'haproxy.cfg'), cfg);
    const { stdout } = await promisify(execFile)(HAPROXY, ['-c', '-f', join(tmp, 'haproxy.cfg')]);
    expect(stdout).toMatch(/Configuration file is valid/);
  });
});
