// An app on the embedded default (SQLite store and log, the example wiki in-process on a free
// port, the derived change-propagation rules) in a temp dir, for the operator-page tests.
import type { App } from '../../src/app.ts';
import { startTestApp } from '../helpers/app.ts';
import { MEDIAWIKI_STREAMS_YAML, bucketsYaml, dependenciesYaml } from '../helpers/config-yaml.ts';
import { parseExposition, type Sample } from '../../src/ops/index.ts';
import { valueWithin } from '../helpers/wait.ts';


export const ADMIN_TOKEN = 'ops-test-token-0123456789';

export interface OpsEnv {
  app: App;
  wikiUrl: string;
  close(): Promise<void>;
}

export async function startOpsApp(extraYaml = ''): Promise<OpsEnv> {
  const t = await startTestApp(
    'ops',
    `admin_token: ${ADMIN_TOKEN}
wiki: { enabled: true, port: 0, seed: true }
events:
  log: { backend: sqlite, path: events.sqlite }
  streams:
${MEDIAWIKI_STREAMS_YAML}
changeprop:
  dependencies:
${dependenciesYaml('html', 'summary', 'mobile-sections')}
domains:
  example.wiki:
    origin: { url: "http://127.0.0.1:1" }
    buckets:
${bucketsYaml('html', 'summary', 'mobile-sections', 'page-meta')}
${extraYaml}`,
  );
  return { app: t.app, wikiUrl: t.app.wiki!.url, close: () => t.close() };
}

/** Edits a page of the example wiki through its REST API; returns the new revision id. */
export async function editPage(wikiUrl: string, title: string, source: string): Promise<number> {
  const r = await fetch(`${wikiUrl}/w/rest.php/v1/page/${encodeURIComponent(title.replace(/ /g, '_'))}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ source, comment: 'ops test' }),
  });
  const text = await r.text();
  if (r.status !== 200 && r.status !== 201) throw new Error(`edit of ${title}: HTTP ${r.status} ${text}`);
  return (JSON.parse(text) as { latest: { id: number } }).latest.id;
}

/** Scrapes `/metrics` and sums the samples of `name` whose labels match `where`. */
export async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(`${url}/metrics`);
  return parseExposition(await res.text()).samples;
}

export function total(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

export { valueWithin as until };

/** Waits until change propagation has taken nothing new for `quietMs` and nothing is in flight. */
export async function settle(app: App, quietMs = 500): Promise<void> {
  const snap = () => JSON.stringify(Object.values(app.changeprop!.engine.stats()).map((s) => [s.received, s.succeeded + s.ignored + s.dead + s.retried]));
  let last = snap();
  let since = Date.now();
  await valueWithin(
    () => {
      const now = snap();
      if (now !== last) {
        last = now;
        since = Date.now();
      }
      const busy = app.changeprop!.engine.runners.some((r) => r.inFlightCount > 0);
      return !busy && Date.now() - since >= quietMs;
    },
    30_000,
    'change propagation to settle',
  );
}
