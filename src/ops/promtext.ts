// A reader of the Prometheus text exposition format (what `/metrics` serves): the dashboard
// builds its panels from the same text, and the Grafana check lists the metric names in it.

export interface Sample {
  /** The series name as written (`…_bucket`, `…_sum`, `…_count` included). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  /** Metric family name → type from the `# TYPE` lines (counter, gauge, histogram, …). */
  types: Map<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# TYPE (\S+) (\S+)/.exec(line);
      if (m) types.set(m[1], m[2]);
      continue;
    }
    const s = parseSample(line);
    if (s) samples.push(s);
  }
  return { samples, types };
}

function parseSample(line: string): Sample | undefined {
  const n = NAME.exec(line);
  if (!n) return undefined;
  const name = n[0];
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (i < line.length && line[i] !== '}') {
      const eq = line.indexOf('=', i);
      if (eq < 0 || line[eq + 1] !== '"') return undefined;
      const key = line.slice(i, eq).trim();
      let v = '';
      let j = eq + 2;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\') {
          j++;
          v += line[j] === 'n' ? '\n' : line[j];
        } else v += line[j];
      }
      labels[key] = v;
      i = j + 1;
      if (line[i] === ',') i++;
    }
    i++;
  }
  const rest = line.slice(i).trim().split(/\s+/)[0];
  const value = rest === '+Inf' ? Infinity : rest === '-Inf' ? -Infinity : Number(rest);
  if (rest === undefined || rest === '' || (Number.isNaN(value) && rest !== 'NaN')) return undefined;
  return { name, labels, value };
}

/**
 * The metric family a series belongs to: `x_bucket`, `x_sum`, `x_count` of a histogram or
 * summary `x` are `x`; every other name is its own family (a counter may end in `_count`).
 */
export function familyOf(name: string, types: Map<string, string>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const t = types.get(base);
    if (t === 'histogram' || (t === 'summary' && suffix !== '_bucket')) return base;
  }
  return name;
}
