// Stream configuration: which streams exist, which schema titles each accepts, and the log
// topic they go to (`{datacenter}.{stream}`, as Wikimedia prefixes topics per datacenter).
import type { StreamConfig } from './config.ts';
import { ConfigError } from '../config/load.ts';
import { BoundedMap } from '../util/bounded-map.ts';

export interface ResolvedStream {
  name: string;
  topic: string;
  titles: ReadonlySet<string>;
  /** Path segments of the ordering-key field, if any. */
  keyPath?: string[];
}

const MAX_CACHED_NAMES = 10_000;

export class StreamRegistry {
  private readonly exact = new Map<string, ResolvedStream>();
  private readonly patterns: { re: RegExp; cfg: StreamConfig }[] = [];
  /** Pattern matches are cached (bounded) so the hot path is one Map lookup. */
  private readonly matched = new BoundedMap<string, ResolvedStream | null>({ maxEntries: MAX_CACHED_NAMES });

  constructor(
    streams: Record<string, StreamConfig>,
    readonly datacenter: string,
  ) {
    for (const [name, cfg] of Object.entries(streams)) {
      const m = /^\/(.*)\/([a-z]*)$/s.exec(name);
      if (m) {
        let re: RegExp;
        try {
          re = new RegExp(m[1], m[2].replace(/[gy]/g, ''));
        } catch (e) {
          throw new ConfigError([{ file: '<config>', line: 0, column: 0, path: `events.streams.${name}`, message: `not a valid stream pattern: ${(e as Error).message}` }]);
        }
        this.patterns.push({ re, cfg });
      }
      else this.exact.set(name, this.build(name, cfg));
    }
  }

  topicOf(stream: string): string {
    return `${this.datacenter}.${stream}`;
  }

  /** The stream's settings, or undefined when no configured name or pattern admits it. */
  get(name: string): ResolvedStream | undefined {
    const hit = this.exact.get(name);
    if (hit) return hit;
    const cached = this.matched.get(name);
    if (cached !== undefined) return cached ?? undefined;
    let found: ResolvedStream | null = null;
    for (const p of this.patterns) {
      if (p.re.test(name)) {
        found = this.build(name, p.cfg);
        break;
      }
    }
    this.matched.set(name, found);
    return found ?? undefined;
  }

  private build(name: string, cfg: StreamConfig): ResolvedStream {
    const titles = new Set(Array.isArray(cfg.schema_title) ? cfg.schema_title : [cfg.schema_title]);
    return { name, topic: this.topicOf(name), titles, ...(cfg.key_field ? { keyPath: cfg.key_field.split('.') } : {}) };
  }
}
