// The drills `npm run drills` knows, each with its full and its --quick size. The test form
// (test/drills/drills.test.ts) calls the same functions with smaller sizes still.
import { authMatrixDrill } from './auth-matrix.js';
import { diskFullDrill } from './disk-full.js';
import { fuzzDrill } from './fuzz.js';
import { hubOutageDrill } from './hub-outage.js';
import { killHubDrill } from './kill-hub.js';
import { metadataFaultsDrill } from './metadata-faults.js';
import type { DrillResult } from './verdict.js';

export interface DrillEntry {
  name: string;
  /** Issue #10's item and what the drill shows. */
  what: string;
  run(quick: boolean): Promise<DrillResult & { table?: string[] }>;
}

/** Drill 6 on one store: the same kills and wave sizes on either. */
function killDrill(store: 'sqlite' | 'postgres', label: string): DrillEntry {
  return {
    name: `kill-9-${store}`,
    what: `6. kill -9 the hub (${label}) at random points of a wave, 10 times`,
    run: (quick) =>
      killHubDrill(
        quick
          ? { store, kills: 3, vms: 10, eventsPerVm: 20, steps: 2 }
          : { store, kills: 10, vms: 40, eventsPerVm: 50, steps: 2 },
      ),
  };
}

export const DRILLS: DrillEntry[] = [
  killDrill('sqlite', 'SQLite'),
  killDrill('postgres', 'PostgreSQL'),
  {
    name: 'hub-outage',
    what: '7. the hub unreachable for 10 minutes (time-scaled) during a wave',
    run: (quick) =>
      hubOutageDrill(
        quick
          ? { vms: 3, eventsPerVm: 1, outageMinutes: 5, scale: 60 }
          : { vms: 10, eventsPerVm: 2, outageMinutes: 10, scale: 60 },
      ),
  },
  {
    name: 'metadata-faults',
    what: '8. the metadata service answers 500s, garbage, hangs and 429s for a while',
    run: (quick) => metadataFaultsDrill(quick ? { vms: 3, phaseMs: 1200 } : { vms: 6, phaseMs: 3000 }),
  },
  {
    name: 'disk-full',
    what: '9. disk full / read-only data directory for the hub and the agent',
    run: (quick) => diskFullDrill({ batchesWhileFull: quick ? 5 : 20 }),
  },
  {
    name: 'fuzz',
    what: '10. fuzz every hub route and the simulator control API',
    run: (quick) =>
      fuzzDrill(quick ? { hubCases: 3000, simCases: 1000 } : { hubCases: 85_000, simCases: 15_000 }),
  },
  {
    name: 'auth-matrix',
    what: '10. every hub route × every kind of caller',
    run: () => authMatrixDrill(),
  },
];
