// Debian's Chromium driven by playwright-core, for the dashboard tests and benchmark; and the
// dashboard's build (vite) when dist/web is missing or older than its sources.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { tempDir } from './agent.js';

export const CHROMIUM = process.env.FOREWARN_CHROMIUM ?? '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const WEB_DIR = join(ROOT, 'dist', 'web');

/**
 * Undefined when Chromium is installed; otherwise the reason to skip. Under CI (`CI` set and not
 * "false"/"0") a missing Chromium throws instead: CI must not silently skip.
 */
export function chromiumSkipReason(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const reason = `no Chromium at ${CHROMIUM} (apt-get install chromium, or set FOREWARN_CHROMIUM)`;
  const ci = process.env.CI;
  if (ci && ci !== 'false' && ci !== '0') throw new Error(`${reason}; CI is set, so this fails the run`);
  return reason;
}

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/** Builds the dashboard into dist/web unless it is there and newer than src/web. */
export function ensureWebBuilt(): void {
  const index = join(WEB_DIR, 'index.html');
  const sources = Math.max(newest(join(ROOT, 'src', 'web')), statSync(join(ROOT, 'vite.config.ts')).mtimeMs);
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A fresh browser profile (its own --user-data-dir) at a laptop's screen size. */
export async function launchBrowser(
  options: { colorScheme?: 'light' | 'dark' } = {},
): Promise<BrowserContext> {
  return chromium.launchPersistentContext(tempDir('forewarn-chromium-'), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1366, height: 800 },
    colorScheme: options.colorScheme ?? 'light',
    timeout: 60_000,
  });
}
