import { connect } from 'node:net';
import { defineConfig } from 'vitest/config';

/** Whether something listens on PostgreSQL's port (the tests' database: test/helpers/postgres.ts). */
function postgresListening(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: 5432, timeout: 2000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

// In CI the PostgreSQL run is always on (and fails without a server); locally it is skipped, saying so.
const postgres = process.env.CI === 'true' || (await postgresListening());
if (!postgres)
  console.warn(
    'skipped: the hub tests on PostgreSQL (nothing listens on 127.0.0.1:5432; start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)',
  );

export default defineConfig({
  test: {
    testTimeout: 20_000,
    pool: 'forks',
    // Integration tests run real servers on a 2-core machine next to each other; in CI one retry
    // keeps a scheduling hiccup from blocking a landing. A retried test is still reported.
    retry: process.env.CI ? 1 : 0,
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'sqlite', include: ['src/**/*.test.ts', 'test/**/*.test.ts'] } },
      // The hub's integration tests once more with the hub on PostgreSQL (a fresh schema per hub):
      // one suite, two stores. restart.test.ts reads the SQLite file; failover.test.ts is its
      // PostgreSQL counterpart, with three replicas.
      ...(postgres
        ? [
            {
              extends: true as const,
              test: {
                name: 'postgres',
                include: ['test/hub/*.test.ts'],
                exclude: [
                  'test/hub/restart.test.ts',
                  'test/hub/failover.test.ts',
                  'test/hub/replicas.test.ts',
                ],
                env: { FOREWARN_TEST_STORE: 'postgres' },
              },
            },
          ]
        : []),
    ],
  },
});
