// Prometheus metrics in the text exposition format, without a client library: the hot path
// only bumps numbers in pre-created series (Map lookups per label, no key strings built).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { timingSafeEqual } from 'node:crypto';
import { CascadeError } from '../errors/index.ts';
import { EdgeErrors } from './errors.ts';
import type { RequestContext } from './router.ts';
import type { Router } from './router.ts';

type Labels = Record<string, string>;

const DEFAULT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(labels: Labels): string {
  const parts = Object.keys(labels).map((k) => `${k}="${escapeLabel(labels[k])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** The label text of a series from its label values in `names` order (a missing value is ''). */
function seriesLabels(names: readonly string[], values: readonly (string | number)[]): string {
  const labels: Labels = {};
  names.forEach((n, i) => (labels[n] = String(values[i] ?? '')));
  return labelText(labels);
}

/** The `# HELP` and `# TYPE` lines that open a metric's exposition. */
function header(name: string, help: string, type: string): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
}

/** A whole unlabelled gauge: its header and its one sample. */
function gauge(name: string, help: string, value: number): string[] {
  return [...header(name, help, 'gauge'), `${name} ${value}`];
}

/** Label values to series, one Map level per label: lookups build no key strings. Numbers
 * are keyed as their string (V8 caches small numbers' strings), so 200 and '200' are one series. */
class SeriesIndex<S> {
  private root = new Map<unknown, unknown>();
  constructor(
    private readonly labelNames: readonly string[],
    private readonly create: (labels: string) => S,
  ) {}
  readonly all: S[] = [];

  get(values: readonly (string | number)[]): S {
    let m = this.root;
    const last = this.labelNames.length - 1;
    for (let i = 0; i < last; i++) {
      const k = String(values[i]);
      let next = m.get(k) as Map<unknown, unknown> | undefined;
      if (!next) m.set(k, (next = new Map()));
      m = next;
    }
    const s = m.get(String(values[last])) as S | undefined;
    return s ?? this.add(m, values);
  }

  /** Three labels without an array (the request histogram's hot path). */
  get3(a: string, b: string, c: string | number): S {
    let m1 = this.root.get(a) as Map<unknown, unknown> | undefined;
    if (!m1) this.root.set(a, (m1 = new Map()));
    let m2 = m1.get(b) as Map<unknown, unknown> | undefined;
    if (!m2) m1.set(b, (m2 = new Map()));
    const s = m2.get(String(c)) as S | undefined;
    return s ?? this.add(m2, [a, b, c]);
  }

  peek(values: readonly (string | number)[]): S | undefined {
    let m: Map<unknown, unknown> | undefined = this.root;
    for (let i = 0; i < values.length && m; i++) {
      const v = m.get(String(values[i]));
      if (i === values.length - 1) return v as S | undefined;
      m = v as Map<unknown, unknown> | undefined;
    }
    return undefined;
  }

  private add(m: Map<unknown, unknown>, values: readonly (string | number)[]): S {
    const s = this.create(seriesLabels(this.labelNames, values));
    m.set(String(values[this.labelNames.length - 1]), s);
    this.all.push(s);
    return s;
  }
}

class HistSeries {
  /** Per-bucket counts (not cumulative; the last slot is +Inf); render() sums them up. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly labels: string,
    private readonly buckets: readonly number[],
  ) {
    this.counts = new Float64Array(buckets.length + 1);
  }

  observe(seconds: number): void {
    const b = this.buckets;
    let i = 0;
    while (i < b.length && seconds > b[i]) i++;
    this.counts[i]++;
    this.sum += seconds;
    this.count++;
  }
}

/** A metric with labelled series kept in memory (counters, histograms). */
abstract class LabelledMetric<S> {
  protected readonly series: SeriesIndex<S>;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    create: (labels: string) => S,
  ) {
    this.series = new SeriesIndex(labelNames, create);
  }
}

export class Histogram extends LabelledMetric<HistSeries> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[] = DEFAULT_BUCKETS,
  ) {
    super(name, help, labelNames, (labels) => new HistSeries(labels, buckets));
  }

  /** Records `seconds` for the label values given in `labelNames` order. */
  observe(values: readonly (string | number)[], seconds: number): void {
    this.series.get(values).observe(seconds);
  }

  /** `observe` for a three-label histogram, without allocating. */
  observe3(a: string, b: string, c: string | number, seconds: number): void {
    this.series.get3(a, b, c).observe(seconds);
  }

  /** Count of observations of one series (tests, benchmarks). */
  count(values: readonly (string | number)[]): number {
    return this.series.peek(values)?.count ?? 0;
  }

  render(): string {
    const out = header(this.name, this.help, 'histogram');
    for (const s of this.series.all) {
      const base = s.labels ? s.labels.slice(1, -1) + ',' : '';
      let cum = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cum += s.counts[i];
        out.push(`${this.name}_bucket{${base}le="${this.buckets[i]}"} ${cum}`);
      }
      out.push(`${this.name}_bucket{${base}le="+Inf"} ${s.count}`);
      out.push(`${this.name}_sum${s.labels} ${s.sum}`);
      out.push(`${this.name}_count${s.labels} ${s.count}`);
    }
    return out.join('\n');
  }
}

