// The dashboard's numbers, computed from the same text `/metrics` serves: a sampler keeps
// recent scrapes of the registry and derives rates and windowed quantiles from two of them
// (the newest and the one about WINDOW_MS before), the way Prometheus' rate() and
// histogram_quantile() would over the same series.
import type { MetricsRegistry } from '../router/metrics.ts';
import { parseExposition, type Sample } from './promtext.ts';

const WINDOW_MS = 60_000;
/** Chart points kept (at one sample per SAMPLE_MS: ten minutes). */
const MAX_POINTS = 300;
export const SAMPLE_MS = 2_000;
/** Sampling stops when nobody asked for data for this long. */
const IDLE_MS = 60_000;

/** The families the panels read; other series are not kept. */
const USED = [
  'cascade_events_intake_total',
  'cascade_changeprop_lag_seconds',
  'cascade_changeprop_events_total',
  'cascade_changeprop_in_flight',
  'cascade_content_hot_cache_lookups_total',
  'cascade_content_hot_cache_bytes',
  'cascade_content_cache_total',
  'cascade_origin_request_duration_seconds',
  'cascade_content_renders_total',
  'cascade_storage_bucket_bytes',
  'cascade_storage_bucket_rows',
];

interface Snapshot {
  t: number;
  byName: Map<string, Sample[]>;
}

type Filter = (l: Record<string, string>) => boolean;
const all: Filter = () => true;

/** Sum of a series' values grouped by one label ('' = everything in one group). */
function sumBy(s: Snapshot, name: string, by: string, f: Filter = all): Map<string, number> {
  const out = new Map<string, number>();
  for (const x of s.byName.get(name) ?? []) {
    if (!f(x.labels)) continue;
    const k = by ? (x.labels[by] ?? '') : '';
    out.set(k, (out.get(k) ?? 0) + x.value);
  }
  return out;
}

/** Increase of a counter between two snapshots; a reset (restart) counts from zero. */
function increase(cur: number, prev: number | undefined): number {
  if (prev === undefined || cur < prev) return cur;
  return cur - prev;
}

/** Buckets (le → cumulative count) of a histogram grouped by a label. */
function bucketsBy(s: Snapshot, name: string, by: string, f: Filter = all): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  for (const x of s.byName.get(`${name}_bucket`) ?? []) {
    if (!f(x.labels)) continue;
    const k = by ? (x.labels[by] ?? '') : '';
    let m = out.get(k);
    if (!m) out.set(k, (m = new Map()));
    const le = x.labels.le === '+Inf' ? Infinity : Number(x.labels.le);
    m.set(le, (m.get(le) ?? 0) + x.value);
  }
  return out;
}

/** histogram_quantile over cumulative buckets: linear inside the bucket, the last finite bound for +Inf. */
export function quantile(q: number, buckets: Map<number, number>): number | null {
  const les = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Infinity) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCum = 0;
  for (const le of les) {
    const cum = buckets.get(le)!;
    if (cum >= rank) {
      if (le === Infinity) return prevLe;
      if (cum === prevCum) return le;
      return prevLe + ((le - prevLe) * (rank - prevCum)) / (cum - prevCum);
    }
    prevLe = le;
    prevCum = cum;
  }
  return prevLe;
}

function diffBuckets(cur: Map<number, number> | undefined, prev: Map<number, number> | undefined): Map<number, number> {
  const out = new Map<number, number>();
  if (!cur) return out;
  const reset = prev && (prev.get(Infinity) ?? 0) > (cur.get(Infinity) ?? 0);
  for (const [le, v] of cur) out.set(le, reset || !prev ? v : v - (prev.get(le) ?? 0));
  return out;
}

export interface Quantiles {
  p50: number | null;
  p99: number | null;
  /** Observations the quantiles are over. */
  count: number;
  /** 'window' (the last minute) or 'start' (no observation in the window: since start). */
  over: 'window' | 'start';
}

