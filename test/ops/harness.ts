// An app on the embedded default (SQLite store and log, the example wiki in-process on a free
// port, the derived change-propagation rules) in a temp dir, for the operator-page tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp, type App } from '../../src/app.ts';
import { configFromYaml } from '../../src/config/index.ts';
import { parseExposition, type Sample } from '../../src/ops/index.ts';
import { valueWithin } from '../helpers/wait.ts';


export const ADMIN_TOKEN = 'ops-test-token-0123456789';

export interface OpsEnv {
  app: App;
  wikiUrl: string;
  close(): Promise<void>;
}

export async function startOpsApp(extraYaml = ''): Promise<OpsEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-ops-'));
  const config = configFromYaml(
    `
listen: { host: 127.0.0.1, port: 0 }
data_dir: ${JSON.stringify(dir)}
default_domain: example.wiki
admin_token: ${ADMIN_TOKEN}
wiki: { enabled: true, port: 0, seed: true }
events:
  log: { backend: sqlite, path: events.sqlite }
  streams:
    resource_change: { schema_title: resource_change }
    mediawiki.revision-create: { schema_title: mediawiki/revision/create }
    mediawiki.page-delete: { schema_title: mediawiki/page/delete }
    mediawiki.page-undelete: { schema_title: mediawiki/page/undelete }
    mediawiki.page-move: { schema_title: mediawiki/page/move }
    mediawiki.revision-visibility-change: { schema_title: mediawiki/revision/visibility-change }
changeprop:
  dependencies:
    html: [revision, templates]
    summary: [html]
    mobile-sections: [html]
domains:
  example.wiki:
    origin: { url: "http://127.0.0.1:1" }
    buckets:
      html: { type: key_rev_value, compression: brotli, retention: { policy: latest, count: 5, grace_seconds: 86400 } }
      summary: { type: key_rev_value, compression: gzip, retention: { policy: latest, count: 1, grace_seconds: 3600 } }
      mobile-sections: { type: key_rev_value, compression: gzip, retention: { policy: latest, count: 1, grace_seconds: 3600 } }
      page-meta: { type: key_value, compression: none }
${extraYaml}`,
    '<ops test>',
    {},
  );
  const app = await startApp(config, { quiet: true });
  return {
    app,
    wikiUrl: app.wiki!.url,
    async close() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
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
