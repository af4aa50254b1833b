// The MediaWiki origin adapter: every call Cascade makes to a wiki, typed, in one place.
// It works against the example wiki (src/wiki) and a stock MediaWiki 1.39+ alike; what a wiki
// offers beyond the common core (a wikitext transform route, action=purge, the Parsoid HTML
// version) is probed once per domain and logged. Requests go through the OriginClient, so
// only configured hosts are reachable and every path is built here from typed values.
import { CascadeError } from '../../errors/index.ts';
import { checkStatus, errorReason, originReason, type OriginClient, type OriginResponse } from '../../content/origin.ts';
import { ContentErrors } from '../../content/errors.ts';
import { isTid, tidTime } from '../../util/tid.ts';
import { SingleFlight } from '../../util/single-flight.ts';
import { asLogger, type LogSink, type Logger } from '../../util/logger.ts';

const API = '/w/api.php';
const REST = '/w/rest.php';

export type { PageBare, RevisionBare, PageAccess, OriginHtml, TransformRoute, OriginCapabilities } from './types.ts';
import type { PageBare, RevisionBare, PageAccess, OriginHtml, TransformRoute, OriginCapabilities } from './types.ts';
import type { RecentChange, RevisionFacts } from './feed-events.ts';
import { pageInfo, type PageInfo } from './page-info.ts';

export const PROFILE_BASE = 'https://www.mediawiki.org/wiki/Specs/HTML/';
const VERSION_META = /<meta\s+property="mw:html(?:Version|:version)"\s+content="(\d+\.\d+\.\d+)"/;
const PROFILE_RE = /profile="?https?:\/\/www\.mediawiki\.org\/wiki\/Specs\/HTML\/(\d+\.\d+\.\d+)/;

/** HTML version a render declares: its content-type profile, else its `mw:htmlVersion` meta. */
export function htmlVersionOf(contentType: string | undefined, body: Buffer): string | undefined {
  const p = contentType ? PROFILE_RE.exec(contentType)?.[1] : undefined;
  if (p) return p;
  const head = body.subarray(0, 8192).toString('latin1');
  const end = head.indexOf('</head>');
  return VERSION_META.exec(end === -1 ? head : head.slice(0, end))?.[1];
}

/** The render time in a MediaWiki REST ETag (`"rev/<time uuid>/…"`), if it carries one. */
export function renderTimeOf(etag: string | undefined): number | undefined {
  const m = etag ? /"?\d+\/([0-9a-f-]{36})/i.exec(etag) : null;
  return m && isTid(m[1]) ? tidTime(m[1]) : undefined;
}

