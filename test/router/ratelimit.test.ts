// Token buckets per client and route class, with a controllable clock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from '../../src/router/ratelimit.ts';
import { TestClock } from '../../src/util/clock.ts';
import { Histogram, MetricsRegistry } from '../../src/router/metrics.ts';

describe('RateLimiter', () => {
  const classes = { read: { rate: 2, burst: 3 }, render: { rate: 1, burst: 1 }, write: { rate: 0.5, burst: 1 } };

  it('allows a burst, then refuses with the seconds until the next token', async () => {
    const clock = new TestClock(1_000_000);
    const rl = new RateLimiter({ enabled: true, includeLoopback: false, classes, maxClients: 100, clock });
    assert.equal(rl.take('a', 'read'), 0);
    assert.equal(rl.take('a', 'read'), 0);
    assert.equal(rl.take('a', 'read'), 0);
    assert.equal(rl.take('a', 'read'), 1);
    // Other clients and other classes have their own buckets.
    assert.equal(rl.take('b', 'read'), 0);
    assert.equal(rl.take('a', 'render'), 0);
    assert.equal(rl.take('a', 'render'), 1);
    assert.equal(rl.take('a', 'write'), 0);
    assert.equal(rl.take('a', 'write'), 2);
    await clock.advance(500); // one read token back at 2/s
    assert.equal(rl.take('a', 'read'), 0);
    assert.equal(rl.take('a', 'read'), 1);
    await clock.advance(10_000); // refills up to the burst, not beyond
    for (let i = 0; i < 3; i++) assert.equal(rl.take('a', 'read'), 0);
    assert.ok(rl.take('a', 'read') > 0);
    assert.equal(rl.rejected, 5);
  });

  it('tracks a bounded number of clients', () => {
    const rl = new RateLimiter({ enabled: true, includeLoopback: false, classes, maxClients: 50, clock: new TestClock(0) });
    for (let i = 0; i < 500; i++) rl.take(`c${i}`, 'read');
    assert.ok(rl.size <= 50);
  });

  it('refuses a class nobody declared', () => {
    const rl = new RateLimiter({ enabled: true, includeLoopback: false, classes, maxClients: 10 });
    assert.throws(() => rl.take('a', 'events.produce'), /undeclared rate class/);
  });
});

describe('metrics', () => {
  it('histograms are cumulative and render in the Prometheus text format', () => {
    const reg = new MetricsRegistry();
    const h: Histogram = reg.histogram('x_seconds', 'help text', ['route'], [0.01, 0.1]);
    h.observe(['/a'], 0.005);
    h.observe(['/a'], 0.05);
    h.observe(['/a'], 5);
    const c = reg.counter('y_total', 'a counter', ['k']);
    c.inc(['v"q']);
    const text = reg.render();
    assert.match(text, /# TYPE x_seconds histogram/);
    assert.match(text, /x_seconds_bucket\{route="\/a",le="0.01"\} 1\n/);
    assert.match(text, /x_seconds_bucket\{route="\/a",le="0.1"\} 2\n/);
    assert.match(text, /x_seconds_bucket\{route="\/a",le="\+Inf"\} 3\n/);
    assert.match(text, /x_seconds_count\{route="\/a"\} 3\n/);
    assert.match(text, /y_total\{k="v\\"q"\} 1\n/);
    assert.equal(h.count(['/a']), 3);
  });
});