function quantiles(cur: Map<number, number> | undefined, prev: Map<number, number> | undefined): Quantiles {
  const w = diffBuckets(cur, prev);
  const wc = w.get(Infinity) ?? 0;
  if (wc > 0) return { p50: quantile(0.5, w), p99: quantile(0.99, w), count: wc, over: 'window' };
  const c = cur ?? new Map<number, number>();
  return { p50: quantile(0.5, c), p99: quantile(0.99, c), count: c.get(Infinity) ?? 0, over: 'start' };
}

const ratio = (hits: number, misses: number): number | null => (hits + misses > 0 ? hits / (hits + misses) : null);
const STORE_MISS = new Set(['miss', 'coalesced']);

export interface DashboardData {
  time: string;
  /** Seconds the rates are over (the last minute, or less just after start). */
  window_seconds: number;
  intake: { stream: string; rate: number; accepted: number; invalid: number; failed: number }[];
  rules: {
    rule: string;
    lag: Quantiles;
    in_flight: number;
    received: number;
    succeeded: number;
    exec_rate: number;
    retried: number;
    retry_rate: number;
    dead: number;
    dlq_command: string;
  }[];
  cache: {
    hot: { hits: number; misses: number; ratio: number | null; window_ratio: number | null; bytes: number };
    store: { hits: number; misses: number; ratio: number | null; window_ratio: number | null };
  };
  origins: { domain: string; latency: Quantiles; requests: number; errors: number; error_rate: number }[];
  renders: { total: number; per_minute: number; by_domain: { domain: string; total: number; per_minute: number }[] };
  storage: { domain: string; bucket: string; bytes: number; rows: number }[];
  /** Chart points, one per sample: [unix ms, value]. */
  series: Record<string, [number, number | null][]>;
}

export class DashboardSampler {
  private snaps: Snapshot[] = [];
  private points = new Map<string, [number, number | null][]>();
  private timer: NodeJS.Timeout | undefined;
  private lastAsked = 0;

  constructor(private readonly registry: MetricsRegistry) {}

  /** Reads the registry now and answers the panels' data (rates against the kept samples). */
  data(now = Date.now()): DashboardData {
    this.lastAsked = now;
    this.timer ??= setInterval(() => this.tick(), SAMPLE_MS).unref();
    const last = this.snaps[this.snaps.length - 1];
    // Kept for rates and charts at most once a second, however many viewers poll.
    const cur = !last || now - last.t >= 1000 ? this.sample(now) : this.read(now);
    return this.build(cur);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    if (Date.now() - this.lastAsked > IDLE_MS) {
      // Nobody watches: stop sampling; the next request starts again (old points would mislead).
      this.close();
      this.snaps = [];
      this.points.clear();
      return;
    }
    this.sample(Date.now());
  }

  private read(now: number): Snapshot {
    const { samples } = parseExposition(this.registry.render());
    const byName = new Map<string, Sample[]>();
    for (const s of samples) {
      const fam = USED.find((u) => s.name === u || s.name.startsWith(u + '_'));
      if (!fam) continue;
      let l = byName.get(s.name);
      if (!l) byName.set(s.name, (l = []));
      l.push(s);
    }
    return { t: now, byName };
  }

  private sample(now: number): Snapshot {
    const prev = this.snaps[this.snaps.length - 1];
    const snap = this.read(now);
    this.snaps.push(snap);
    // Keep one snapshot older than the window as the rates' baseline.
    while (this.snaps.length > 2 && now - this.snaps[1].t >= WINDOW_MS) this.snaps.shift();
    if (prev) this.addPoints(prev, snap);
    return snap;
  }

  private point(name: string, t: number, v: number | null): void {
    let p = this.points.get(name);
    if (!p) this.points.set(name, (p = []));
    p.push([t, v]);
    if (p.length > MAX_POINTS) p.shift();
  }