const header = (res: OriginResponse, name: string): string | undefined => {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** Path segment of a title: percent-encoded (the origin normalizes the rest). */
const seg = (key: string) => encodeURIComponent(key);

const qs = (p: Record<string, string>) => new URLSearchParams({ format: 'json', formatversion: '2', ...p }).toString();

/** Errors of saves that a CSRF token fixes (MediaWiki 1.39 answers missingparam for `token`). */
const TOKEN_ERRORS = new Set(['missingparam', 'notoken', 'badtoken', 'rest-badtoken', 'rest-badtoken-missing', 'rest-badtoken-nosession']);

export class MediaWikiAdapter {
  // Probed once per domain; a failed probe is retried after 5 s, not on every request.
  private readonly log: Logger;
  private readonly probes = new SingleFlight<string, OriginCapabilities>({ memoize: true, failureTtlMs: 5_000 });
  private known = new Map<string, OriginCapabilities>();

  constructor(
    readonly client: OriginClient,
    log?: LogSink,
  ) {
    this.log = asLogger(log);
  }

  // ---------------------------------------------------------------- probing

  /** Capabilities of a domain's wiki (probed once; a failed probe is retried after 5 s). */
  capabilities(domain: string): Promise<OriginCapabilities> {
    return this.probes.run(domain, () =>
      this.probe(domain).then(
        (c) => {
          this.known.set(domain, c);
          this.log('origin probed', { domain, ...c, probedAt: undefined });
          return c;
        },
        (e: unknown) => {
          this.log('origin probe failed', { domain, error: String(e) });
          throw e;
        },
      ),
    );
  }

  /** Capabilities when already probed (sync). */
  capabilitiesKnown(domain: string): OriginCapabilities | undefined {
    return this.known.get(domain);
  }

  private async probe(domain: string): Promise<OriginCapabilities> {
    const si = await this.client.getJson<{ query?: { general?: Record<string, unknown>; extensions?: { name?: string }[] } }>(domain, 'probe', `${API}?${qs({ action: 'query', meta: 'siteinfo', siprop: 'general|extensions' })}`);
    const g = si.query?.general ?? {};
    const generator = typeof g.generator === 'string' ? g.generator : undefined;
    const mainPage = typeof g.mainpage === 'string' ? g.mainpage.replace(/ /g, '_') : 'Main_Page';
    const server = typeof g.server === 'string' ? g.server : '';
    const host = /^(?:https?:)?\/\/([^/:]+)/.exec(server)?.[1] ?? domain;
    const ext = new Set((si.query?.extensions ?? []).map((e) => e.name));
    const eventBus = ext.has('EventBus');
    const cirrusSearch = ext.has('CirrusSearch');
    const caps: OriginCapabilities = { ...(generator ? { generator } : {}), mainPage, rest: false, transform: 'none', purge: false, eventBus, cirrusSearch, parsoidDomain: host, probedAt: Date.now() };
    const bare = await this.client.request(domain, { op: 'probe', path: `${REST}/v1/page/${seg(mainPage)}/bare`, headers: { accept: 'application/json' } });
    caps.rest = bare.status === 200 || bare.status === 404;
    // Routes are probed with GET, which renders nothing: a POST-only route answers 405, an absent one 404.
    for (const route of ['v1', 'coredev', 'parsoid-v3'] as const) {
      const res = await this.client.request(domain, { op: 'probe', path: this.transformPath(route, host, mainPage), headers: { accept: 'text/html' } });
      if (res.status === 405 || res.status === 200) {
        caps.transform = route;
        break;
      }
    }
    const pi = await this.client.request(domain, { op: 'probe', path: `${API}?${qs({ action: 'paraminfo', modules: 'purge' })}`, headers: { accept: 'application/json' } });
    try {
      const j = JSON.parse(pi.body.toString('utf8')) as { paraminfo?: { modules?: { name?: string }[] } };
      caps.purge = j.paraminfo?.modules?.some((m) => m.name === 'purge') === true;
    } catch {
      caps.purge = false;
    }
    return caps;
  }

  /** Records (and logs once, or when it changes) the HTML version a domain's renders declare. */
  private noteVersion(domain: string, v: string | undefined): string | undefined {
    const caps = this.known.get(domain);
    if (v && caps && caps.htmlVersion !== v) {
      caps.htmlVersion = v;
      this.log('origin HTML version', { domain, htmlVersion: v });
    }
    return v;
  }

  /** Without a key: the untitled route (the origin renders as its main page, as Parsoid does). */
  transformPath(route: Exclude<TransformRoute, 'none'>, host: string, key: string | undefined, rev?: number, direction = 'wikitext/to/html'): string {
    const tail = `transform/${direction}${key !== undefined ? `/${seg(key)}` : ''}${key !== undefined && rev !== undefined ? `/${rev}` : ''}`;
    if (route === 'v1') return `${REST}/v1/${tail}`;
    if (route === 'coredev') return `${REST}/coredev/v0/${tail}`;
    return `${REST}/${seg(host)}/v3/${tail}`;
  }

  // ---------------------------------------------------------------- reads

  /** Raw siteinfo (general, namespaces, aliases) for title normalization. */
  siteinfo(domain: string, requestId?: string): Promise<unknown> {
    return this.client.getJson<unknown>(domain, 'siteinfo', `${API}?${qs({ action: 'query', meta: 'siteinfo', siprop: 'general|namespaces|namespacealiases' })}`, requestId);
  }

  /** The page's latest revision; a title without a page is 404 CASCADE_CONTENT_PAGE_NOT_FOUND. */
  pageBare(domain: string, key: string, requestId?: string): Promise<PageBare> {
    return this.client.getJson<PageBare>(domain, 'page-bare', `${REST}/v1/page/${seg(key)}/bare`, requestId);
  }

  /** One revision's metadata; an unknown id is 404 CASCADE_CONTENT_REVISION_NOT_FOUND. */
  revisionBare(domain: string, rev: number, requestId?: string): Promise<RevisionBare> {
    return this.client.getJson<RevisionBare>(domain, 'revision-bare', `${REST}/v1/revision/${rev}/bare`, requestId, ContentErrors.revisionNotFound);
  }

  /** A page of the history, newest first. */
  history(domain: string, key: string, olderThan: number | undefined, requestId?: string): Promise<{ revisions?: Record<string, unknown>[]; older?: string | null }> {
    const q = olderThan !== undefined ? `?older_than=${olderThan}` : '';
    return this.client.getJson(domain, 'page-history', `${REST}/v1/page/${seg(key)}/history${q}`, requestId);
  }

  /** A revision's Parsoid HTML with the version and render time it declares. */
  async revisionHtml(domain: string, rev: number, requestId?: string): Promise<OriginHtml> {
    const res = await this.client.request(domain, { op: 'revision-html', path: `${REST}/v1/revision/${rev}/html`, requestId, headers: { accept: 'text/html' } });
    checkStatus(res, 'revision-html', ContentErrors.revisionNotFound);
    const htmlVersion = this.noteVersion(domain, htmlVersionOf(header(res, 'content-type'), res.body));
    const renderedAt = renderTimeOf(header(res, 'etag'));
    return { body: res.body, ...(htmlVersion ? { htmlVersion } : {}), ...(renderedAt !== undefined ? { renderedAt } : {}) };
  }

  /** Access state of a page: exists, latest revision, touch time, latest revision hidden. */
  /** What the summary and mobile sections take from the origin (page props, images, coordinates, protection…). */
  pageMetadata(domain: string, key: string, requestId?: string): Promise<PageInfo> {
    return pageInfo(this.client, domain, key, requestId);
  }

  /** Titles like `title` from CirrusSearch's `morelike:` (callers check `cirrusSearch` first). */
  async moreLike(domain: string, prefixedText: string, limit: number, requestId?: string): Promise<string[]> {
    const q = qs({ action: 'query', list: 'search', srsearch: `morelike:${prefixedText}`, srnamespace: '0', srlimit: String(limit), srinfo: '', srprop: '', srqiprofile: 'classic_noboostlinks' });
    const j = await this.client.getJson<{ error?: unknown; query?: { search?: { title?: string }[] } }>(domain, 'related', `${API}?${q}`, requestId);
    apiError(j, 'related');
    return (j.query?.search ?? []).flatMap((r) => (typeof r.title === 'string' ? [r.title] : []));
  }

  async pageAccess(domain: string, key: string, requestId?: string): Promise<PageAccess> {
    const q = qs({ action: 'query', prop: 'info|revisions', rvprop: 'ids|timestamp|flags|sha1', titles: key });
    const json = await this.client.getJson<{ query?: { pages?: Record<string, unknown>[] } }>(domain, 'access-check', `${API}?${q}`, requestId);
    const page = json.query?.pages?.[0] ?? {};
    const missing = page.missing === true || page.missing === '' || page.invalid === true || page.invalid === '';
    const latest = Array.isArray(page.revisions) ? (page.revisions[0] as Record<string, unknown> | undefined) : undefined;
    const touched = typeof page.touched === 'string' ? Date.parse(page.touched) : NaN;
    const latestRev = typeof page.lastrevid === 'number' ? page.lastrevid : typeof latest?.revid === 'number' ? latest.revid : undefined;
    return {
      exists: !missing,
      ...(typeof page.pageid === 'number' && page.pageid > 0 ? { pageId: page.pageid } : {}),
      ...(latestRev !== undefined ? { latestRev } : {}),
      ...(typeof latest?.timestamp === 'string' ? { latestTimestamp: latest.timestamp } : {}),
      ...(Number.isFinite(touched) ? { touched } : {}),
      ...(latest ? { latestHidden: isHidden(latest) } : {}),
    };
  }

  /** Visibility of revisions (true: text hidden); ids the origin does not know are left out. */
  async revisionsHidden(domain: string, revs: number[], requestId?: string): Promise<Map<number, boolean>> {
    const out = new Map<number, boolean>();
    for (let i = 0; i < revs.length; i += 50) {
      const q = qs({ action: 'query', prop: 'revisions', rvprop: 'ids|flags|sha1', revids: revs.slice(i, i + 50).join('|') });
      const json = await this.client.getJson<{ query?: { pages?: { revisions?: Record<string, unknown>[] }[] } }>(domain, 'access-check', `${API}?${q}`, requestId);
      for (const p of json.query?.pages ?? []) for (const r of p.revisions ?? []) if (typeof r.revid === 'number') out.set(r.revid, isHidden(r));
    }
    return out;
  }

  /** Titles transcluding `title` (list=embeddedin), one batch, with the continuation token. */
  async transclusions(domain: string, title: string, limit: number, cont?: string, requestId?: string): Promise<{ pages: { title: string; ns?: number; pageid?: number }[]; continue?: string }> {
    const q = qs({ action: 'query', list: 'embeddedin', eititle: title, eilimit: String(limit), ...(cont ? { eicontinue: cont } : {}) });
    const j = await this.client.getJson<{ error?: unknown; query?: { embeddedin?: { title: string; ns?: number; pageid?: number }[] }; continue?: { eicontinue?: string } }>(domain, 'embeddedin', `${API}?${q}`, requestId);
    apiError(j, 'embeddedin');
    return { pages: j.query?.embeddedin ?? [], ...(j.continue?.eicontinue ? { continue: j.continue.eicontinue } : {}) };
  }

  // ---------------------------------------------------------------- changes (the recentchanges follower)

  /** One batch of list=recentchanges (`params`: rcstart, rcdir, rclimit, rccontinue…), as the wiki ordered it. */
  async recentChanges(domain: string, params: Record<string, string>): Promise<{ changes: RecentChange[]; cont?: string }> {
    const j = await this.client.getJson<{ error?: unknown; query?: { recentchanges?: RecentChange[] }; continue?: { rccontinue?: string } }>(domain, 'recentchanges', `${API}?${qs({ action: 'query', list: 'recentchanges', ...params })}`);
    apiError(j, 'recentchanges');
    const cont = j.continue?.rccontinue;
    return { changes: j.query?.recentchanges ?? [], ...(cont ? { cont } : {}) };
  }

  /** Size, sha1, parent and flags of revisions (50 per request). */
  async revisionFacts(domain: string, ids: number[]): Promise<Map<number, RevisionFacts>> {
    const out = new Map<number, RevisionFacts>();
    for (let i = 0; i < ids.length; i += 50) {
      const q = qs({ action: 'query', prop: 'revisions', rvprop: 'ids|timestamp|size|sha1|flags', revids: ids.slice(i, i + 50).join('|') });
      const j = await this.client.getJson<{ error?: unknown; query?: { pages?: { revisions?: Record<string, unknown>[] }[] } }>(domain, 'revision-facts', `${API}?${q}`);
      apiError(j, 'revision-facts');
      for (const r of (j.query?.pages ?? []).flatMap((p) => p.revisions ?? [])) {
        out.set(Number(r.revid), {
          revid: Number(r.revid),
          parentid: Number(r.parentid ?? 0),
          timestamp: String(r.timestamp),
          size: Number(r.size ?? 0),
          ...(typeof r.sha1 === 'string' ? { sha1: r.sha1 } : {}),
          minor: r.minor === true,
        });
      }
    }
    return out;
  }

  /** A page's id, latest revision and redirect flag by title; undefined when it does not exist. */
  async pageInfo(domain: string, title: string): Promise<{ pageid: number; lastrevid: number; redirect: boolean } | undefined> {
    const j = await this.client.getJson<{ error?: unknown; query?: { pages?: Record<string, unknown>[] } }>(domain, 'page-info', `${API}?${qs({ action: 'query', prop: 'info', titles: title })}`);
    apiError(j, 'page-info');
    const p = (j.query?.pages ?? [])[0];
    if (!p || p.missing || !p.pageid) return undefined;
    return { pageid: Number(p.pageid), lastrevid: Number(p.lastrevid ?? 0), redirect: p.redirect === true };
  }

  /** The wiki's database name (siteinfo `wikiid`), for the events' `database` field. */
  async wikiId(domain: string): Promise<string | undefined> {
    const j = await this.client.getJson<{ query?: { general?: { wikiid?: string } } }>(domain, 'siteinfo', `${API}?${qs({ action: 'query', meta: 'siteinfo', siprop: 'general' })}`);
    return j.query?.general?.wikiid || undefined;
  }

  // ---------------------------------------------------------------- writes

  /**
   * Purges pages at the origin with a link update, so its parser cache re-renders them with
   * the current templates (a stock wiki otherwise waits for its job queue). Returns the titles
   * purged; a wiki without action=purge (the example wiki renders every request) returns none.
   */
  async purge(domain: string, keys: string[], requestId?: string): Promise<string[]> {
    if (!(await this.capabilities(domain).catch(() => undefined))?.purge) return [];
    const res = await this.client.request(domain, {
      op: 'purge',
      method: 'POST',
      path: API,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: qs({ action: 'purge', titles: keys.join('|'), forcelinkupdate: '1' }),
      requestId,
    });
    checkStatus(res, 'purge');
    const j = JSON.parse(res.body.toString('utf8')) as { error?: unknown; purge?: { title: string; purged?: boolean | string }[] };
    apiError(j, 'purge');
    return (j.purge ?? []).filter((p) => p.purged !== undefined && p.purged !== false).map((p) => p.title.replace(/ /g, '_'));
  }

  /**
   * Wikitext → HTML through whichever transform route the wiki has (501 when none). `bodyOnly`
   * is passed on: Parsoid then answers the body's content without section wrappers (VE's form).
   */
  async transform(domain: string, key: string | undefined, rev: number | undefined, wikitext: string, requestId?: string, bodyOnly = false): Promise<{ body: Buffer; htmlVersion?: string }> {
    const caps = await this.capabilities(domain);
    if (caps.transform === 'none') {
      throw new CascadeError(
        ContentErrors.transformUnavailable,
        `the origin (${caps.generator ?? 'unknown wiki'}) has no wikitext-to-HTML transform route: tried /v1/transform, /coredev/v0/transform and the Parsoid extension's /v3/transform (enable coreDevelopmentRoutes.json or the Parsoid extension's REST routes)`,
      );
    }
    const res = await this.client.request(domain, {
      op: 'transform',
      method: 'POST',
      path: this.transformPath(caps.transform, caps.parsoidDomain, key, rev),
      headers: { 'content-type': 'application/json', accept: 'text/html' },
      body: JSON.stringify({ wikitext, ...(bodyOnly ? { body_only: true } : {}) }),
      requestId,
    });
    checkStatus(res, 'transform', rev !== undefined ? ContentErrors.revisionNotFound : ContentErrors.transformUnavailable);
    const htmlVersion = this.noteVersion(domain, htmlVersionOf(header(res, 'content-type'), res.body));
    return { body: res.body, ...(htmlVersion ? { htmlVersion } : {}) };
  }

  /**
   * HTML → wikitext through the wiki's transform route (501 when it has none). `original` is the
   * render the HTML was edited from (stash or store), so Parsoid can keep unedited wikitext as it was.
   */
  async htmlToWikitext(domain: string, key: string | undefined, rev: number | undefined, html: string, original?: { html: string; contentType: string; rev: number }, requestId?: string): Promise<string> {
    const caps = await this.capabilities(domain);
    if (caps.transform === 'none') {
      throw new CascadeError(ContentErrors.transformUnavailable, `the origin (${caps.generator ?? 'unknown wiki'}) has no HTML-to-wikitext transform route (enable coreDevelopmentRoutes.json or the Parsoid extension's REST routes)`);
    }
    const res = await this.client.request(domain, {
      op: 'transform',
      method: 'POST',
      path: this.transformPath(caps.transform, caps.parsoidDomain, key, rev, 'html/to/wikitext'),
      headers: { 'content-type': 'application/json', accept: 'text/plain' },
      body: JSON.stringify({ html, ...(original ? { original: { revid: original.rev, html: { headers: { 'content-type': original.contentType }, body: original.html } } } : {}) }),
      requestId,
    });
    checkStatus(res, 'transform', ContentErrors.transformUnavailable);
    return res.body.toString('utf8');
  }

  /**
   * Saves wikitext through `PUT /v1/page/{title}` with the caller's cookie/authorization. When
   * the origin wants a CSRF token the caller did not send, one is fetched for the caller's
   * session (action=query&meta=tokens) and the save is sent once more.
   */
  async save(
    domain: string,
    key: string,
    edit: { source: string; comment: string; baseRev?: number; token?: string },
    passHeaders: Record<string, string>,
    requestId?: string,
  ): Promise<{ created: boolean; page: PageBare }> {
    const send = (token: string | undefined) =>
      this.client.request(domain, {
        op: 'page-save',
        method: 'PUT',
        path: `${REST}/v1/page/${seg(key)}`,
        headers: { ...passHeaders, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({
          source: edit.source,
          comment: edit.comment,
          content_model: 'wikitext',
          ...(edit.baseRev !== undefined ? { latest: { id: edit.baseRev } } : {}),
          ...(token ? { token } : {}),
        }),
        requestId,
      });
    let res = await send(edit.token);
    if (res.status === 400 && !edit.token && TOKEN_ERRORS.has(originReason(res)?.key ?? '')) {
      res = await send(await this.csrfToken(domain, passHeaders, requestId));
    }
    if (res.status === 401 || res.status === 403) {
      const why = originReason(res);
      throw new CascadeError(ContentErrors.editForbidden, `the origin refused the edit of ${key} (HTTP ${res.status}${why ? `: ${why.text}` : ''})`, { extra: { origin_status: res.status } });
    }
    checkStatus(res, 'page-save');
    return { created: res.status === 201, page: JSON.parse(res.body.toString('utf8')) as PageBare };
  }

  /** A CSRF token for the session the headers carry (anonymous: MediaWiki's `+\`). */
  private async csrfToken(domain: string, passHeaders: Record<string, string>, requestId?: string): Promise<string> {
    const res = await this.client.request(domain, {
      op: 'csrf-token',
      path: `${API}?${qs({ action: 'query', meta: 'tokens', type: 'csrf' })}`,
      headers: { ...passHeaders, accept: 'application/json' },
      requestId,
    });
    checkStatus(res, 'csrf-token');
    const j = JSON.parse(res.body.toString('utf8')) as { error?: unknown; query?: { tokens?: { csrftoken?: string } } };
    apiError(j, 'csrf-token');
    const t = j.query?.tokens?.csrftoken;
    if (typeof t !== 'string') throw new CascadeError(ContentErrors.originFailed, 'origin csrf-token: no token in the answer');
    return t;
  }
}

/** Action API errors come with HTTP 200: turn them into the matching error. */
function apiError(j: { error?: unknown }, op: string): void {
  if (j.error === undefined) return;
  const r = errorReason(j);
  throw new CascadeError(ContentErrors.originRefused, `origin ${op}: ${r?.text ?? 'error'}`, { extra: { ...(r?.key ? { origin_error: r.key } : {}) } });
}

/** Hidden text shows as `sha1hidden` (rvprop=sha1) or `texthidden` (with content); suppression as `suppressed`. */
export function isHidden(r: Record<string, unknown>): boolean {
  return r.texthidden === true || r.texthidden === '' || r.suppressed === true || r.suppressed === '' || r.sha1hidden === true;
}
