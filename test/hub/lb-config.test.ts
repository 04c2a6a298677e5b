// The hub config's loadBalancers section: reconciler interval and grace, checked with the path.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadHubConfig } from '../../src/hub/config.js';
import { tempDir } from '../helpers/agent.js';

function load(yaml: string) {
  const file = join(tempDir('forewarn-hubcfg-'), 'hub.yaml');
  writeFileSync(file, yaml);
  return loadHubConfig(file, {});
}

describe('hub config: loadBalancers', () => {
  it('defaults to a pass every 30 s after 60 s of grace', () => {
    expect(load('{}\n')).toMatchObject({ lbReconcileIntervalMs: 30_000, lbReconcileGraceMs: 60_000 });
  });
  it('takes durations, and 0s turns the reconciler off', () => {
    expect(load('loadBalancers:\n  reconcileEvery: 0s\n  reconcileGrace: 2m\n')).toMatchObject({
      lbReconcileIntervalMs: 0,
      lbReconcileGraceMs: 120_000,
    });
  });
  it('a bad value fails with its path', () => {
    expect(() => load('loadBalancers:\n  reconcileEvery: often\n')).toThrow(
      /\/loadBalancers\/reconcileEvery/,
    );
    expect(() => load('loadBalancers:\n  every: 5s\n')).toThrow(/loadBalancers/);
  });
});
