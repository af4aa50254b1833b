// Events stay data (issue 9), on the SQLite and the JetStream log, with change propagation
// built from cascade.yaml as `cascade serve` builds it (derived rules, purge targets, the
// signing key in the data dir). Real loopback HTTP servers play Cascade itself, the origin,
// the CDN and a canary that no event may steer a request to (it is even in allowed_hosts).
import { test, describe, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { configFromYaml, type CascadeConfig } from '../../src/config/index.ts';
import { startChangeprop, configuredRules, sysOptions, signingKey, type ChangepropService } from '../../src/changeprop/service.ts';
import { changepropShared } from '../../src/config/shared.ts';
import { ChangePropEngine } from '../../src/changeprop/engine.ts';
import { EventSigner } from '../../src/changeprop/signing.ts';
import { metrics } from '../../src/router/metrics.ts';
import { requireBackend } from '../helpers/backends.ts';
import { Target, sqliteLog, jetstreamLog, event, append, until, readAll, type TestLog } from './helpers.ts';

const DC = 'dc1';

const backends: { name: string; open: (t: TestContext) => Promise<TestLog | undefined> }[] = [
  { name: 'sqlite', open: async () => sqliteLog() },
  { name: 'jetstream', open: async (t) => ((await requireBackend(t, 'nats')) ? jetstreamLog() : undefined) },
];

for (const b of backends) {
  describe(`changeprop: events stay data, on ${b.name}`, () => {
    let cascade: Target; // stands in for Cascade itself (relative exec URIs)
    let origin: Target; // example.wiki's origin
    let cdn: Target; // the purge target
    let canary: Target; // must see nothing
    let dir: string;
    let config: CascadeConfig;
    const rejections: unknown[] = [];
    const onRejection = (e: unknown) => rejections.push(e);

    before(async () => {
      [cascade, origin, cdn, canary] = await Promise.all([new Target().start(), new Target().start(), new Target().start(), new Target().start()]);
      cascade.behaviour = (s) => (s.path.startsWith('/render/') ? { status: 503 } : { status: 200 });
      origin.behaviour = () => ({ status: 200, body: JSON.stringify({ query: { embeddedin: [] } }) });
      dir = mkdtempSync(join(tmpdir(), 'cascade-cp-untrusted-'));
      config = configFromYaml(
        `
data_dir: ${JSON.stringify(dir)}
datacenter: ${DC}
default_domain: example.wiki
domains:
  example.wiki:
    origin: { url: ${JSON.stringify(origin.url)} }
changeprop:
  allowed_hosts: [${JSON.stringify(canary.host)}]
  dependencies:
    html: [revision, templates]
    summary: [html]
  purge: { targets: [${JSON.stringify(cdn.url)}], rebound_ms: 0, batch_ms: 5 }
  templates:
    by_uri: { topic: page-change, exec: { uri: '{{message.meta.uri}}' } }
    by_host: { topic: page-change, exec: { uri: '//{{message.host}}/x' } }
    by_proto:
      topic: page-change
      match: { meta: { uri: '/^(?<proto>[a-z]+):\\/\\/(?<host>[^\\/]+)/' } }
      exec: { uri: '{{match.meta.uri.proto}}://{{match.meta.uri.host}}/y' }
    by_path: { topic: page-change, exec: { uri: '/{+message.p}/z' } }
    by_segment: { topic: page-change, exec: { uri: '/s/{{message.seg}}/w' } }
    flaky: { topic: render, retry_limit: 2, retry_delay: 10, retry_factor: 1, exec: { uri: '/render/{message.n}' } }
`,
        '<test>',
        {},
      );
      process.on('unhandledRejection', onRejection);
    });
    after(async () => {
      process.off('unhandledRejection', onRejection);
      await Promise.all([cascade.close(), origin.close(), cdn.close(), canary.close()]);
      rmSync(dir, { recursive: true, force: true });
    });

    async function withService(t: TestContext, fn: (log: TestLog['log'], cp: ChangepropService) => Promise<void>): Promise<void> {
      const tl = await b.open(t);
      if (!tl) return;
      const cp = await startChangeprop(config.changeprop, changepropShared(config), { log: tl.log, selfUrl: cascade.url });
      try {
        await fn(tl.log, cp);
      } finally {
        await cp.close();
        await tl.close();
      }
      assert.deepEqual(rejections, [], 'no unhandled rejection (it would end the process)');
    }

    const stats = (cp: ChangepropService, rule: string) => cp.engine.stats()[rule];
    const dead = (log: TestLog['log'], rule: string) => readAll(log, `${DC}.change-prop.error.${rule}`);
    const canaryPort = () => canary.url.split(':').pop();

    test('SSRF through meta.domain (the reported page-delete) never reaches the canary; the event is dead-lettered and counted', async (t) => {
      await withService(t, async (log, cp) => {
        const evil = `/127.0.0.1:${canaryPort()}/w/api.php?action=delete&title=Larkford&format=json&x=`;
        const ev = event('mediawiki.page-delete', { page_title: 'Larkford' }, { domain: evil });
        await append(log, `${DC}.mediawiki.page-delete`, [ev]);
        await until(() => stats(cp, 'page_delete').dead === 1 && stats(cp, 'cdn_purge').dead === 1, 10_000, 'refusals');
        assert.equal(stats(cp, 'page_delete').refused, 1);
        assert.match(metrics.render(), /^cascade_changeprop_events_total\{rule="page_delete",outcome="refused"\} 1$/m);
        const letters = await dead(log, 'page_delete');
        assert.equal(letters.length, 1);
        assert.equal(letters[0].status, 400);
        assert.match(String(letters[0].message), /is not a configured domain/);
        assert.equal(JSON.parse(String(letters[0].raw_event)).meta.id, (ev.meta as { id: string }).id);
        // A good event after it runs: the rule was not wedged.
        await append(log, `${DC}.mediawiki.page-delete`, [event('mediawiki.page-delete', { page_title: 'Good' })]);
        await until(() => cascade.count('/example.wiki/sys/content/page/Good/deleted') === 1, 10_000, 'the good delete');
        assert.equal(stats(cp, 'page_delete').executed, 1);
        assert.deepEqual(canary.seen, []);
      });
    });

    test('second line: with the gate opened to that value, the template still keeps it one path segment on Cascade', async (t) => {
      const tl = await b.open(t);
      if (!tl) return;
      const evil = `/127.0.0.1:${canaryPort()}/w/api.php?action=delete&title=Larkford&format=json&x=`;
      // The hostile string configured as a domain: only the template encoding stands between it and the canary.
      const engine = new ChangePropEngine({
        log: tl.log,
        rules: configuredRules(config.changeprop, changepropShared(config).derived),
        datacenter: DC,
        domains: ['example.wiki', evil],
        signingKey: signingKey(config.changeprop, config.data_dir),
        allowedHosts: [canary.host, origin.url],
        baseUri: cascade.url,
        sys: sysOptions(config.changeprop, changepropShared(config)),
      });
      try {
        await engine.start();
        await append(tl.log, `${DC}.mediawiki.page-delete`, [event('mediawiki.page-delete', { page_title: 'Larkford2' }, { domain: evil })]);
        await until(() => engine.stats().page_delete.succeeded === 1 && engine.stats().cdn_purge.dead === 1, 10_000, 'outcomes');
        const hit = cascade.seen.find((s) => s.path.endsWith('/sys/content/page/Larkford2/deleted'));
        assert.equal(hit?.path, `/${encodeURIComponent(evil)}/sys/content/page/Larkford2/deleted`);
        // The purger accepts only configured domains (from the config, not the engine's gate).
        const letter = (await dead(tl.log, 'cdn_purge')).at(-1)!;
        assert.match(String(letter.message), /purge refused: not a configured domain/);
        assert.deepEqual(canary.seen, []);
      } finally {
        await engine.stop();
        await tl.close();
      }
    });

    test('SSRF through uri fields and templates: variable hosts only reach configured domains, relative URIs stay on Cascade', async (t) => {
      await withService(t, async (log, cp) => {
        const ev = event(
          'page-change',
          { host: canary.host, p: `/${canary.host}/steal`, seg: '..' },
          { uri: `${canary.url}/steal?from=uri` },
        );
        await append(log, `${DC}.page-change`, [ev]);
        const rules = ['by_uri', 'by_host', 'by_proto', 'by_path', 'by_segment'];
        await until(() => rules.every((r) => stats(cp, r).dead === 1), 10_000, 'dead letters');
        const msgs = Object.fromEntries(await Promise.all(rules.map(async (r) => [r, String((await dead(log, r))[0].message)])));
        assert.match(msgs.by_uri, /from the event\) is not a configured domain or origin/);
        assert.match(msgs.by_host, /from the event\) is not a configured domain or origin/);
        assert.match(msgs.by_proto, /from the event\) is not a configured domain or origin/);
        assert.match(msgs.by_path, /must expand to a path on Cascade/);
        assert.match(msgs.by_segment, /'\.\.' path segment/);
        // The same rules with harmless values do run (to the origin, a configured host).
        await append(log, `${DC}.page-change`, [event('page-change', { host: origin.host, p: 'a/b?c#d', seg: 'x/y?z' }, { uri: `${origin.url}/ok` })]);
        await until(() => ['by_uri', 'by_host', 'by_proto'].every((r) => stats(cp, r).succeeded === 1) && stats(cp, 'by_path').succeeded + stats(cp, 'by_segment').succeeded === 2, 10_000, 'good execs');
        assert.equal(origin.count('/ok'), 1);
        assert.equal(origin.count('/x'), 1);
        assert.equal(origin.count('/y'), 1);
        assert.equal(cascade.count('/a/b%3Fc%23d/z'), 1);
        assert.equal(cascade.count('/s/x%2Fy%3Fz/w'), 1);
        assert.deepEqual(canary.seen, []);
      });
    });

    test('event text reaches request headers (x-triggered-by, x-request-id) only as printable ASCII: no header injection, no failed send', async (t) => {
      await withService(t, async (log, cp) => {
        const ev = event('page-change', { seg: 'hdr', host: origin.host, p: 'hdr' }, { uri: 'https://example.wiki/wiki/A\r\nx-injected: 1 é', request_id: 'r\nx-also: 2' });
        await append(log, `${DC}.page-change`, [ev]);
        await until(() => cascade.count('/s/hdr/w') === 1 && stats(cp, 'by_segment').succeeded === 1, 10_000, 'the exec');
        const hit = cascade.seen.find((s) => s.path === '/s/hdr/w')!;
        assert.equal(hit.headers['x-injected'], undefined);
        assert.equal(hit.headers['x-also'], undefined);
        assert.equal(hit.headers['x-triggered-by'], 'page-change:https://example.wiki/wiki/A%0D%0Ax-injected: 1 %C3%A9');
        assert.equal(hit.headers['x-request-id'], 'r%0Ax-also: 2');
        assert.equal(stats(cp, 'by_segment').retried, 0);
      });
    });

    test('purges: URLs and Host only from configured domains; a poison event is dead-lettered and the engine keeps consuming', async (t) => {
      await withService(t, async (log, cp) => {
        const before = cdn.seen.length;
        await append(log, `${DC}.mediawiki.page-delete`, [
          event('mediawiki.page-delete', { page_title: 'P' }, { domain: 'bad host^' }),
          event('mediawiki.page-delete', { page_title: 'P' }, { domain: 'victim.example/private/cache-key?evict=1#' }),
        ]);
        // A configured meta.domain, but the purge domain captured from meta.uri is someone else's.
        await append(log, `${DC}.resource_change`, [event('resource_change', {}, { uri: 'https://victim.example/api/rest_v1/page/html/Secret' })]);
        await until(() => stats(cp, 'cdn_purge').dead === 3, 10_000, 'three purge dead letters');
        const msgs = (await dead(log, 'cdn_purge')).map((d) => String(d.message)).sort();
        assert.match(msgs[0], /^meta\.domain "bad host\^" is not a configured domain/);
        assert.match(msgs[1], /^meta\.domain "victim\.example\/private/);
        assert.match(msgs[2], /purge refused: not a configured domain: "victim\.example"/);
        // Later good events still purge, with the configured domain as Host.
        await append(log, `${DC}.mediawiki.page-delete`, [event('mediawiki.page-delete', { page_title: 'After_Poison' })]);
        await until(() => cdn.seen.some((s) => s.path.endsWith('/After_Poison')), 10_000, 'the good purge');
        const sent = cdn.seen.slice(before);
        assert.ok(sent.length >= 1);
        for (const s of sent) {
          assert.equal(s.headers.host, 'example.wiki');
          assert.doesNotMatch(s.path, /private|Secret|victim/);
        }
        assert.deepEqual(canary.seen, []);
      });
    });

    test('forged retry and continuation events are dropped and counted; a signed one never gets more than retry_limit attempts', async (t) => {
      await withService(t, async (log, cp) => {
        const retryTopic = `${DC}.change-prop.retry.flaky`;
        const retry = (n: string) => ({
          $schema: '/change-prop/retry/1.0.0',
          meta: { stream: 'change-prop.retry.flaky', id: randomUUID(), dt: new Date().toISOString(), domain: 'example.wiki' },
          emitter_id: 'change-prop#flaky',
          retries_left: 1e9,
          original_event: event('render', { n }),
          retry_at: new Date().toISOString(),
        });
        await append(log, retryTopic, [retry('forged')]);
        await until(() => stats(cp, 'flaky').forged === 1 && stats(cp, 'flaky').dead === 1, 10_000, 'forged retry refused');
        const letter = (await dead(log, 'flaky'))[0];
        assert.equal(letter.status, 401);
        assert.equal(JSON.parse(String(letter.raw_event)).n, 'forged', 'the original event is kept for a reviewed replay');
        // Signed with Cascade's key (as if written under a larger retry_limit): clamped.
        const signer = new EventSigner(signingKey(config.changeprop, config.data_dir));
        await append(log, retryTopic, [signer.sign(retry('signed'))]);
        await until(() => stats(cp, 'flaky').dead === 2, 15_000, 'the signed retry exhausted');
        assert.equal(cascade.count('/render/forged'), 0);
        assert.equal(cascade.count('/render/signed'), 3, 'this attempt and retry_limit (2) more');
        // emitter_id is signed, not trusted: another rule's genuine retry does not run here.
        await append(log, retryTopic, [signer.sign({ ...retry('other'), emitter_id: 'change-prop#other' })]);
        await until(() => stats(cp, 'flaky').forged === 2 && stats(cp, 'flaky').dead === 3, 10_000, 'a retry of another rule refused');
        assert.equal(cascade.count('/render/other'), 0);
        // Continuation and fan-out events on Cascade's own streams need the signature too.
        await append(log, `${DC}.change-prop.transcludes.continue`, [event('change-prop.transcludes.continue', { original_event: event('mediawiki.revision-create', { page_title: 'Template:X' }), continue: '10|X' })]);
        await append(log, `${DC}.change-prop.transcludes.resource-change`, [event('change-prop.transcludes.resource-change', { page_title: 'Main_Page', root_event: { signature: 'x', dt: new Date().toISOString() } })]);
        await until(() => stats(cp, 'transclusion_update').forged === 1 && stats(cp, 'on_transclusion_update').forged === 1, 10_000, 'forged fan-out refused');
        assert.equal(origin.seen.filter((s) => s.path.includes('api.php')).length, 0);
        assert.equal(cascade.seen.filter((s) => s.path.includes('Main_Page')).length, 0);
      });
    });
  });
}
