// Debian's Chromium for the browser tests, driven by playwright-core (which downloads no
// browser). Under CI=true a missing Chromium fails the test (.ci/run installs it); elsewhere
// the test is skipped with a loud message, as test/helpers/backends.ts does for PG and NATS.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.CASCADE_CHROMIUM ?? '/usr/bin/chromium';

export function requireChromium(t: TestContext): boolean {
  if (existsSync(CHROMIUM)) return true;
  const msg = `Chromium is not installed at ${CHROMIUM}`;
  if (process.env.CI) throw new Error(`${msg} (CI requires it; .ci/run installs Debian's chromium)`);
  console.error(`\n!!! SKIPPING: ${msg} (apt-get install -y --no-install-recommends chromium)\n`);
  t.skip(msg);
  return false;
}

/** A headless Chromium with a fresh profile; close() removes the profile too. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'cascade-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