  /** Chart points between two consecutive samples. */
  private addPoints(prev: Snapshot, cur: Snapshot): void {
    const dt = (cur.t - prev.t) / 1000;
    const t = cur.t;
    const rates = (name: string, by: string, f?: Filter) => {
      const a = sumBy(cur, name, by, f);
      const b = sumBy(prev, name, by, f);
      return new Map([...a].map(([k, v]) => [k, increase(v, b.get(k)) / dt]));
    };
    for (const [stream, r] of rates('cascade_events_intake_total', 'stream', (l) => l.outcome === 'accepted')) this.point(`intake:${stream}`, t, r);
    for (const [, r] of rates('cascade_content_renders_total', '')) this.point('renders', t, r * 60);
    const lagNow = bucketsBy(cur, 'cascade_changeprop_lag_seconds', 'rule');
    const lagPrev = bucketsBy(prev, 'cascade_changeprop_lag_seconds', 'rule');
    for (const [rule, b] of lagNow) {
      const w = diffBuckets(b, lagPrev.get(rule));
      this.point(`lag_p99:${rule}`, t, quantile(0.99, w));
    }
    const hot = rates('cascade_content_hot_cache_lookups_total', 'result');
    this.point('hot_ratio', t, ratio(hot.get('hit') ?? 0, hot.get('miss') ?? 0));
  }

