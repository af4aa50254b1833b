// Scale-out on the distributed engines: two stateless Cascade processes (`cascade serve`) on
// one PostgreSQL schema and one set of JetStream streams, the example wiki standalone as their
// origin (its events go to instance A's intake). Shows: a render made through A is served by B
// from the shared store; an edit propagates (events → JetStream → rules on either instance →
// re-render into PostgreSQL) so both serve the new html, summary and mobile-sections; a burst of
// edits is re-rendered once per edit across both instances, by both; SIGKILL of B mid-burst
// loses no edit (A gets B's unacked records after the ack wait).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { deriveRules } from '../../src/changeprop/deps.ts';
import { loadConfig } from '../../src/config/index.ts';
import { groupName, retryTopic } from '../../src/changeprop/engine.ts';
import { openEventLog, type EventLog } from '../../src/events/log/index.ts';
import { deleteStreamsWithPrefix } from '../../src/events/log/jetstream.ts';
import { NATS_URL, PG_URL, requireBackend, uniqueName } from '../helpers/backends.ts';
import { corpusPath, projectRoot } from '../helpers/corpus.ts';
import { valueWithin } from '../helpers/wait.ts';
import { eachLine, freePort } from '../helpers/net.ts';

const DOMAIN = 'example.wiki';
/** Exec timeout of the re-render rules in this test: their ack wait is timeout + 5 s. */
const RULE_TIMEOUT_MS = 3000;
const ACK_WAIT_MS = RULE_TIMEOUT_MS + 5000;
const HOT_TTL_MS = 600_000;
/** Real articles (CC BY-SA, ../shared/corpora/wikitext): the pages the test edits. */
const ARTICLES = ['Magnar-Saetre', 'Remote-Data-Objects', 'Remote-Data-Services', 'Runtime-Callable-Wrapper'];
const BIN = join(projectRoot, 'bin', 'cascade.js');

// ---------------------------------------------------------------------------------------------
// child processes

interface Proc {
  name: string;
  child: ChildProcess;
  /** Last lines of its output (stdout and stderr), for failure messages. */
  lines: string[];
  exited: Promise<number | null>;
  url: string;
}

const procs: Proc[] = [];

function childEnv(): NodeJS.ProcessEnv {
  // Everything the children use is in their config and arguments, not inherited overrides.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CASCADE_') && !k.startsWith('NODE_TEST')) env[k] = v;
  return env;
}

/** Starts `node bin/cascade.js ARGS`; resolves once a JSON log line has msg `readyMsg` (and the url of `urlMsg`). */
function startProc(name: string, args: string[], urlMsg: string, readyMsg: string, timeoutMs = 40_000): Promise<Proc> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: projectRoot, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const proc: Proc = { name, child, lines, exited, url: '' };
  procs.push(proc);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready within ${timeoutMs} ms:\n${lines.slice(-30).join('\n')}`)), timeoutMs);
    const onLine = (line: string) => {
      lines.push(line);
      if (lines.length > 400) lines.splice(0, lines.length - 300);
      if (!line.startsWith('{')) return;
      let m: { msg?: string; url?: string };
      try {
        m = JSON.parse(line) as typeof m;
      } catch {
        return;
      }
      if (m.msg === urlMsg && m.url) proc.url = m.url;
      if (m.msg === readyMsg) {
        clearTimeout(timer);
        resolve(proc);
      }
    };
    for (const stream of [child.stdout!, child.stderr!]) eachLine(stream, onLine);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready:\n${lines.slice(-30).join('\n')}`));
    });
  });
}

async function stopProc(p: Proc, signal: NodeJS.Signals): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  const t = setTimeout(() => p.child.kill('SIGKILL'), 5000);
  await p.exited;
  clearTimeout(t);
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers

async function getJson<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T; headers: Headers }> {
  const r = await fetch(url, init);
  const text = await r.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: r.status, body: body as T, headers: r.headers };
}

interface WikiStats {
  renders: number;
  byRevision: Record<string, number>;
  events: Record<string, unknown>;
}

let wiki: Proc;
let A: Proc;
let B: Proc;

