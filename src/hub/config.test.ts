// The hub's store section: SQLite by default, PostgreSQL for replicas; file, env and flags layered,
// and a mixed-up section refused naming the field.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadHubConfig } from './config.js';

function file(yaml: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'fw-hubcfg-')), 'hub.yaml');
  writeFileSync(path, yaml);
  return path;
}

describe('hub config: store', () => {
  it('defaults to SQLite at ./data/hub.db, durable, writes on their own thread', () => {
    expect(loadHubConfig(undefined, {}).store).toEqual({
      kind: 'sqlite',
      path: './data/hub.db',
      synchronous: 'full',
      writerThread: true,
    });
  });

  it('takes the SQLite file from path, the older sqlite key, FOREWARN_HUB_DB and --db, in that order', () => {
    const f = file('store: { sqlite: old.db }\n');
    expect(loadHubConfig(f, {}).store).toMatchObject({ path: 'old.db' });
    expect(loadHubConfig(file('store: { path: a.db }\n'), {}).store).toMatchObject({ path: 'a.db' });
    expect(loadHubConfig(f, { FOREWARN_HUB_DB: 'env.db' }).store).toMatchObject({ path: 'env.db' });
    expect(loadHubConfig(f, { FOREWARN_HUB_DB: 'env.db' }, { 'store.path': 'flag.db' }).store).toMatchObject({
      path: 'flag.db',
    });
  });

  it('PostgreSQL: url, schema and pool size, with defaults; env overrides', () => {
    const f = file('store:\n  kind: postgres\n  url: postgres://hub@db:5432/forewarn\n  poolSize: 20\n');
    expect(loadHubConfig(f, {}).store).toEqual({
      kind: 'postgres',
      url: 'postgres://hub@db:5432/forewarn',
      schema: 'forewarn',
      poolSize: 20,
    });
    expect(
      loadHubConfig(undefined, {
        FOREWARN_HUB_STORE: 'postgres',
        FOREWARN_HUB_POSTGRES_URL: 'postgresql://x@y/z',
        FOREWARN_HUB_POSTGRES_SCHEMA: 'prod_eu',
      }).store,
    ).toEqual({ kind: 'postgres', url: 'postgresql://x@y/z', schema: 'prod_eu', poolSize: 10 });
  });

  it('reads the URL (it may carry a password) from urlFile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-hubcfg-'));
    writeFileSync(join(dir, 'pg-url'), 'postgres://hub:s3cret@db/forewarn\n');
    const f = join(dir, 'hub.yaml');
    writeFileSync(f, 'store: { kind: postgres, urlFile: pg-url }\n');
    expect(loadHubConfig(f, {}).store).toMatchObject({ url: 'postgres://hub:s3cret@db/forewarn' });
  });

  it('refuses a mixed-up or incomplete store section, naming the field', () => {
    const bad = (yaml: string) => () => loadHubConfig(file(yaml), {});
    expect(bad('store: { kind: postgres }\n')).toThrow(/\/store\/url: required for kind postgres/);
    expect(bad('store: { kind: postgres, url: "postgres://a/b", path: x.db }\n')).toThrow(
      /\/store\/path: only for kind sqlite/,
    );
    expect(bad('store: { url: "postgres://a/b" }\n')).toThrow(/\/store\/url: only for kind postgres/);
    expect(bad('store: { kind: postgres, url: "postgres://a/b", writerThread: false }\n')).toThrow(
      /\/store\/writerThread: only for kind sqlite/,
    );
    expect(loadHubConfig(file('store: { writerThread: false }\n'), {}).store).toMatchObject({
      writerThread: false,
    });
    expect(bad('store: { kind: mysql }\n')).toThrow(/\/store\/kind: must be one of sqlite, postgres/);
    expect(bad('store: { kind: postgres, url: "http://a/b" }\n')).toThrow(/\/store\/url/);
    expect(bad('store: { kind: postgres, url: "postgres://a/b", schema: "Prod-EU" }\n')).toThrow(
      /\/store\/schema/,
    );
    expect(bad('store: { kind: postgres, url: "postgres://a/b", poolSize: 0 }\n')).toThrow(
      /\/store\/poolSize/,
    );
    expect(() =>
      loadHubConfig(undefined, { FOREWARN_HUB_STORE: 'postgres', FOREWARN_HUB_DB: 'x.db' }),
    ).toThrow(/\/store\/path: only for kind sqlite/);
  });
});