/** One counter series; hot paths keep a reference and call `inc()`. */
export class CounterSeries {
  value = 0;
  constructor(readonly labels: string) {}
  inc(by = 1): void {
    this.value += by;
  }
}

export class Counter extends LabelledMetric<CounterSeries> {
  constructor(name: string, help: string, labelNames: readonly string[]) {
    super(name, help, labelNames, (labels) => new CounterSeries(labels));
  }

  inc(values: readonly (string | number)[], by = 1): void {
    this.series.get(values).value += by;
  }

  /** The series of these label values, to be kept and bumped without lookups. */
  labels(values: readonly (string | number)[]): CounterSeries {
    return this.series.get(values);
  }

  get(values: readonly (string | number)[]): number {
    return this.series.peek(values)?.value ?? 0;
  }

  render(): string {
    const out = header(this.name, this.help, 'counter');
    for (const s of this.series.all) out.push(`${this.name}${s.labels} ${s.value}`);
    return out.join('\n');
  }
}

/**
 * A metric read at scrape time from live objects (rule engines, caches): each tracked source
 * yields `[label values, value]`; sources reporting one series are summed (several apps in one
 * process, as in tests). A source stops counting once its `track()` release is called.
 */
export class SampledMetric<T> {
  private sources = new Set<T>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
    readonly labelNames: readonly string[],
    private readonly read: (source: T) => Iterable<readonly [readonly (string | number)[], number]>,
  ) {}

  track(source: T): () => void {
    this.sources.add(source);
    return () => void this.sources.delete(source);
  }

  render(): string {
    const sums = new Map<string, number>();
    for (const src of this.sources) {
      for (const [values, v] of this.read(src)) {
        const key = seriesLabels(this.labelNames, values);
        sums.set(key, (sums.get(key) ?? 0) + v);
      }
    }
    const out = header(this.name, this.help, this.type);
    for (const [labels, v] of sums) out.push(`${this.name}${labels} ${v}`);
    return out.join('\n');
  }
}

export class MetricsRegistry {
  private metrics: { render(): string }[] = [];
  private collectors: (() => string)[] = [];

  histogram(name: string, help: string, labelNames: readonly string[], buckets?: readonly number[]): Histogram {
    const h = new Histogram(name, help, labelNames, buckets);
    this.metrics.push(h);
    return h;
  }

  counter(name: string, help: string, labelNames: readonly string[]): Counter {
    const c = new Counter(name, help, labelNames);
    this.metrics.push(c);
    return c;
  }

  /** A counter or gauge read from live objects at scrape time (see SampledMetric). */
  sampled<T>(
    name: string,
    help: string,
    type: 'counter' | 'gauge',
    labelNames: readonly string[],
    read: (source: T) => Iterable<readonly [readonly (string | number)[], number]>,
  ): SampledMetric<T> {
    const m = new SampledMetric(name, help, type, labelNames, read);
    this.metrics.push(m);
    return m;
  }

