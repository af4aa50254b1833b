// The store as the app wires it: the sys API is mounted and the purge timer runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startApp } from '../../src/app.ts';
import { configFromYaml } from '../../src/config/index.ts';
import { bucketsYaml } from '../helpers/config-yaml.ts';

test('startApp mounts /{domain}/sys and purges expired rows on storage.purge_interval_seconds', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-storage-app-'));
  const config = configFromYaml(
    `
listen: { host: 127.0.0.1, port: 0 }
data_dir: ${JSON.stringify(dir)}
default_domain: example.wiki
wiki: { enabled: false }
storage: { purge_interval_seconds: 1 }
domains:
  example.wiki:
    origin: { url: "http://127.0.0.1:9" }
    buckets:
${bucketsYaml('html', 'summary', 'mobile-sections', 'page-meta')}
      stash: { type: key_value, compression: gzip, retention: { policy: ttl, ttl_seconds: 1 } }
`,
    '<test>',
    {},
  );
  const app = await startApp(config, { quiet: true });
  try {
    assert.equal(app.store.backend, 'sqlite');
    assert.equal(app.store.bucket('example.wiki', 'stash')?.retention.policy, 'ttl');
    const put = await fetch(`${app.url}/example.wiki/sys/key_value/stash/edit-1`, { method: 'PUT', body: 'stashed wikitext', headers: { 'content-type': 'text/plain' } });
    assert.equal(put.status, 201);
    const got = await fetch(`${app.url}/example.wiki/sys/key_value/stash/edit-1`);
    assert.equal(got.status, 200);
    assert.equal(await got.text(), 'stashed wikitext');
    const external = await fetch(`${app.url}/example.wiki/sys/key_value/stash/edit-1`, { headers: { 'x-forwarded-for': '198.51.100.7' } });
    assert.equal(external.status, 403);

    // ttl 1 s, purge every 1 s: nothing in this test calls purgeExpired, so the row leaving
    // the table (read straight from the SQLite file) is the timer's work.
    const db = new Database(join(dir, 'storage.sqlite'), { readonly: true });
    try {
      const rows = () => (db.prepare("SELECT count(*) AS n FROM kv JOIN buckets b ON b.id = kv.bucket WHERE b.name = 'stash' AND kv.key = 'edit-1'").get() as { n: number }).n;
      assert.equal(rows(), 1, 'the stashed row is in the table');
      const end = Date.now() + 20_000;
      while (rows() > 0) {
        if (Date.now() > end) throw new Error('the background purge did not delete the expired row within 20 s');
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      db.close();
    }
    assert.equal((await fetch(`${app.url}/example.wiki/sys/key_value/stash/edit-1`)).status, 404);
    assert.equal(await app.store.purgeExpired(), 0);
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
