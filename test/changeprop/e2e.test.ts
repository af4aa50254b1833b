// End to end with the default rules (config/rules/default.yaml): an edit in the example wiki
// reaches the stored page/html, page/summary and page/mobile-sections with no client request,
// through revision-create → page_edit → resource_change → summary/mobile rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp } from '../../src/app.ts';
import { configFromYaml } from '../../src/config/index.ts';
import { startWiki } from '../../src/wiki/index.ts';
import { projectRoot } from '../helpers/corpus.ts';
import { until } from './helpers.ts';

test('an edit in the example wiki is propagated to html, summary and mobile-sections by the default rules', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-cp-e2e-'));
  const wiki = await startWiki({ dbPath: join(dir, 'wiki.sqlite'), port: 0, domain: 'example.wiki', testHooks: true, seed: true });
  const config = configFromYaml(
    `
listen: { host: 127.0.0.1, port: 0 }
data_dir: ${JSON.stringify(dir)}
default_domain: example.wiki
wiki: { enabled: false }
events:
  streams:
    resource_change: { schema_title: resource_change }
    mediawiki.revision-create: { schema_title: mediawiki/revision/create }
    mediawiki.page-delete: { schema_title: mediawiki/page/delete }
    mediawiki.page-undelete: { schema_title: mediawiki/page/undelete }
    mediawiki.page-move: { schema_title: mediawiki/page/move }
    mediawiki.revision-visibility-change: { schema_title: mediawiki/revision/visibility-change }
changeprop:
  rule_files: [${JSON.stringify(join(projectRoot, 'config', 'rules', 'default.yaml'))}]
domains:
  example.wiki:
    origin: { url: ${JSON.stringify(wiki.url)} }
    buckets:
      html: { type: key_rev_value, compression: brotli, retention: { policy: latest, count: 5, grace_seconds: 86400 } }
      summary: { type: key_rev_value, compression: gzip, retention: { policy: latest, count: 1, grace_seconds: 3600 } }
      mobile-sections: { type: key_rev_value, compression: gzip, retention: { policy: latest, count: 1, grace_seconds: 3600 } }
      page-meta: { type: key_value, compression: none }
`,
    '<test>',
    {},
  );
  const app = await startApp(config, { quiet: true });
  wiki.setEventsUrl(`${app.url}/v1/events`);
  try {
    const base = `${app.url}/example.wiki/v1/page`;
    for (const kind of ['html', 'summary', 'mobile-sections']) assert.equal((await fetch(`${base}/${kind}/Larkford`)).status, 200, kind);
    const stored = async (bucket: string) => (await app.store.getLatest('example.wiki', bucket, 'Larkford'))?.body().toString() ?? '';
    assert.doesNotMatch(await stored('summary'), /PROPAGATED-EDIT/);

    const t0 = Date.now();
    const edit = await fetch(`${wiki.url}/w/rest.php/v1/page/Larkford`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ source: "'''Larkford''' is a PROPAGATED-EDIT village on the river.", comment: 'test' }),
    });
    assert.equal(edit.status, 200);
    // No client request from here on: only change propagation writes the store.
    await until(async () => /PROPAGATED-EDIT/.test(await stored('html')), 15_000, 'html re-rendered');
    await until(async () => /PROPAGATED-EDIT/.test(await stored('summary')), 15_000, 'summary re-rendered');
    await until(async () => /PROPAGATED-EDIT/.test(await stored('mobile-sections')), 15_000, 'mobile-sections re-rendered');
    console.log(`edit propagated to html, summary and mobile-sections in ${Date.now() - t0} ms`);
    const s = (await (await fetch(`${base}/summary/Larkford`)).json()) as { extract: string };
    assert.match(s.extract, /PROPAGATED-EDIT/);
  } finally {
    await app.close();
    await wiki.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
