// Prometheus metrics in the text exposition format, without a client library: the hot path
// only bumps numbers in pre-created series (one Map lookup per observation).
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

interface HistSeries {
  labels: string;
  counts: Float64Array;
  sum: number;
  count: number;
}

export class Histogram {
  private series = new Map<string, HistSeries>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly buckets: readonly number[] = DEFAULT_BUCKETS,
  ) {}

  /** Records `seconds` for the label values given in `labelNames` order. */
  observe(values: readonly string[], seconds: number): void {
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      const labels: Labels = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i] ?? ''));
      s = { labels: labelText(labels), counts: new Float64Array(this.buckets.length), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) if (seconds <= b[i]) s.counts[i]++;
    s.sum += seconds;
    s.count++;
  }

  /** Count of observations of one series (tests, benchmarks). */
  count(values: readonly string[]): number {
    return this.series.get(values.join('\u0000'))?.count ?? 0;
  }

  render(): string {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      const base = s.labels ? s.labels.slice(1, -1) + ',' : '';
      for (let i = 0; i < this.buckets.length; i++) out.push(`${this.name}_bucket{${base}le="${this.buckets[i]}"} ${s.counts[i]}`);
      out.push(`${this.name}_bucket{${base}le="+Inf"} ${s.count}`);
      out.push(`${this.name}_sum${s.labels} ${s.sum}`);
      out.push(`${this.name}_count${s.labels} ${s.count}`);
    }
    return out.join('\n');
  }
}

export class Counter {
  private series = new Map<string, { labels: string; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  inc(values: readonly string[], by = 1): void {
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      const labels: Labels = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i] ?? ''));
      s = { labels: labelText(labels), value: 0 };
      this.series.set(key, s);
    }
    s.value += by;
  }

  get(values: readonly string[]): number {
    return this.series.get(values.join('\u0000'))?.value ?? 0;
  }

  render(): string {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const s of this.series.values()) out.push(`${this.name}${s.labels} ${s.value}`);
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

metrics.collect(() => {
  const m = process.memoryUsage();
  return [
    '# HELP cascade_process_resident_memory_bytes Resident set size',
    '# TYPE cascade_process_resident_memory_bytes gauge',
    `cascade_process_resident_memory_bytes ${m.rss}`,
    '# HELP cascade_process_heap_used_bytes V8 heap in use',
    '# TYPE cascade_process_heap_used_bytes gauge',
    `cascade_process_heap_used_bytes ${m.heapUsed}`,
  ].join('\n');
});

/** `onResponse` hook for createHttpServer: records the request duration histogram. */
export function observeRequest(ctx: RequestContext, durationMs: number): void {
  httpRequestDuration.observe([ctx.route, ctx.method, String(ctx.res.statusCode)], durationMs / 1000);
}

/** Mounts `GET /metrics` (Prometheus text format). */
export function mountMetrics(router: Router, registry: MetricsRegistry = metrics): void {
  router.add('GET', '/metrics', (ctx) => {
    const body = registry.render();
    ctx.res.statusCode = 200;
    ctx.res.setHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8');
    ctx.res.setHeader('cache-control', 'no-store');
    ctx.res.setHeader('content-length', Buffer.byteLength(body));
    ctx.res.end(body);
  });
}
