// Rules derived from changeprop.dependencies: what is derived, config errors, user rules next
// to (and replacing) derived ones, `cascade rules explain`, and the purge module's expansion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { configFromYaml, ConfigError } from '../../src/config/index.ts';
import { deriveRules, checkDependencies } from '../../src/changeprop/deps.ts';
import { explainRules as explainSection } from '../../src/changeprop/service.ts';
import { deriveAllRules } from '../../src/resources/rules.ts';
import type { CascadeConfig } from '../../src/config/index.ts';

const explainRules = (cfg: CascadeConfig) => explainSection(cfg.changeprop, deriveAllRules(cfg));
import { routeEvent } from '../../src/changeprop/rule.ts';
import { Purger, stableId } from '../../src/changeprop/sys.ts';
import { HttpExecutor, HostAllowList } from '../../src/changeprop/http.ts';
import { corpusPath, projectRoot } from '../helpers/corpus.ts';
import { Target } from './helpers.ts';

const base = (cp: string) =>
  configFromYaml(
    `
default_domain: example.wiki
changeprop:
${cp}
domains:
  example.wiki:
    origin: { url: 'http://127.0.0.1:7232' }
    buckets: { html: { type: key_rev_value } }
`,
    '<test>',
    {},
  );

const STANDARD = `  dependencies:
    html: [revision, templates]
    summary: [html]
    mobile-sections: [html]`;

function realEvent(schemaPrefix: string): Record<string, unknown> {
  for (const l of readFileSync(corpusPath('events', 'examples.jsonl'), 'utf8').split('\n')) {
    if (!l) continue;
    const { schema, event } = JSON.parse(l) as { schema: string; event: Record<string, unknown> };
    if (schema.startsWith(schemaPrefix)) return event;
  }
  throw new Error(`no ${schemaPrefix} example`);
}

test('the standard declaration derives Wikimedia-equivalent rules, in dependency order', () => {
  const ex = explainRules(base(STANDARD));
  assert.deepEqual(
    ex.rules.map((r) => r.name),
    ['page_edit', 'transclusion_update', 'on_transclusion_update', 'summary_rerender', 'mobile_rerender', 'page_delete', 'page_undelete', 'page_move', 'revision_visibility_change', 'cdn_purge'],
  );
  const rules = Object.fromEntries(ex.rules.map((r) => [r.name, r]));
  // revision-create → html re-render, no-cache, If-Unmodified-Since from the event, retry on 5xx and 404.
  const ev = realEvent('/mediawiki/revision/create/');
  const route = routeEvent(rules.page_edit, ev)!;
  const req = route.ruleCase.exec[0].expand(route.scope);
  const meta = ev.meta as { domain: string; dt: string };
  assert.equal(req.uri, `/${meta.domain}/v1/page/html/${encodeURIComponent(String(ev.page_title))}/${ev.rev_id}`);
  assert.equal(req.headers['cache-control'], 'no-cache');
  assert.equal(req.headers['if-unmodified-since'], new Date(meta.dt).toUTCString());
  assert.ok(rules.page_edit.shouldRetry({ status: 404 }) && rules.page_edit.shouldRetry({ status: 503 }) && !rules.page_edit.shouldRetry({ status: 400 }));
  // A template edit (namespace 10) goes to the fan-out; an article edit does not.
  assert.ok(routeEvent(rules.transclusion_update, { ...ev, page_namespace: 10, page_title: 'Template:X' }));
  assert.equal(routeEvent(rules.transclusion_update, { ...ev, page_namespace: 0 }), undefined);
  const cont = routeEvent(rules.transclusion_update, { meta: { stream: 'change-prop.transcludes.continue', domain: 'example.wiki' }, original_event: { page_title: 'Template:X' }, continue: '0|5' })!;
  assert.equal(cont.ruleCase.exec[0].expand(cont.scope).uri, '/sys/links/transcludes/Template%3AX');
  // html's resource_change → summary; summary's does not chain further.
  const rc = (ep: string) => ({ meta: { uri: `https://example.wiki/api/rest_v1/page/${ep}/Foo_bar`, domain: 'example.wiki', stream: 'resource_change' }, tags: ['cascade', ep] });
  const s = routeEvent(rules.summary_rerender, rc('html'))!;
  assert.equal(s.ruleCase.exec[0].expand(s.scope).uri, '/example.wiki/v1/page/summary/Foo_bar');
  assert.equal(routeEvent(rules.summary_rerender, rc('summary')), undefined);
  // Every change is purged: html, summary, a delete, a move (both titles).
  const p = routeEvent(rules.cdn_purge, rc('summary'))!;
  assert.deepEqual(p.ruleCase.exec[0].expand(p.scope).body, { domain: 'example.wiki', endpoints: ['summary'], titles: ['Foo_bar'] });
  const mv = routeEvent(rules.cdn_purge, { meta: { stream: 'mediawiki.page-move', domain: 'example.wiki' }, page_title: 'New', prior_state: { page_title: 'Old' } })!;
  assert.deepEqual(mv.ruleCase.exec[0].expand(mv.scope).body, { domain: 'example.wiki', endpoints: ['html', 'summary', 'mobile-sections'], titles: ['Old', 'New'] });
});