const wikiStats = async (): Promise<WikiStats> => (await getJson<WikiStats>(`${wiki.url}/w/rest.php/v1/_test/stats`)).body;
const rendersOf = (s: WikiStats, rev: number): number => s.byRevision[String(rev)] ?? 0;

/** Saves a new revision of `title` in the wiki; returns its id. */
async function edit(title: string, source: string, latest?: number): Promise<number> {
  const r = await getJson<{ latest: { id: number } }>(`${wiki.url}/w/rest.php/v1/page/${encodeURIComponent(title)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ source, comment: 'scale-out test', ...(latest !== undefined ? { latest: { id: latest } } : {}) }),
  });
  assert.ok(r.status === 200 || r.status === 201, `edit of ${title}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.latest.id;
}

/** One instance's view of a page: html (ETag rev/tid and body), summary and mobile-sections. */
async function view(inst: Proc, title: string): Promise<{ htmlRev: number; etag: string; html: string; summaryRev: number; summary: string; mobileRev: number; mobile: string }> {
  const base = `${inst.url}/${DOMAIN}/v1/page`;
  const t = encodeURIComponent(title);
  const h = await fetch(`${base}/html/${t}`);
  const html = await h.text();
  assert.equal(h.status, 200, `${inst.name} html of ${title}: ${h.status} ${html.slice(0, 300)}`);
  const etag = h.headers.get('etag') ?? '';
  const s = await getJson<{ revision?: string; extract?: string }>(`${base}/summary/${t}`);
  assert.equal(s.status, 200, `${inst.name} summary of ${title}: ${s.status}`);
  const m = await getJson<{ lead?: { revision?: string | number } }>(`${base}/mobile-sections/${t}`);
  assert.equal(m.status, 200, `${inst.name} mobile-sections of ${title}: ${m.status}`);
  return {
    htmlRev: Number(/^(?:W\/)?"(\d+)\//.exec(etag)?.[1] ?? NaN),
    etag,
    html,
    summaryRev: Number(s.body.revision),
    summary: JSON.stringify(s.body),
    mobileRev: Number(m.body.lead?.revision),
    mobile: JSON.stringify(m.body),
  };
}

/** `cascade_content_cache_total` of one instance, by `endpoint/outcome`. */
async function cacheCounters(inst: Proc): Promise<Map<string, number>> {
  const text = await (await fetch(`${inst.url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('cascade_content_cache_total{')) continue;
    const endpoint = /endpoint="([^"]*)"/.exec(line)?.[1];
    const outcome = /outcome="([^"]*)"/.exec(line)?.[1];
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (endpoint && outcome) out.set(`${endpoint}/${outcome}`, v);
  }
  return out;
}
const counter = (m: Map<string, number>, k: string) => m.get(k) ?? 0;

const until = <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>, everyMs = 100) => valueWithin(probe, timeoutMs, what, everyMs);

/** True when `inst` serves revision `rev` of `title` on all three endpoints. */
async function serves(inst: Proc, title: string, rev: number, marker: string): Promise<boolean> {
  const v = await view(inst, title);
  return v.htmlRev === rev && v.html.includes(marker) && v.summaryRev === rev && v.mobileRev === rev && v.mobile.includes(marker);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The re-render rules the instances run, with the stream each consumes. */
const RULE_TOPICS: Record<string, string> = { page_edit: 'mediawiki.revision-create', summary_rerender: 'resource_change', mobile_rerender: 'resource_change' };
const DC = 'local';
let busLog: EventLog | undefined;

/**
 * Waits until the cluster provably has no work left, instead of sleeping "long enough" for a
 * duplicate to show up: the wiki's outbox is empty and every rule's consumer group (main and
 * retry topic) has acked every record, i.e. nothing is queued, leased or in flight on any
 * instance (a killed instance's leases count until their ack wait expires and another member
 * acks them). Checked twice in a row with the render count unchanged, so an event appended by
 * the last execution (resource_change after a store write) is seen too.
 */
async function drained(what: string, timeoutMs = ACK_WAIT_MS + 30_000): Promise<void> {
  busLog ??= await openEventLog({ backend: 'jetstream', url: NATS_URL, stream_prefix: streamPrefix });
  const log = busLog;
  let streak = 0;
  let lastRenders = -1;
  await until(`the cluster to drain (${what})`, timeoutMs, async () => {
    const st = await wikiStats();
    let idle = Number((st.events as { pending?: number }).pending ?? 0) === 0;
    for (const [rule, stream] of Object.entries(RULE_TOPICS)) {
      if (!idle) break;
      idle = (await log.lag(groupName(rule), `${DC}.${stream}`)) === 0 && (await log.lag(`${groupName(rule)}-retry`, retryTopic(DC, 'change-prop.retry', rule))) === 0;
    }
    streak = idle && st.renders === lastRenders ? streak + 1 : 0;
    lastRenders = st.renders;
    return streak >= 2;
  }, 100);
}

// ---------------------------------------------------------------------------------------------
// the cluster

const runId = uniqueName('scaleout');
const schema = runId;
const streamPrefix = runId;
let dir = '';
let ready = false;
const articles = new Map<string, { text: string; rev: number }>();
let editNo = 0;

/** The article's corpus text with a marker paragraph first (so the summary's extract shows it too). */
function marked(title: string, marker: string): string {
  return `${marker} is the latest edit of this page.\n\n${articles.get(title)!.text}`;
}

async function editArticle(title: string): Promise<{ rev: number; marker: string }> {
  const marker = `Scaleoutmark${++editNo}x${Date.now().toString(36)}`;
  const a = articles.get(title)!;
  const rev = await edit(title, marked(title, marker), a.rev);
  a.rev = rev;
  return { rev, marker };
}

function writeConfig(name: string, wikiUrl: string): string {
  type Section = Record<string, unknown>;
  const base = parseYaml(readFileSync(join(projectRoot, 'config', 'cascade.yaml'), 'utf8')) as { storage: Section; events: Section; changeprop: Section; domains: Record<string, Section> };
  // The re-render rules are the derived defaults, with a short exec timeout so that the ack
  // wait (timeout + 5 s) redelivers a killed instance's records within the test.
  const derived = deriveRules(loadConfig(join(projectRoot, 'config', 'cascade.yaml'), {}).changeprop).templates;
  const templates: Record<string, unknown> = {};
  for (const r of ['page_edit', 'summary_rerender', 'mobile_rerender']) {
    assert.ok(derived[r], `derived rule ${r}`);
    templates[r] = { ...derived[r], timeout: RULE_TIMEOUT_MS };
  }
  const cfg = {
    ...base,
    listen: { host: '127.0.0.1', port: 0 },
    data_dir: join(dir, name),
    storage: { ...base.storage, backend: 'postgres', postgres: { url: PG_URL, schema, pool_size: 4 } },
    events: { ...base.events, log: { backend: 'jetstream', url: NATS_URL, stream_prefix: streamPrefix } },
    domains: { [DOMAIN]: { ...base.domains[DOMAIN], origin: { url: wikiUrl } } },
    wiki: { enabled: false },
    // A hot-cache ttl far beyond any wait of these tests: an instance serving a new render
    // proves the cross-instance eviction (resource_change), never an expiry.
    content: { hot_cache: { ttl_ms: HOT_TTL_MS } },
    // Instances sharing a log run each other's retries: they share the key that signs them.
    changeprop: { ...base.changeprop, enabled: true, templates, signing_key: 'scale-out-test-shared-signing-key-0123456789' },
  };
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, toYaml(cfg));
  return file;
}

describe('two Cascade instances on PostgreSQL and JetStream', { timeout: 120_000 }, () => {
  before(async () => {
    // In CI a missing backend fails here; elsewhere the tests below skip loudly.
    const pgOk = await requireBackend(undefined, 'postgres');
    const natsOk = await requireBackend(undefined, 'nats');
    if (!pgOk || !natsOk) return;
    dir = mkdtempSync(join(tmpdir(), 'cascade-scaleout-'));
    for (const a of ARTICLES) articles.set(a, { text: readFileSync(corpusPath('wikitext', `${a}.txt`), 'utf8'), rev: 0 });
    const wikiPort = await freePort();
    const wikiUrl = `http://127.0.0.1:${wikiPort}`;
    const t0 = Date.now();
    A = await startProc('cascade A', ['serve', '-c', writeConfig('a', wikiUrl)], 'cascade listening', 'changeprop started');
    wiki = await startProc(
      'wiki',
      ['wiki', 'serve', '--port', String(wikiPort), '--db', join(dir, 'wiki.sqlite'), '--events-url', `${A.url}/v1/events`, '--test-hooks'],
      'example wiki listening',
      'example wiki listening',
    );
    console.log(`# instance A and the wiki up in ${Date.now() - t0} ms`);
    ready = true;
  });

  after(async () => {
    const errors: unknown[] = [];
    // A child that died on its own, or any child when asked to, shows its last output.
    for (const p of procs) {
      const died = p.child.exitCode !== null || (p.child.signalCode !== null && p !== B);
      if (died || process.env.SCALEOUT_DEBUG) console.error(`--- ${p.name} (exit ${p.child.exitCode ?? p.child.signalCode}):\n${p.lines.slice(-40).join('\n')}`);
    }
    for (const p of procs) await stopProc(p, 'SIGTERM').catch((e: unknown) => errors.push(e));
    await busLog?.close().catch((e: unknown) => errors.push(e));
    if (dir) {
      await deleteStreamsWithPrefix(NATS_URL, streamPrefix).catch((e: unknown) => errors.push(e));
      const c = new pg.Client({ connectionString: PG_URL });
      try {
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } catch (e) {
        errors.push(e);
      } finally {
        await c.end().catch(() => {});
      }
      rmSync(dir, { recursive: true, force: true });
    }
    if (errors.length) throw new AggregateError(errors, 'scale-out cleanup failed');
  });

  test('a render made through instance A is served by instance B from the shared store', async (t) => {
    if (!ready) return t.skip('backends unavailable');
    // Only A runs yet: whatever renders the new page (A's changeprop or this read) is A.
    const title = ARTICLES[0];
    const first = await editArticle(title);
    // Read only once A's page_edit re-render is stored (the storage API never renders): a read
    // racing it would render the latest revision a second time.
    const storedUrl = `${A.url}/${DOMAIN}/sys/key_rev_value/html/${encodeURIComponent(title)}/${first.rev}`;
    await until('A to store the re-render of the new page', 15_000, async () => (await fetch(storedUrl)).status === 200);
    await until('A to serve the new page on html, summary and mobile-sections', 15_000, () => serves(A, title, first.rev, first.marker));
    const fromA = await view(A, title);
    await drained('before B starts');
    const rendersBefore = rendersOf(await wikiStats(), first.rev);

    const t0 = Date.now();
    B = await startProc('cascade B', ['serve', '-c', writeConfig('b', wiki.url)], 'cascade listening', 'changeprop started');
    console.log(`# instance B up in ${Date.now() - t0} ms`);
    const fromB = await view(B, title);
    assert.equal(fromB.etag, fromA.etag, 'B serves the very render A stored (same rev/tid)');
    assert.equal(fromB.html, fromA.html);
    assert.equal(fromB.summary, fromA.summary);
    assert.equal(fromB.mobile, fromA.mobile);
    const bCounters = await cacheCounters(B);
    assert.equal(counter(bCounters, 'html/miss') + counter(bCounters, 'html/rerender'), 0, 'B rendered nothing');
    assert.ok(counter(bCounters, 'html/hit') >= 1, 'B answered from the store');
    const after = await wikiStats();
    assert.equal(rendersOf(after, first.rev), rendersBefore, 'no second origin render of the revision');
    assert.equal(rendersBefore, 1, 'the revision was rendered once');
  });

  test('an edit propagates so that both instances serve the new html, summary and mobile-sections', async (t) => {
    if (!ready || !B) return t.skip('backends unavailable');
    const title = ARTICLES[0];
    // B has the old render in its hot cache now (the previous test read it there).
    const old = await view(B, title);
    const t0 = Date.now();
    const e = await editArticle(title);
    assert.ok(e.rev > old.htmlRev);
    const seen: Record<string, number> = {};
    // The instance that did not re-render holds the old render in its hot cache (ttl 10 min)
    // but evicts it on the other's resource_change, so both serve the edit once the re-render
    // is stored (how soon is a figure printed below, not asserted).
    const stored = `${A.url}/${DOMAIN}/sys/key_rev_value/html/${encodeURIComponent(title)}/${e.rev}`;
    await until('the re-render of the edit to be stored', 15_000, async () => (await fetch(stored)).status === 200, 20);
    const storedAt = Date.now() - t0;
    await Promise.all(
      [A, B].map(async (inst) => {
        await until(`${inst.name} to serve revision ${e.rev} (evicted by resource_change; hot cache ttl ${HOT_TTL_MS / 60_000} min)`, 30_000, () => serves(inst, title, e.rev, e.marker), 50);
        seen[inst.name] = Date.now() - t0;
      }),
    );
    console.log(`# edit → re-render stored after ${storedAt} ms`);
    console.log(`# edit → new html+summary+mobile-sections served: A after ${seen['cascade A']} ms, B after ${seen['cascade B']} ms`);
    const va = await view(A, title);
    const vb = await view(B, title);
    assert.equal(va.etag, vb.etag);
    assert.equal(va.summary, vb.summary);
    assert.ok(va.summary.includes(e.marker), 'the summary shows the new lead paragraph');
    await drained('after the edit');
    assert.equal(rendersOf(await wikiStats(), e.rev), 1, 'the edit was rendered once at the origin');
  });

  test('a burst of edits is re-rendered once per edit across both instances, by both', async (t) => {
    if (!ready || !B) return t.skip('backends unavailable');
    for (const a of ARTICLES.slice(1)) if (!articles.get(a)!.rev) articles.get(a)!.rev = await edit(a, marked(a, `Scaleoutseed${a.length}`));
    await until('the seed edits to be rendered', 15_000, async () => {
      const s = await wikiStats();
      return ARTICLES.every((a) => rendersOf(s, articles.get(a)!.rev) >= 1);
    });
    await drained('after the seed edits');
    const ca0 = await cacheCounters(A);
    const cb0 = await cacheCounters(B);
    const N = 20;
    const revs: number[] = [];
    const last = new Map<string, { rev: number; marker: string }>();
    const t0 = Date.now();
    for (let i = 0; i < N; i++) {
      const title = ARTICLES[i % ARTICLES.length];
      const e = await editArticle(title);
      revs.push(e.rev);
      last.set(title, e);
      await sleep(40);
    }
    const burstMs = Date.now() - t0;
    await until('every edit of the burst to be rendered', 20_000, async () => {
      const s = await wikiStats();
      return revs.every((r) => rendersOf(s, r) >= 1);
    });
    await Promise.all(
      [A, B].flatMap((inst) => [...last].map(([title, e]) => until(`${inst.name} to serve ${title} at ${e.rev}`, 15_000, () => serves(inst, title, e.rev, e.marker), 100))),
    );
    const doneMs = Date.now() - t0;
    await drained('after the burst'); // a duplicate execution would have been queued or run by now
    const s = await wikiStats();
    const perRev = revs.map((r) => rendersOf(s, r));
    const ca = await cacheCounters(A);
    const cb = await cacheCounters(B);
    const d = (c: Map<string, number>, c0: Map<string, number>, k: string) => counter(c, k) - counter(c0, k);
    const byA = d(ca, ca0, 'html/rerender');
    const byB = d(cb, cb0, 'html/rerender');
    console.log(
      `# burst of ${N} edits in ${burstMs} ms, all served by both after ${doneMs} ms; page_edit re-renders: A ${byA}, B ${byB};` +
        ` summary derivations A ${d(ca, ca0, 'summary/miss')}, B ${d(cb, cb0, 'summary/miss')}; origin renders per edit ${JSON.stringify(perRev)}`,
    );
    // No instance crashed and every exec takes milliseconds against an ack wait of seconds:
    // nothing is redelivered, so every edit is rendered exactly once in the cluster.
    assert.deepEqual(perRev, revs.map(() => 1), 'one origin render per edit');
    assert.equal(byA + byB + d(ca, ca0, 'html/unchanged') + d(cb, cb0, 'html/unchanged'), N, 'one page_edit re-render per edit in total');
    // JetStream does not promise to split one burst's page_edit records between the members, so
    // "took part" counts all the rules' work (re-renders and derivations) of each instance.
    const workA = byA + d(ca, ca0, 'summary/miss');
    const workB = byB + d(cb, cb0, 'summary/miss');
    assert.ok(workA > 0 && workB > 0, `both instances took part (A ${workA}, B ${workB})`);
  });

  test('SIGKILL of instance B mid-burst loses no edit', async (t) => {
    if (!ready || !B) return t.skip('backends unavailable');
    const N = 30;
    // Slow origin renders (500 ms) so that B holds work (renders in flight, or records fetched
    // and waiting for their page's turn) when it dies: that work must come back to A.
    const delay = await fetch(`${wiki.url}/w/rest.php/v1/_test/delay?ms=500&count=1000`, { method: 'POST' });
    assert.equal(delay.status, 200);
    const b0 = counter(await cacheCounters(B), 'html/rerender');
    const revs: number[] = [];
    const last = new Map<string, { rev: number; marker: string }>();
    const t0 = Date.now();
    let killedAt = 0;
    let killedAfterEdit = 0;
    let bRendered = 0;
    try {
      for (let i = 0; i < N; i++) {
        const title = ARTICLES[i % ARTICLES.length];
        const e = await editArticle(title);
        revs.push(e.rev);
        last.set(title, e);
        // Kill B once it is demonstrably working on this burst (it finished a re-render), or
        // at the end of the burst at the latest.
        if (!killedAt) {
          bRendered = counter(await cacheCounters(B), 'html/rerender') - b0;
          if (bRendered > 0 || i === N - 1) {
            B.child.kill('SIGKILL');
            await B.exited;
            killedAt = Date.now() - t0;
            killedAfterEdit = i + 1;
          }
        }
        await sleep(40);
      }
      const burstMs = Date.now() - t0;
      const s0 = await wikiStats();
      const unrendered = revs.filter((r) => rendersOf(s0, r) === 0).length;
      await until('every edit to be rendered after B was killed', ACK_WAIT_MS + 20_000, async () => {
        const s = await wikiStats();
        return revs.every((r) => rendersOf(s, r) >= 1);
      });
      const renderedMs = Date.now() - t0;
      await Promise.all([...last].map(([title, e]) => until(`A to serve ${title} at ${e.rev}`, ACK_WAIT_MS + 15_000, () => serves(A, title, e.rev, e.marker), 200)));
      const doneMs = Date.now() - t0;
      await drained('after the kill');
      const s = await wikiStats();
      const perRev = revs.map((r) => rendersOf(s, r));
      const extra = perRev.reduce((a, b) => a + b, 0) - N;
      console.log(
        `# burst of ${N} edits in ${burstMs} ms, B SIGKILLed after ${killedAt} ms (edit ${killedAfterEdit}, B had re-rendered ${bRendered}); unrendered at the end of the burst: ${unrendered};` +
          ` all rendered after ${renderedMs} ms, A serves every page's last edit after ${doneMs} ms; origin renders per edit ${JSON.stringify(perRev)}`,
      );
      // The kill interrupted work of B: a render it had in flight (the origin finished it, B
      // never stored it) is done again by A, or records it had fetched waited out the ack wait.
      // Whether B held unacked work at the moment of the kill depends on scheduling; when it did
      // not, this run shows only that the survivor finishes the burst (the assertions below).
      if (!(extra > 0 || renderedMs >= ACK_WAIT_MS)) console.log('# B held no unacked work when it was killed: redelivery not exercised in this run');
      // At least once: a render B had started but not acked is done again by A. With
      // per-page ordering an instance renders at most one revision per page at a time.
      assert.ok(perRev.every((n) => n >= 1 && n <= 2), `every edit rendered, at most twice: ${JSON.stringify(perRev)}`);
      assert.ok(extra <= ARTICLES.length, `redelivered renders bounded by B's in-flight renders: ${extra}`);
    } finally {
      await fetch(`${wiki.url}/w/rest.php/v1/_test/delay?ms=0&count=0`, { method: 'POST' });
    }
  });
});
