// The fault drills (drills/, `npm run drills`) in a short form, so CI runs them on every change:
// the same functions with small sizes, each asserting its verdict. A drill that cannot run here
// (no PostgreSQL, not root for tmpfs) is SKIPPED locally and FAILS when CI=true (see verdict.ts).
import { describe, expect, it } from 'vitest';
import { ACCESS, authMatrixDrill } from '../../drills/auth-matrix.js';
import { diskFullDrill } from '../../drills/disk-full.js';
import { fuzzDrill } from '../../drills/fuzz.js';
import { hubOutageDrill } from '../../drills/hub-outage.js';
import { killHubDrill } from '../../drills/kill-hub.js';
import { metadataFaultsDrill } from '../../drills/metadata-faults.js';
import type { DrillResult } from '../../drills/verdict.js';
import { startHub } from '../helpers/hub.js';

/** PASS, or SKIPPED with its reason printed (never in CI: there a skip is a FAIL). */
function passed(r: DrillResult) {
  console.log(r.line);
  if (r.outcome === 'SKIPPED') console.warn(`skipped: ${r.line}`);
  expect(r.failures, r.line).toEqual([]);
  expect(['PASS', 'SKIPPED']).toContain(r.outcome);
}

describe('fault drills (short form)', () => {
  it.each(['sqlite', 'postgres'] as const)(
    'kill -9 the hub on %s twice mid-wave: nothing lost, nothing run twice after success',
    { timeout: 180_000 },
    async (store) =>
      passed(await killHubDrill({ store, kills: 2, vms: 8, eventsPerVm: 10, steps: 2, quiet: true })),
  );

  it(
    'hub unreachable while a wave happens: agents spool, everything arrives in order',
    { timeout: 120_000 },
    async () =>
      passed(await hubOutageDrill({ vms: 3, eventsPerVm: 1, outageMinutes: 5, scale: 60, quiet: true })),
  );

  it(
    'metadata faults: no phantom transitions, agents alive, health degraded then ok',
    { timeout: 120_000 },
    async () => passed(await metadataFaultsDrill({ vms: 2, phaseMs: 1000, quiet: true })),
  );

  it(
    'disk full / read-only: 503 and recovery for the hub, no crash for the agent, no corruption',
    { timeout: 120_000 },
    async () => passed(await diskFullDrill({ batchesWhileFull: 3, quiet: true })),
  );

  it(
    'fuzz every hub route and the simulator control API: no 5xx, refused requests change nothing',
    { timeout: 180_000 },
    async () => passed(await fuzzDrill({ hubCases: 2000, simCases: 500, quiet: true })),
  );

  it('auth matrix: every route × every caller answers as the table says', { timeout: 60_000 }, async () =>
    passed(await authMatrixDrill({ quiet: true })),
  );

  it('the auth matrix covers every route the hub registers (a new route must be added to ACCESS)', async () => {
    const h = await startHub();
    try {
      const routes = h.hub.routes.map((r) => `${r.method} ${r.url}`);
      expect(routes.filter((r) => !ACCESS[r])).toEqual([]);
      expect(routes.length).toBeGreaterThan(30);
    } finally {
      await h.close();
    }
  });
});