test('declaration errors: unknown resource or source, a source below html, a cycle', () => {
  assert.throws(() => checkDependencies({ html: ['revison'] }), (e: unknown) => e instanceof ConfigError && /unknown 'revison'/.test(e.message));
  assert.throws(() => checkDependencies({ pdf: ['html'] }), /'pdf' is not a stored resource/);
  assert.throws(() => checkDependencies({ summary: ['revision'] }), /only html is rendered from the origin/);
  assert.throws(() => checkDependencies({ summary: ['mobile-sections'], 'mobile-sections': ['summary'] }), /dependency cycle: summary → mobile-sections → summary/);
  assert.deepEqual(checkDependencies({ 'mobile-sections': ['html'], html: ['revision'] }), ['html', 'mobile-sections']);
  assert.deepEqual(Object.keys(deriveRules(base('  dependencies: {}').changeprop).templates), [], 'nothing declared, nothing derived');
});

test('user rules load next to derived ones; a user rule of the same name replaces the derived one', () => {
  const cfg = base(`${STANDARD}
  rule_files: [${JSON.stringify(join(projectRoot, 'config', 'rules', 'example.yaml'))}]
  templates:
    page_edit:
      topic: mediawiki.revision-create
      exec: { uri: '/{{message.meta.domain}}/v1/page/html/{message.page_title}' }`);
  const ex = explainRules(cfg);
  assert.deepEqual(ex.replaced, ['page_edit']);
  const pe = ex.rules.filter((r) => r.name === 'page_edit');
  assert.equal(pe.length, 1);
  assert.equal(pe[0].file, '<config changeprop.templates>');
  assert.ok(ex.rules.some((r) => r.name === 'mobile_lead_warm'));
});