  /** Adds a function producing exposition text at scrape time (gauges such as RSS). */
  collect(fn: () => string): void {
    this.collectors.push(fn);
  }

  render(): string {
    return [...this.metrics.map((m) => m.render()), ...this.collectors.map((f) => f())].join('\n') + '\n';
  }
}

/** The process-wide registry: capabilities add their own series to it. */
export const metrics = new MetricsRegistry();

export const httpRequestDuration = metrics.histogram(
  'cascade_http_request_duration_seconds',
  'HTTP request duration by route pattern, method and status',
  ['route', 'method', 'status'],
);

// Event-loop delay (native sampling timer, no JavaScript per tick): what a request may wait
// behind other work on the loop; the tail latency's floor.
const LOOP_RESOLUTION_MS = 20;
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
loopDelay.enable();

metrics.collect(() => {
  const d = loopDelay;
  // The histogram holds intervals between samples: the delay is what exceeds the resolution.
  const delay = (ns: number) => (d.count ? Math.max(0, ns - LOOP_RESOLUTION_MS * 1e6) / 1e9 : 0);
  const lines = [
    ...header('cascade_event_loop_delay_seconds', `Event-loop delay since the last scrape (sampled every ${LOOP_RESOLUTION_MS} ms)`, 'gauge'),
    `cascade_event_loop_delay_seconds{quantile="0.5"} ${delay(d.percentile(50))}`,
    `cascade_event_loop_delay_seconds{quantile="0.99"} ${delay(d.percentile(99))}`,
    `cascade_event_loop_delay_seconds{quantile="1"} ${delay(d.max)}`,
  ];
  d.reset();
  return lines.join('\n');
});

metrics.collect(() => {
  const m = process.memoryUsage();
  return [
    ...gauge('cascade_process_resident_memory_bytes', 'Resident set size', m.rss),
    ...gauge('cascade_process_heap_used_bytes', 'V8 heap in use', m.heapUsed),
    ...gauge('cascade_process_heap_total_bytes', 'V8 heap reserved', m.heapTotal),
    ...gauge('cascade_process_external_bytes', 'Memory of C++ objects bound to JavaScript (Buffers included)', m.external),
  ].join('\n');
});

/** `onResponse` hook for createHttpServer: records the request duration histogram. */
export function observeRequest(ctx: RequestContext, durationMs: number): void {
  httpRequestDuration.observe3(ctx.route, ctx.method, ctx.res.statusCode, durationMs / 1000);
}

export interface MetricsAccess {
  /** Anyone may read (`metrics.public: true`); otherwise internal callers and the admin token only. */
  public?: boolean;
  /** The admin token, also accepted as `Authorization: Bearer <token>` (a Prometheus scrape config). */
  token?: string;
}

/** Mounts `GET /metrics` (Prometheus text format): internal callers or the admin token unless public. */
export function mountMetrics(router: Router, registry: MetricsRegistry = metrics, access: MetricsAccess = {}): void {
  const bearer = access.token ? Buffer.from(`Bearer ${access.token}`) : undefined;
  router.add('GET', '/metrics', (ctx) => {
    if (!access.public && !ctx.internal) {
      const auth = ctx.req.headers.authorization;
      const ok = bearer !== undefined && typeof auth === 'string' && auth.length === bearer.length && timingSafeEqual(Buffer.from(auth), bearer);
      if (!ok) throw new CascadeError(EdgeErrors.metricsForbidden, 'metrics are for internal callers or the admin token (Authorization: Bearer); set metrics.public to open them');
    }
    const body = registry.render();
    ctx.res.statusCode = 200;
    ctx.res.setHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8');
    ctx.res.setHeader('cache-control', 'no-store');
    ctx.res.setHeader('content-length', Buffer.byteLength(body));
    ctx.res.end(body);
  });
}
