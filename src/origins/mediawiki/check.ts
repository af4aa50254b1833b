// `cascade origin check URL`: what a wiki offers Cascade (siteinfo, the REST routes Cascade
// calls, a transform route, the Parsoid HTML version, recentchanges, EventBus) and the config
// block to paste. Read-only requests to the URL the operator named, nothing else, made by the
// adapter Cascade serves the wiki with (one probe, one set of typed calls).
import { OriginClient } from '../../content/origin.ts';
import { MediaWikiAdapter } from './adapter.ts';

export interface Probe {
  name: string;
  ok: boolean;
  detail: string;
}

export interface OriginReport {
  /** Origin base URL for `domains.<d>.origin.url` (entry points under `/w/`). */
  base: string;
  domain: string;
  generator?: string;
  probes: Probe[];
  /** Suggested `origin.changes.follow`. */
  follow: 'recentchanges' | 'eventbus' | 'off';
  config: string;
}

/** The origin base of a wiki URL: `https://w.example/w/api.php` → `https://w.example`. */
export function originBase(url: string): string {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`not an http(s) URL: ${url}`);
  const path = u.pathname.replace(/\/(w\/)?(api\.php|rest\.php|index\.php)(\/.*)?$/, '').replace(/\/w\/?$/, '').replace(/\/$/, '');
  return `${u.origin}${path}`;
}

export async function checkOrigin(url: string, opts: { domain?: string; timeoutMs?: number } = {}): Promise<OriginReport> {
  const base = originBase(url);
  // The same adapter (and probe) Cascade uses when serving the wiki; the domain key is only
  // this client's name for the one origin until the wiki tells its server name.
  const KEY = 'origin-check';
  const client = new OriginClient({ [KEY]: { origin: { url: base } } }, { timeoutMs: opts.timeoutMs ?? 15_000, connections: 1 });
  const wiki = new MediaWikiAdapter(client);
  const probes: Probe[] = [];
  const add = (name: string, ok: boolean, detail: string) => probes.push({ name, ok, detail });
  const attempt = async <T>(name: string, f: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await f();
    } catch (e) {
      add(name, false, String((e as Error).message ?? e));
      return undefined;
    }
  };
  try {
    const caps = await attempt('siteinfo (action API)', async () => {
      const c = await wiki.capabilities(KEY);
      add('siteinfo (action API)', true, `${c.generator ?? 'a MediaWiki action API'} at ${base}/w/api.php`);
      return c;
    });
    const domain = opts.domain ?? caps?.parsoidDomain ?? new URL(base).hostname;
    if (caps) {
      add('REST page metadata', caps.rest, `GET /w/rest.php/v1/page/{title}/bare → ${caps.rest ? 'answers' : 'absent'}`);
      const bare = await attempt('REST page HTML (Parsoid)', async () => {
        const b = await wiki.pageBare(KEY, caps.mainPage ?? 'Main_Page');
        const h = await wiki.revisionHtml(KEY, b.latest.id);
        add('REST page HTML (Parsoid)', h.htmlVersion !== undefined, `GET /w/rest.php/v1/revision/{id}/html → 200${h.htmlVersion ? `, Parsoid HTML ${h.htmlVersion}` : ', no Parsoid HTML version found'}`);
        return b;
      });
      if (bare) add('REST revision HTML', true, 'GET /w/rest.php/v1/revision/{id}/html → 200');
      const route = caps.transform === 'none' ? undefined : wiki.transformPath(caps.transform, caps.parsoidDomain, undefined);
      add('transform wikitext → HTML', route !== undefined, route ? `POST ${route}` : 'no transform route (v1, coredev/v0 or the Parsoid extension’s v3)');
      add('action=purge', caps.purge, caps.purge ? 'available: template edits re-render through the parser cache' : 'absent');
      await attempt('recentchanges', async () => {
        const rc = await wiki.recentChanges(KEY, { rcprop: 'title|ids|timestamp', rclimit: '1' });
        const c = rc.changes[0];
        add('recentchanges', true, `list=recentchanges readable${c ? `, newest ${c.timestamp} (rcid ${c.rcid})` : ', empty'}`);
      });
      add('EventBus extension', true, caps.eventBus ? 'installed: let the wiki post its events to Cascade’s /v1/events' : 'not installed: Cascade follows recentchanges');
    }
    const rcOk = probes.find((p) => p.name === 'recentchanges')?.ok ?? false;
    const follow = caps?.eventBus ? 'eventbus' : rcOk ? 'recentchanges' : 'off';
    return { base, domain, ...(caps?.generator ? { generator: caps.generator } : {}), probes, follow, config: configBlock(domain, base, follow) };
  } finally {
    await client.close();
  }
}

export function configBlock(domain: string, base: string, follow: string): string {
  return `domains:
  ${domain}:
    origin:
      url: ${base}
      changes: { follow: ${follow}, poll_interval_ms: 1000 }${follow === 'recentchanges' ? '   # optional: rcfeed_udp_port: 9390' : ''}
    buckets:
      html: { type: key_rev_value, compression: brotli, retention: { policy: latest, count: 5, grace_seconds: 86400 } }
      summary: { type: key_rev_value, compression: gzip, retention: { policy: latest, count: 1, grace_seconds: 3600 } }
      mobile-sections: { type: key_rev_value, compression: gzip, retention: { policy: latest, count: 1, grace_seconds: 3600 } }
      mobile-html: { type: key_rev_value, compression: gzip, retention: { policy: latest, count: 1, grace_seconds: 3600 } }
      stash: { type: key_rev_value, compression: gzip, retention: { policy: ttl, ttl_seconds: 86400 } }
      page-meta: { type: key_value, compression: none }`;
}

export function formatReport(r: OriginReport): string {
  const lines = [`${r.base}: ${r.generator ?? 'not a MediaWiki action API'}`, ''];
  for (const p of r.probes) lines.push(`  ${p.ok ? 'ok  ' : 'MISS'} ${p.name}: ${p.detail}`);
  lines.push('', 'Config block for cascade.yaml:', '', r.config);
  if (r.follow === 'recentchanges') {
    lines.push('', 'Optional, for changes within milliseconds (LocalSettings.php; UDP to Cascade’s host):', `  $wgRCFeeds['cascade'] = [ 'formatter' => JSONRCFeedFormatter::class, 'uri' => 'udp://127.0.0.1:9390' ];`);
  }
  return lines.join('\n');
}
