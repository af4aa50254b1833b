// Real backends for tests. Under CI=true an unreachable backend fails the test; locally it
// skips with a loud message so a developer without PostgreSQL/NATS can still run the rest.
import { connect } from 'node:net';
import type { TestContext } from 'node:test';

export const PG_URL = process.env.CASCADE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const NATS_URL = process.env.CASCADE_NATS_URL ?? 'nats://127.0.0.1:4222';

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = connect({ host: u.hostname, port: Number(u.port || defaultPort) });
    s.setTimeout(1000);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

/**
 * Returns true when the backend is reachable. Otherwise: in CI throws (the test fails),
 * elsewhere marks the test skipped and returns false.
 */
export async function requireBackend(t: TestContext | undefined, kind: 'postgres' | 'nats'): Promise<boolean> {
  const url = kind === 'postgres' ? PG_URL : NATS_URL;
  const ok = await reachable(url, kind === 'postgres' ? 5432 : 4222);
  if (ok) return true;
  const msg = `${kind} is not reachable at ${url}`;
  if (process.env.CI) throw new Error(`${msg} (CI requires it; .ci/run starts it)`);
  console.error(`\n!!! SKIPPING: ${msg}\n`);
  t?.skip(msg);
  return false;
}

/** A schema name unique to this test run, for PostgreSQL isolation. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
}
