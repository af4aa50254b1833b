// `cascade origin check URL`: what a wiki offers Cascade (siteinfo, the REST routes Cascade
// calls, a transform route, the Parsoid HTML version, recentchanges, EventBus) and the config
// block to paste. Read-only requests to the URL the operator named, nothing else.

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

type Json = Record<string, unknown>;

async function get(url: string, timeoutMs: number, init: RequestInit = {}): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs), headers: { 'user-agent': 'Cascade origin check', ...(init.headers as Record<string, string>) } });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

function json(text: string): Json | undefined {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
}

const enc = (title: string) => encodeURIComponent(title.replace(/ /g, '_'));

export async function checkOrigin(url: string, opts: { domain?: string; timeoutMs?: number } = {}): Promise<OriginReport> {
  const base = originBase(url);
  const t = opts.timeoutMs ?? 15_000;
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

  const si = await attempt('siteinfo (action API)', async () => {
    const r = await get(`${base}/w/api.php?action=query&meta=siteinfo&siprop=general%7Cextensions&format=json&formatversion=2`, t);
    const j = json(r.text);
    const g = (j?.query as Json | undefined)?.general as Json | undefined;
    if (r.status !== 200 || !g) throw new Error(`HTTP ${r.status}: no siteinfo at ${base}/w/api.php`);
    add('siteinfo (action API)', true, `${g.generator} (${g.wikiid}, ${g.lang}) at ${base}/w/api.php`);
    return { general: g, extensions: (((j?.query as Json).extensions ?? []) as Json[]).map((e) => String(e.name)) };
  });
  const general = si?.general ?? {};
  const mainPage = String(general.mainpage ?? 'Main Page');
  const domain = opts.domain ?? (general.servername ? String(general.servername) : new URL(base).hostname);

  const bare = await attempt('REST page metadata', async () => {
    const r = await get(`${base}/w/rest.php/v1/page/${enc(mainPage)}/bare`, t);
    const j = json(r.text);
    const latest = (j?.latest as Json | undefined)?.id;
    add('REST page metadata', r.status === 200 && typeof latest === 'number', `GET /w/rest.php/v1/page/{title}/bare → ${r.status}`);
    return typeof latest === 'number' ? latest : undefined;
  });
  await attempt('REST page HTML (Parsoid)', async () => {
    const r = await get(`${base}/w/rest.php/v1/page/${enc(mainPage)}/html`, t);
    const v = /<meta property="mw:htmlVersion" content="([^"]+)"/.exec(r.text)?.[1] ?? /profile="[^"]*\/HTML\/([\d.]+)"/.exec(r.type)?.[1];
    add('REST page HTML (Parsoid)', r.status === 200 && v !== undefined, `GET /w/rest.php/v1/page/{title}/html → ${r.status}${v ? `, Parsoid HTML ${v}` : ', no Parsoid HTML version found'}`);
  });
  if (bare) {
    await attempt('REST revision HTML', async () => {
      const r = await get(`${base}/w/rest.php/v1/revision/${bare}/html`, t);
      add('REST revision HTML', r.status === 200, `GET /w/rest.php/v1/revision/{id}/html → ${r.status}`);
    });
  }
  await attempt('transform wikitext → HTML', async () => {
    const candidates = [
      '/w/rest.php/v1/transform/wikitext/to/html',
      '/w/rest.php/coredev/v0/transform/wikitext/to/html',
      `/w/rest.php/${domain}/v3/transform/wikitext/to/html`,
    ];
    const found: string[] = [];
    for (const path of candidates) {
      const r = await get(`${base}${path}`, t, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ wikitext: "''check''" }) });
      if (r.status === 200 && /<i[^>]*>check<\/i>/.test(r.text)) found.push(path);
    }
    add('transform wikitext → HTML', found.length > 0, found.length ? `POST ${found.join(', ')}` : `none of ${candidates.join(', ')}`);
  });
  await attempt('recentchanges', async () => {
    const r = await get(`${base}/w/api.php?action=query&list=recentchanges&rcprop=title%7Cids%7Ctimestamp&rclimit=1&format=json&formatversion=2`, t);
    const rc = ((json(r.text)?.query as Json | undefined)?.recentchanges ?? undefined) as Json[] | undefined;
    add('recentchanges', r.status === 200 && Array.isArray(rc), rc ? `list=recentchanges readable${rc[0] ? `, newest ${rc[0].timestamp} (rcid ${rc[0].rcid})` : ', empty'}` : `HTTP ${r.status}`);
  });
  const eventBus = si?.extensions.includes('EventBus') ?? false;
  add('EventBus extension', true, eventBus ? 'installed: let the wiki post its events to Cascade’s /v1/events' : 'not installed: Cascade follows recentchanges');
  const rcOk = probes.find((p) => p.name === 'recentchanges')?.ok ?? false;
  const follow = eventBus ? 'eventbus' : rcOk ? 'recentchanges' : 'off';
  return { base, domain, ...(general.generator ? { generator: String(general.generator) } : {}), probes, follow, config: configBlock(domain, base, follow) };
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
