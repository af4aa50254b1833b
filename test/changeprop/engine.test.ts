// The change-propagation engine end to end on the real durable log (SQLite, and JetStream
// when NATS is reachable) against a real local HTTP target.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChangePropEngine, type EngineOptions } from '../../src/changeprop/engine.ts';
import { rulesFromYaml } from '../../src/changeprop/rule.ts';
import { listDeadLetters, replayDeadLetters } from '../../src/changeprop/dlq.ts';
import { requireBackend } from '../helpers/backends.ts';
import { TestClock } from '../../src/util/clock.ts';
import { Target, sqliteLog, jetstreamLog, event, append, until, readAll, type TestLog } from './helpers.ts';

const DC = 'dc1';
const KEY = 'engine-test-signing-key-0123456789';
const DOMAINS = ['example.wiki', 'other.wiki'];

const backends: { name: string; open: (t: import('node:test').TestContext) => Promise<TestLog | undefined> }[] = [
  { name: 'sqlite', open: async () => sqliteLog() },
  {
    name: 'jetstream',
    open: async (t) => ((await requireBackend(t, 'nats')) ? jetstreamLog() : undefined),
  },
];

for (const b of backends) {
  describe(`changeprop engine on ${b.name}`, () => {
    let target: Target;
    before(async () => {
      target = await new Target().start();
    });
    after(async () => {
      await target.close();
    });

    async function withEngine(
      t: import('node:test').TestContext,
      yaml: string,
      fn: (ctx: { log: TestLog['log']; engine: ChangePropEngine }) => Promise<void>,
      extra: Partial<EngineOptions> = {},
    ): Promise<void> {
      const tl = await b.open(t);
      if (!tl) return;
      const rules = rulesFromYaml(yaml.replaceAll('TARGET', target.url));
      const engine = new ChangePropEngine({ log: tl.log, rules, datacenter: DC, domains: DOMAINS, signingKey: KEY, allowedHosts: [target.host], ...extra });
      try {
        await engine.start();
        await fn({ log: tl.log, engine });
      } finally {
        await engine.stop();
        await tl.close();
      }
    }

    test('a renderer that fails twice then succeeds is retried and leaves no dead letter', async (t) => {
      const path = `/flaky/${b.name}`;
      target.behaviour = (s, nth) => (s.path.startsWith(path) ? { status: nth <= 2 ? 503 : 200 } : { status: 200 });
      await withEngine(t, `
templates:
  flaky:
    topic: page-change
    retry_limit: 2
    retry_delay: 20
    retry_factor: 2
    exec:
      method: post
      uri: 'TARGET${path}/{message.title}'
      headers: { x-custom: '{{message.meta.domain}}' }
      body: { title: '{{message.title}}' }
`, async ({ log, engine }) => {
        const ev = event('page-change', { title: 'A b/c' });
        await append(log, `${DC}.page-change`, [ev]);
        await until(() => engine.stats().flaky.succeeded === 1, 10_000, 'success');
        const hits = target.seen.filter((s) => s.path.startsWith(path));
        assert.equal(hits.length, 3);
        assert.equal(hits[0].path, `${path}/A%20b%2Fc`);
        assert.equal(hits[2].headers['x-custom'], 'example.wiki');
        assert.equal(JSON.parse(hits[2].body).title, 'A b/c');
        assert.match(String(hits[0].headers['x-triggered-by']), /^page-change:https:\/\/example\.wiki\/wiki\/P/);
        const retries = await readAll(log, `${DC}.change-prop.retry.flaky`);
        assert.equal(retries.length, 2);
        assert.deepEqual(retries.map((r) => r.retries_left), [2, 1]);
        assert.equal(retries[0].emitter_id, 'change-prop#flaky');
        assert.deepEqual(retries[0].original_event, ev);
        assert.match(String(retries[0].reason), /503/);
        assert.equal((await readAll(log, `${DC}.change-prop.error.flaky`)).length, 0);
        assert.equal(engine.stats().flaky.dead, 0);
      });
    });

    test('an always failing renderer ends in the dead-letter stream, and replay re-publishes it', async (t) => {
      const path = `/down/${b.name}`;
      let up = false;
      target.behaviour = (s) => (s.path.startsWith(path) ? { status: up ? 200 : 500, body: up ? 'ok' : '{"title":"renderer exploded"}' } : { status: 200 });
      await withEngine(t, `
templates:
  down:
    topic: page-change
    retry_limit: 1
    retry_delay: 10
    exec: { uri: 'TARGET${path}/{{message.title}}' }
`, async ({ log, engine }) => {
        const streams = { datacenter: DC, dlqStream: 'change-prop.error', retryStream: 'change-prop.retry', signingKey: KEY };
        await append(log, `${DC}.page-change`, [event('page-change', { title: 'X' }), event('page-change', { title: 'Y' }, { domain: 'other.wiki' })]);
        await until(() => engine.stats().down.dead === 2, 10_000, 'two dead letters');
        assert.equal(target.count(`${path}/X`), 2); // first attempt + one retry
        const all = await listDeadLetters(log, streams, 'down');
        assert.equal(all.length, 2);
        // The two ran concurrently: find X's by its event.
        const dead = all.filter((d) => (d.event as { title: string }).title === 'X');
        assert.equal(dead[0].status, 500);
        assert.match(dead[0].message, /HTTP 500: renderer exploded/);
        assert.equal(dead[0].retries, 1);
        assert.equal((dead[0].event as { title: string }).title, 'X');
        assert.deepEqual((dead[0].response as { body: unknown }).body, { title: 'renderer exploded' });

        up = true;
        // Only the other.wiki one, by filter.
        const n = await replayDeadLetters(log, streams, engine.runner('down')!.rule, { filter: { meta: { domain: 'other.wiki' } } });
        assert.equal(n, 1);
        await until(() => engine.stats().down.succeeded === 1, 10_000, 'replayed success');
        assert.equal(target.count(`${path}/Y`), 3);
        assert.equal(target.count(`${path}/X`), 2);
        // Replaying the same dead letter again within the dedup window is a no-op; --since in the future selects nothing.
        assert.equal(await replayDeadLetters(log, streams, engine.runner('down')!.rule, { filter: { meta: { domain: 'other.wiki' } } }), 0);
        assert.equal(await replayDeadLetters(log, streams, engine.runner('down')!.rule, { since: Date.now() + 60_000 }), 0);
      });
    });

    test('412 is ignored, a 404 goes straight to the dead-letter stream, a forbidden host too', async (t) => {
      const path = `/status/${b.name}`;
      target.behaviour = (s) => (s.path.startsWith(path) ? { status: Number(s.path.split('/').pop()) } : { status: 200 });
      await withEngine(t, `
templates:
  st:
    topic: page-change
    retry_delay: 10
    exec: { uri: 'TARGET${path}/{{message.code}}' }
  evil:
    topic: page-change
    match: { code: 412 }
    exec: { uri: 'http://169.254.169.254/latest/meta-data' }
`, async ({ log, engine }) => {
        await append(log, `${DC}.page-change`, [event('page-change', { code: 412 }), event('page-change', { code: 404 })]);
        await until(() => engine.stats().st.ignored === 1 && engine.stats().st.dead === 1 && engine.stats().evil.dead === 1, 10_000, 'outcomes');
        assert.equal(target.count(`${path}/404`), 1);
        assert.equal(engine.stats().st.retried, 0);
        const evil = await listDeadLetters(log, { datacenter: DC, dlqStream: 'change-prop.error', retryStream: 'change-prop.retry', signingKey: KEY }, 'evil');
        assert.equal(evil.length, 1);
        assert.equal(evil[0].status, 403);
        assert.match(evil[0].message, /not in changeprop.allowed_hosts/);
      });
    });

    test('dedup by meta.id, superseded root events, loops stopped, canaries discarded', async (t) => {
      const path = `/dedup/${b.name}`;
      target.behaviour = () => ({ status: 200 });
      await withEngine(t, `
templates:
  dd:
    topic: page-change
    exec: { uri: 'TARGET${path}/{{message.n}}' }
`, async ({ log, engine }) => {
        const e1 = event('page-change', { n: 1 });
        // Same meta.id under another log id: the log keeps both, the rule runs one.
        await log.append(`${DC}.page-change`, [
          { id: 'a1', value: Buffer.from(JSON.stringify(e1)) },
        ]);
        // Dedup and superseded state are recorded when an execution finishes: wait for that.
        await until(() => target.count(`${path}/1`) === 1 && engine.stats().dd.succeeded === 1, 10_000, 'first');
        await log.append(`${DC}.page-change`, [{ id: 'a2', value: Buffer.from(JSON.stringify(e1)) }]);
        const sig = { signature: 'root-sig-1', dt: new Date(Date.now() - 1000).toISOString() };
        await append(log, `${DC}.page-change`, [event('page-change', { n: 2, root_event: sig })]);
        await until(() => target.count(`${path}/2`) === 1 && engine.stats().dd.succeeded === 2, 10_000, 'root event executed');
        // An older root event for the same signature: superseded. The same root time again
        // (whole-second origin clocks: a second edit in the same second) still runs.
        await append(log, `${DC}.page-change`, [event('page-change', { n: 3, root_event: { ...sig, dt: new Date(Date.parse(sig.dt) - 1000).toISOString() } })]);
        await append(log, `${DC}.page-change`, [event('page-change', { n: 7, root_event: sig })]);
        await until(() => target.count(`${path}/7`) === 1, 10_000, 'same root time executed');
        // A loop: the chain already holds this step.
        const looping = event('page-change', { n: 4 }, { uri: 'https://example.wiki/wiki/Loop' });
        looping.triggered_by = 'resource_change:https://example.wiki/x,page-change:https://example.wiki/wiki/Loop';
        await append(log, `${DC}.page-change`, [looping, event('page-change', { n: 5 }, { domain: 'canary' }), event('page-change', { n: 6 })]);
        await until(() => target.count(`${path}/6`) === 1, 10_000, 'last');
        await until(() => engine.stats().dd.loops === 1 && engine.stats().dd.superseded === 1 && engine.stats().dd.deduped === 1, 5000, 'counters');
        assert.equal(target.count(`${path}/1`), 1);
        assert.equal(target.count(`${path}/3`), 0);
        assert.equal(target.count(`${path}/4`), 0);
        assert.equal(target.count(`${path}/5`), 0);
      });
    });

    test('the meta.id dedupe window is measured on the engine clock', async (t) => {
      const path = `/window/${b.name}`;
      target.behaviour = () => ({ status: 200 });
      const clock = new TestClock(Date.now());
      await withEngine(t, `
templates:
  win:
    topic: page-change
    exec: { uri: 'TARGET${path}/{{message.n}}' }
`, async ({ log, engine }) => {
        const value = Buffer.from(JSON.stringify(event('page-change', { n: 1 })));
        await log.append(`${DC}.page-change`, [{ id: 'w1', value }]);
        // Its execution finished (the window counts from then), not only reached the target.
        await until(() => target.count(`${path}/1`) === 1 && engine.stats().win.succeeded === 1, 10_000, 'first execution');
        // Within the window (by the clock): the same meta.id under another log id is dropped.
        await clock.advance(59_000);
        await log.append(`${DC}.page-change`, [{ id: 'w2', value }]);
        await until(() => engine.stats().win.deduped === 1, 10_000, 'deduped within the window');
        assert.equal(target.count(`${path}/1`), 1);
        // Past it: the same meta.id runs again.
        await clock.advance(2_000);
        await log.append(`${DC}.page-change`, [{ id: 'w3', value }]);
        await until(() => target.count(`${path}/1`) === 2, 10_000, 'executed again after the window');
        assert.equal(engine.stats().win.deduped, 1);
      }, { clock, dedupeWindowMs: 60_000 });
    });

    test('concurrency is bounded, and a delayed retry holds no slot', async (t) => {
      const path = `/conc/${b.name}`;
      target.active = 0;
      target.maxActive = 0;
      target.behaviour = (s, nth) => (s.path === `${path}/slow-fail` ? { status: nth === 1 ? 503 : 200 } : { status: 200, delayMs: 30 });
      await withEngine(t, `
templates:
  conc:
    topic: page-change
    concurrency: 3
    retry_delay: 3000
    retry_jitter: 0
    exec: { uri: 'TARGET${path}/{{message.n}}' }
`, async ({ log, engine }) => {
        await append(log, `${DC}.page-change`, [event('page-change', { n: 'slow-fail' })]);
        await until(() => engine.stats().conc.retried === 1, 5000, 'retry scheduled');
        const evs = Array.from({ length: 30 }, (_, i) => event('page-change', { n: i }));
        await append(log, `${DC}.page-change`, evs);
        await until(() => engine.stats().conc.succeeded === 31, 10_000, 'all done');
        assert.ok(target.maxActive <= 3, `max concurrent ${target.maxActive}`);
        const retryAt = target.seen.filter((s) => s.path === `${path}/slow-fail`)[1].at;
        const lastOther = Math.max(...target.seen.filter((s) => /\/conc\/[^/]+\/\d+$/.test(s.path)).map((s) => s.at));
        // 30 events × 30 ms / 3 slots ≈ 300 ms: all done while the retry still waited (3 s).
        assert.ok(lastOther < retryAt, `others finished at ${lastOther}, retry ran at ${retryAt}`);
      });
    });

    test('Retry-After is honoured and order_by keeps per-key order', async (t) => {
      const path = `/ra/${b.name}`;
      target.behaviour = (s, nth) => (s.path === `${path}/ra` && nth === 1 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200, delayMs: s.path.endsWith('/k0') ? 50 : 0 });
      await withEngine(t, `
templates:
  ra:
    topic: page-change
    retry_delay: 10
    retry_jitter: 0
    exec: { uri: 'TARGET${path}/{{message.n}}' }
  ordered:
    topic: page-change
    concurrency: 10
    order_by: '{{message.key}}'
    match: { key: '/./' }
    exec: { uri: 'TARGET${path}/o/{{message.key}}/{{message.seq}}' }
`, async ({ log, engine }) => {
        const t0 = Date.now();
        await append(log, `${DC}.page-change`, [event('page-change', { n: 'ra' })]);
        const evs = [];
        for (let seq = 0; seq < 5; seq++) for (const key of ['k0', 'k1']) evs.push(event('page-change', { n: 'x', key, seq }));
        await append(log, `${DC}.page-change`, evs);
        await until(() => target.count(`${path}/ra`) === 2, 10_000, 'retry after Retry-After');
        const second = target.seen.filter((s) => s.path === `${path}/ra`)[1].at;
        assert.ok(second - t0 >= 950, `retried after ${second - t0} ms`);
        await until(() => engine.stats().ordered.succeeded === 10, 10_000, 'ordered done');
        for (const key of ['k0', 'k1']) {
          const seqs = target.seen.filter((s) => s.path.startsWith(`${path}/o/${key}/`)).map((s) => Number(s.path.split('/').pop()));
          assert.deepEqual(seqs, [0, 1, 2, 3, 4], key);
        }
      });
    });

    test('many rules per topic, multi-datacenter topics, /regex/ topics', async (t) => {
      const path = `/multi/${b.name}`;
      target.behaviour = () => ({ status: 200 });
      await withEngine(t, `
templates:
  one:
    topic: page-change
    exec: { uri: 'TARGET${path}/one/{{message.n}}' }
  two:
    topics: ['/^page-/']
    exclude_topics: [page-ignored]
    exec: { uri: 'TARGET${path}/two/{{message.n}}' }
`, async ({ log, engine }) => {
        await append(log, `${DC}.page-change`, [event('page-change', { n: 'a' })]);
        await append(log, `dc2.page-change`, [event('page-change', { n: 'b' })]);
        await append(log, `${DC}.page-delete`, [event('page-delete', { n: 'c' })]);
        await append(log, `${DC}.page-ignored`, [event('page-ignored', { n: 'd' })]);
        await until(() => engine.stats().one.succeeded === 2 && engine.stats().two.succeeded === 3, 10_000, 'all rules');
        for (const p of ['one/a', 'one/b', 'two/a', 'two/b', 'two/c']) assert.equal(target.count(`${path}/${p}`), 1, p);
        assert.equal(target.count(`${path}/two/d`), 0);
      }, { datacenters: [DC, 'dc2'], knownStreams: ['page-change', 'page-delete', 'page-ignored'] });
    });

    test('circuit breaker parks a failing key and a rate limit spaces execs', async (t) => {
      const path = `/cb/${b.name}`;
      target.behaviour = (s) => (s.path.startsWith(`${path}/bad`) ? { status: 500 } : { status: 200 });
      await withEngine(t, `
templates:
  cb:
    topic: page-change
    concurrency: 1
    retry_limit: 0
    circuit_breaker: { failures: 2, park_ms: 60000, key: '{{message.key}}' }
    exec: { uri: 'TARGET${path}/{{message.key}}/{{message.n}}' }
  rl:
    topic: page-change
    rate_limit: { per_second: 20, burst: 1 }
    match: { key: good }
    exec: { uri: 'TARGET${path}/rl/{{message.n}}' }
`, async ({ log, engine }) => {
        const evs = [0, 1, 2, 3].map((n) => event('page-change', { key: 'bad', n }));
        const good = [0, 1, 2, 3, 4, 5].map((n) => event('page-change', { key: 'good', n }));
        await append(log, `${DC}.page-change`, [...evs, ...good]);
        await until(() => engine.stats().cb.succeeded === 6 && engine.stats().cb.parked === 2, 10_000, 'breaker');
        assert.equal(target.seen.filter((s) => s.path.startsWith(`${path}/bad/`)).length, 2);
        assert.equal(engine.stats().cb.dead, 2);
        await until(() => engine.stats().rl.succeeded === 6, 10_000, 'rate limited');
        const times = target.seen.filter((s) => s.path.startsWith(`${path}/rl/`)).map((s) => s.at);
        assert.ok(times[5] - times[0] >= 200, `6 execs at 20/s took ${times[5] - times[0]} ms`);
      });
    });
  });
}