  private build(cur: Snapshot): DashboardData {
    const base = this.snaps[0] !== cur ? this.snaps[0] : undefined;
    const dt = base ? (cur.t - base.t) / 1000 : 0;
    const rate = (c: number, p: number | undefined) => (base && dt > 0 ? increase(c, p) / dt : 0);

    const accepted = sumBy(cur, 'cascade_events_intake_total', 'stream', (l) => l.outcome === 'accepted');
    const acceptedBase = base ? sumBy(base, 'cascade_events_intake_total', 'stream', (l) => l.outcome === 'accepted') : new Map<string, number>();
    const invalid = sumBy(cur, 'cascade_events_intake_total', 'stream', (l) => l.outcome === 'invalid');
    const failed = sumBy(cur, 'cascade_events_intake_total', 'stream', (l) => l.outcome === 'failed');
    const streams = [...new Set([...accepted.keys(), ...invalid.keys(), ...failed.keys()])].sort();
    const intake = streams.map((stream) => ({
      stream,
      rate: rate(accepted.get(stream) ?? 0, acceptedBase.get(stream)),
      accepted: accepted.get(stream) ?? 0,
      invalid: invalid.get(stream) ?? 0,
      failed: failed.get(stream) ?? 0,
    }));

    const outcome = (s: Snapshot | undefined, o: string) => (s ? sumBy(s, 'cascade_changeprop_events_total', 'rule', (l) => l.outcome === o) : new Map<string, number>());
    const [succ, succB, retr, retrB, dead, recv] = [outcome(cur, 'succeeded'), outcome(base, 'succeeded'), outcome(cur, 'retried'), outcome(base, 'retried'), outcome(cur, 'dead'), outcome(cur, 'received')];
    const inFlight = sumBy(cur, 'cascade_changeprop_in_flight', 'rule');
    const lagCur = bucketsBy(cur, 'cascade_changeprop_lag_seconds', 'rule');
    const lagBase = base ? bucketsBy(base, 'cascade_changeprop_lag_seconds', 'rule') : undefined;
    const ruleNames = [...new Set([...recv.keys(), ...inFlight.keys()])].sort();
    const rules = ruleNames.map((rule) => ({
      rule,
      lag: quantiles(lagCur.get(rule), lagBase?.get(rule)),
      in_flight: inFlight.get(rule) ?? 0,
      received: recv.get(rule) ?? 0,
      succeeded: succ.get(rule) ?? 0,
      exec_rate: rate(succ.get(rule) ?? 0, succB.get(rule)),
      retried: retr.get(rule) ?? 0,
      retry_rate: rate(retr.get(rule) ?? 0, retrB.get(rule)),
      dead: dead.get(rule) ?? 0,
      dlq_command: `cascade dlq list --rule ${rule}`,
    }));

    const hot = sumBy(cur, 'cascade_content_hot_cache_lookups_total', 'result');
    const hotB = base ? sumBy(base, 'cascade_content_hot_cache_lookups_total', 'result') : undefined;
    const hotHits = hot.get('hit') ?? 0;
    const hotMisses = hot.get('miss') ?? 0;
    const storeHits = sumBy(cur, 'cascade_content_cache_total', '', (l) => l.outcome === 'hit').get('') ?? 0;
    const storeMisses = sumBy(cur, 'cascade_content_cache_total', '', (l) => STORE_MISS.has(l.outcome)).get('') ?? 0;
    const storeHitsB = base ? sumBy(base, 'cascade_content_cache_total', '', (l) => l.outcome === 'hit').get('') : undefined;
    const storeMissesB = base ? sumBy(base, 'cascade_content_cache_total', '', (l) => STORE_MISS.has(l.outcome)).get('') : undefined;
    const cache = {
      hot: {
        hits: hotHits,
        misses: hotMisses,
        ratio: ratio(hotHits, hotMisses),
        window_ratio: hotB ? ratio(increase(hotHits, hotB.get('hit')), increase(hotMisses, hotB.get('miss'))) : null,
        bytes: sumBy(cur, 'cascade_content_hot_cache_bytes', '').get('') ?? 0,
      },
      store: {
        hits: storeHits,
        misses: storeMisses,
        ratio: ratio(storeHits, storeMisses),
        window_ratio: base ? ratio(increase(storeHits, storeHitsB), increase(storeMisses, storeMissesB)) : null,
      },
    };

    const originName = 'cascade_origin_request_duration_seconds';
    const isError = (l: Record<string, string>) => l.status === 'error' || Number(l.status) >= 500;
    const oReq = sumBy(cur, `${originName}_count`, 'domain');
    const oErr = sumBy(cur, `${originName}_count`, 'domain', isError);
    const oErrB = base ? sumBy(base, `${originName}_count`, 'domain', isError) : new Map<string, number>();
    const oLat = bucketsBy(cur, originName, 'domain');
    const oLatB = base ? bucketsBy(base, originName, 'domain') : undefined;
    const origins = [...oReq.keys()].sort().map((domain) => ({
      domain,
      latency: quantiles(oLat.get(domain), oLatB?.get(domain)),
      requests: oReq.get(domain) ?? 0,
      errors: oErr.get(domain) ?? 0,
      error_rate: rate(oErr.get(domain) ?? 0, oErrB.get(domain)),
    }));

    const rCur = sumBy(cur, 'cascade_content_renders_total', 'domain');
    const rBase = base ? sumBy(base, 'cascade_content_renders_total', 'domain') : new Map<string, number>();
    const byDomain = [...rCur.keys()].sort().map((domain) => ({ domain, total: rCur.get(domain) ?? 0, per_minute: rate(rCur.get(domain) ?? 0, rBase.get(domain)) * 60 }));
    const renders = {
      total: byDomain.reduce((a, d) => a + d.total, 0),
      per_minute: byDomain.reduce((a, d) => a + d.per_minute, 0),
      by_domain: byDomain,
    };

    const rowsOf = new Map((cur.byName.get('cascade_storage_bucket_rows') ?? []).map((s) => [`${s.labels.domain}/${s.labels.bucket}`, s.value]));
    const storage = (cur.byName.get('cascade_storage_bucket_bytes') ?? [])
      .map((s) => ({ domain: s.labels.domain, bucket: s.labels.bucket, bytes: s.value, rows: rowsOf.get(`${s.labels.domain}/${s.labels.bucket}`) ?? 0 }))
      .sort((a, b) => a.domain.localeCompare(b.domain) || a.bucket.localeCompare(b.bucket));

    return {
      time: new Date(cur.t).toISOString(),
      window_seconds: Math.round(dt),
      intake,
      rules,
      cache,
      origins,
      renders,
      storage,
      series: Object.fromEntries(this.points),
    };
  }
}
