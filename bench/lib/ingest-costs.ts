// Where one ingested event's time goes, without HTTP: the hub's own functions called directly in
// this process on a temp SQLite file, timed per event. Less sensitive to a busy machine than the
// HTTP windows, and it says which part to fix.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseCloudEvents } from '../../src/hub/ingest-parse.js';
import { createHub } from '../../src/hub/server.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { BATCH_CONTENT_TYPE, VmBatcher, eventIdOf, vmName } from './ce-batch.js';

export interface IngestCosts {
  /** µs per event. */
  parse: { batch1: number; batch100: number };
  /** store.ingest, one transaction per batch, µs per event. */
  storeFull: { batch1: number; batch100: number };
  storeNormal: { batch1: number; batch100: number };
  /** The planner with no rules (what every stored transition costs even so), µs per transition. */
  planNoRules: { full: number; normal: number };
  /** planner.vmTags(vm), done once per affected VM per transition: ms with 0 and with N VMs known. */
  vmTagsMs: { vms: number; empty: number; full: number };
}

function bodies(n: number, batch: number, tag: number): { source: string; body: string }[] {
  const notBefore = new Date(Date.now() + 15 * 60_000).toISOString();
  const vms = Array.from({ length: 20 }, (_, i) => new VmBatcher(vmName(i), notBefore));
  let seq = 0;
  return Array.from({ length: n }, (_, r) => {
    const b = vms[r % vms.length]!;
    const ids = Array.from({ length: batch }, () => eventIdOf(tag, r % vms.length, seq++));
    return { source: b.source, body: b.batch(ids) };
  });
}

function timePerEvent(events: number, fn: () => void): number {
  const t0 = performance.now();
  fn();
  return ((performance.now() - t0) * 1000) / events;
}

export async function measureIngestCosts(): Promise<IngestCosts> {
  const dir = mkdtempSync(join(os.tmpdir(), 'forewarn-bench-costs-'));
  const headers = { 'content-type': BATCH_CONTENT_TYPE };
  let tag = 0x1000;
  try {
    const parseCost = (batch: number, requests: number) => {
      const bs = bodies(requests, batch, tag++);
      bs.slice(0, 20).forEach((b) => parseCloudEvents(headers, b.body)); // warm-up
      return timePerEvent(requests * batch, () => {
        for (const b of bs) parseCloudEvents(headers, b.body);
      });
    };
    const parse = { batch1: parseCost(1, 2000), batch100: parseCost(100, 30) };

    const storeCost = async (sync: 'FULL' | 'NORMAL', batch: number, requests: number) => {
      const store = new SqliteStore(join(dir, `store-${sync}-${batch}.db`));
      store.db.pragma(`synchronous = ${sync}`);
      const batches = bodies(requests, batch, tag++).map((b) => parseCloudEvents(headers, b.body));
      const at = new Date().toISOString();
      const t0 = performance.now();
      for (const b of batches) await store.ingest(b, at);
      const us = ((performance.now() - t0) * 1000) / (requests * batch);
      await store.close();
      return us;
    };
    const storeFull = {
      batch1: await storeCost('FULL', 1, 1000),
      batch100: await storeCost('FULL', 100, 30),
    };
    const storeNormal = {
      batch1: await storeCost('NORMAL', 1, 1000),
      batch100: await storeCost('NORMAL', 100, 30),
    };

    const planCost = async (sync: 'FULL' | 'NORMAL') => {
      const store = new SqliteStore(join(dir, `plan-${sync}.db`));
      store.db.pragma(`synchronous = ${sync}`);
      const hub = await createHub({ store, auth: { agentSecret: 'x' }, rules: [] });
      const batches = bodies(20, 100, tag++).map((b) => parseCloudEvents(headers, b.body));
      const at = new Date().toISOString();
      for (const b of batches) await store.ingest(b, at); // stored, not yet planned
      const t0 = performance.now();
      await hub.idle();
      const us = ((performance.now() - t0) * 1000) / 2000;
      await hub.close();
      await store.close();
      return us;
    };
    const planNoRules = { full: await planCost('FULL'), normal: await planCost('NORMAL') };

    // The planner looks a VM's tags up by listing every VM (listVms) and searching the array.
    const vmTagsMs = await (async () => {
      const store = new SqliteStore(join(dir, 'vms.db'));
      store.db.pragma('synchronous = NORMAL');
      const hub = await createHub({ store, auth: { agentSecret: 'x' }, rules: [] });
      const time = async () => {
        const t0 = performance.now();
        for (let i = 0; i < 5; i++) await hub.planner.vmTags(vmName(i));
        return (performance.now() - t0) / 5;
      };
      const empty = await time();
      const vms = 10_000;
      const at = new Date().toISOString();
      store.db.transaction(() => {
        for (let i = 0; i < vms; i++)
          void store.heartbeat(
            vmName(i),
            { identity: { vm: vmName(i), tags: { pool: `pool-${i % 10}` } }, agentVersion: '0.1.0' },
            at,
          );
      })();
      const full = await time();
      await hub.close();
      await store.close();
      return { vms, empty, full };
    })();
    return { parse, storeFull, storeNormal, planNoRules, vmTagsMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