test('cascade rules explain prints the graph and the derived rules as a loadable templates: file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-cp-explain-'));
  try {
    const r = spawnSync(process.execPath, [join(projectRoot, 'bin', 'cascade.js'), 'rules', 'explain', '--config', join(projectRoot, 'config', 'cascade.yaml')], { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /revision \(mediawiki\.revision-create\) → html\s+\[page_edit\]/);
    assert.match(r.stdout, /html → summary\s+\[summary_rerender\]/);
    assert.match(r.stdout, /html → mobile-html\s+\[mobile_html_rerender\]/);
    assert.match(r.stdout, /templates .* → html\s+\[transclusion_update, on_transclusion_update\]/);
    assert.match(r.stdout, /CDN purge \(no targets configured: nothing is sent\)/);
    // The default config's declared media list (src/resources) has its rule too.
    assert.match(r.stdout, /revision \(mediawiki\.revision-create\) → media-list\s+\[media_list_on_revision\]/);
    // The printed rules are a rule file `cascade rules check` accepts.
    const yaml = r.stdout.slice(r.stdout.indexOf('templates:'), r.stdout.indexOf('\n# configured rules'));
    assert.equal(Object.keys((parse(yaml) as { templates: object }).templates).length, 12); // mobile-html ← html as well
    const f = join(dir, 'derived.yaml');
    writeFileSync(f, yaml);
    const c = spawnSync(process.execPath, [join(projectRoot, 'bin', 'cascade.js'), 'rules', 'check', f], { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 });
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stdout, /ok \(12 rules/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('purges: URL templates × endpoints × titles, deduplicated in a batch, xkey per title, to every target', async () => {
  const a = await new Target().start();
  const b = await new Target().start();
  const http = new HttpExecutor({ allowed: new HostAllowList([a.url, b.url]), userAgent: 't' });
  const cfg = base(`  purge:
    targets: [${a.url}, ${b.url}]
    xkey: { enabled: true, method: PURGE }
    batch_ms: 30`).changeprop.purge;
  const p = new Purger(cfg, http, ['example.wiki']);
  try {
    const rs = await Promise.all([
      p.purge({ domain: 'example.wiki', endpoints: ['html', 'summary'], titles: ['Talk:A/b c'] }),
      p.purge({ domain: 'example.wiki', endpoints: ['html'], titles: ['Talk:A/b c'] }),
    ]);
    assert.deepEqual(rs.map((r) => r.status), [200, 200]);
    for (const t of [a, b]) {
      // (Node's HTTP parser refuses BAN: the xkey requests use PURGE with the key header here.)
      const purges = t.seen.filter((s) => s.method === 'PURGE' && !s.headers.xkey).map((s) => `${s.headers.host}${s.path}`).sort();
      assert.deepEqual(purges, [
        'example.wiki/api/rest_v1/page/html/Talk:A%2Fb%20c',
        'example.wiki/api/rest_v1/page/summary/Talk:A%2Fb%20c',
        'example.wiki/example.wiki/v1/page/html/Talk:A%2Fb%20c',
        'example.wiki/example.wiki/v1/page/summary/Talk:A%2Fb%20c',
      ]);
      assert.deepEqual(t.seen.filter((s) => s.method === 'PURGE' && s.headers.xkey).map((s) => s.headers.xkey), ['example.wiki/Talk%3AA%2Fb%20c']);
    }
    // A failing CDN is retried (503); a refusal is reported as it is.
    a.behaviour = () => ({ status: 500 });
    assert.equal((await p.purge({ domain: 'example.wiki', endpoints: ['html'], titles: ['X'] })).status, 503);
    a.behaviour = () => ({ status: 405 });
    assert.equal((await p.purge({ domain: 'example.wiki', endpoints: ['html'], titles: ['X'] })).status, 405);
    assert.match(stableId('x'), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(stableId('x'), stableId('x'));
  } finally {
    await http.close();
    await a.close();
    await b.close();
  }
});

test('purges rebound: every batch is sent again rebound_ms later (a refetch racing the first purge)', async () => {
  const a = await new Target().start();
  const http = new HttpExecutor({ allowed: new HostAllowList([a.url]), userAgent: 't' });
  const cfg = base(`  purge:
    targets: [${a.url}]
    urls: ['http://{domain}/api/rest_v1/page/{endpoint}/{title}']
    batch_ms: 5
    rebound_ms: 150`).changeprop.purge;
  const p = new Purger(cfg, http, ['example.wiki']);
  try {
    const t0 = Date.now();
    assert.equal((await p.purge({ domain: 'example.wiki', endpoints: ['html'], titles: ['R'] })).status, 200);
    assert.equal(a.seen.length, 1);
    while (a.seen.length < 2 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    assert.equal(a.seen.length, 2, 'the rebound purge arrived');
    assert.ok(Date.now() - t0 >= 150, 'not before rebound_ms');
    assert.deepEqual(a.seen.map((s) => s.path), ['/api/rest_v1/page/html/R', '/api/rest_v1/page/html/R']);
    // drain() cancels pending rebounds (shutdown does not wait for them).
    await p.purge({ domain: 'example.wiki', endpoints: ['html'], titles: ['S'] });
    await p.drain();
    // A sentinel: a second purger's batch sent after S, with the same rebound_ms. Its rebound
    // is due after S's would have been, so once it arrived, S's rebound provably never will.
    const sentinel = new Purger(cfg, http, ['example.wiki']);
    await sentinel.purge({ domain: 'example.wiki', endpoints: ['html'], titles: ['Sentinel'] });
    const end = Date.now() + 10_000;
    while (a.seen.filter((s) => s.path.endsWith('/Sentinel')).length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    await sentinel.drain();
    assert.equal(a.seen.filter((s) => s.path.endsWith('/Sentinel')).length, 2, "the sentinel's rebound arrived");
    assert.deepEqual(
      a.seen.filter((s) => s.path.endsWith('/S')).map((s) => s.path),
      ['/api/rest_v1/page/html/S'],
      'the batch before drain() was sent once, its rebound cancelled',
    );
  } finally {
    await http.close();
    await a.close();
  }
});

test('derived re-render rules retry quickly first, then long enough to outlast an origin outage (about 11 minutes)', () => {
  const { rules } = explainRules(base(STANDARD));
  for (const name of ['page_edit', 'transclusion_update', 'on_transclusion_update', 'summary_rerender', 'mobile_rerender']) {
    const r = rules.find((x) => x.name === name)!;
    const delays = Array.from({ length: r.retryLimit }, (_, n) => r.retryDelay * r.retryFactor ** n);
    assert.equal(delays[0], 500, `${name}: first retry after 0.5 s`);
    const total = delays.reduce((a, b) => a + b, 0);
    assert.ok(total >= 600_000 && total <= 3_600_000, `${name}: retries span ${total} ms`);
    // A 503 (the content API's answer to a re-render it cannot verify as fresh) is retried.
    assert.ok(r.shouldRetry({ status: 503 }), `${name} retries 503`);
  }
});
