// The store as the app wires it: the sys API is mounted and the purge timer runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp } from '../../src/app.ts';
import { configFromYaml } from '../../src/config/index.ts';

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
      html: { type: key_rev_value, compression: brotli, retention: { policy: latest, count: 5, grace_seconds: 86400 } }
      summary: { type: key_rev_value, compression: gzip, retention: { policy: latest, count: 1, grace_seconds: 3600 } }
      mobile-sections: { type: key_rev_value, compression: gzip, retention: { policy: latest, count: 1, grace_seconds: 3600 } }
      page-meta: { type: key_value, compression: none }
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

    // ttl 1 s, purge every 1 s: within ~3 s the row is gone and the timer has deleted it
    // (a purge now finds nothing left to remove).
    await new Promise((r) => setTimeout(r, 3200));
    assert.equal((await fetch(`${app.url}/example.wiki/sys/key_value/stash/edit-1`)).status, 404);
    assert.equal(await app.store.purgeExpired(), 0);
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
