// Renders from the origin: which revision a render is of, and the origin's HTML for it. An
// internal re-render of the latest revision must reflect the change that caused it, which on
// a stock wiki (REST HTML from the parser cache) takes a purge at the origin and a check of
// the render's own time.
import { createHash } from 'node:crypto';
import { CascadeError, Errors } from '../errors/index.ts';
import type { OriginHtml, PageBare } from '../origins/mediawiki/adapter.ts';
import { metrics } from '../router/metrics.ts';
import type { Title } from '../titles/index.ts';
import { newTid } from '../util/tid.ts';
import { ContentErrors } from './errors.ts';
import type { ServedEntry } from './hot.ts';
import { htmlType, HTML_TYPE, injectTid, redirectTarget } from './html.ts';
import type { ContentService } from './service.ts';
import type { Outcome, ReadOptions, Served } from './types.ts';

export const renderCount = metrics.counter('cascade_content_renders_total', 'HTML renders through the origin by domain (misses and re-renders)', ['domain']);

/** The revision to render and its page: the latest (REST bare) or the one asked for. */
export async function renderTarget(svc: ContentService, domain: string, key: string, rev: number | undefined, stored: ServedEntry | undefined, o: ReadOptions) {
  if (rev !== undefined) {
    const rb = await svc.wiki.revisionBare(domain, rev, o.requestId);
    const pageKey = rb.page?.key ?? rb.page?.title;
    if (pageKey !== undefined) {
      const owner = await svc.title(domain, pageKey);
      if (owner.prefixedDbKey !== key) throw new CascadeError(ContentErrors.revisionNotFound, `revision ${rev} does not belong to ${key}`);
    }
    return { rev, pageId: rb.page?.id, timestamp: rb.timestamp };
  }
  let bare: PageBare;
  try {
    bare = await svc.wiki.pageBare(domain, key, o.requestId);
  } catch (e) {
    const known = svc.access.peek(svc.access.key(domain, key));
    if (e instanceof CascadeError && e.status === 404 && (stored || known?.pageId !== undefined || known?.latestRev !== undefined)) {
      // We held content for it, the origin has none: deleted and the event lost.
      await svc.access.update(domain, key, (m) => {
        m.deleted = true;
        delete m.missing;
        m.checkedAt = Date.now();
      });
      svc.dropHot(domain, key);
      throw new CascadeError(ContentErrors.pageDeleted, `${key} has been deleted`);
    }
    throw e;
  }
  return { rev: bare.latest.id, pageId: bare.id as number | undefined, timestamp: bare.latest.timestamp as string | undefined };
}

/**
 * The origin's render of `rev`. An internal no-cache re-render of the latest revision (a
 * template edit's fan-out) must reflect the change: a stock wiki serves REST HTML from its
 * parser cache, so the page is purged at the origin first (with a link update), and the
 * render's own time (in its ETag) must not be older than the change (If-Unmodified-Since)
 * nor the page's touch time. Otherwise it is purged and fetched again, and after
 * `rerender_attempts` the re-render fails with 503 so change propagation retries it.
 */
export async function fetchOriginRender(svc: ContentService, domain: string, key: string, t: { rev: number; pageId?: number; timestamp?: string }, o: ReadOptions, latest: boolean): Promise<OriginHtml> {
  if (!(o.noCache && latest)) return svc.wiki.revisionHtml(domain, t.rev, o.requestId);
  const caps = await svc.wiki.capabilities(domain).catch(() => undefined);
  const attempts = svc.cfg.rerender_attempts;
  let why = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let touched = 0;
    if (caps?.purge) {
      await svc.wiki.purge(domain, [key], o.requestId);
      // The touch time the purge set, and the latest revision once more (an edit may have landed since the bare read).
      const a = await svc.wiki.pageAccess(domain, key, o.requestId);
      if (!a.exists) throw new CascadeError(ContentErrors.pageDeleted, `${key} has been deleted`);
      if (a.latestRev !== undefined && a.latestRev > t.rev) Object.assign(t, { rev: a.latestRev, pageId: a.pageId ?? t.pageId, timestamp: a.latestTimestamp ?? t.timestamp });
      touched = a.touched ?? 0;
    }
    const r = await svc.wiki.revisionHtml(domain, t.rev, o.requestId);
    if (r.renderedAt === undefined) return r; // an origin that does not say renders every request (the example wiki)
    const at = Math.floor(r.renderedAt / 1000) * 1000;
    // Times are whole seconds. After our purge the wiki refuses cache entries older than the
    // page's touch time, so one from that second is fresh, but only when that second is later
    // than the change's: a cache entry written earlier in the change's own second is still
    // valid to the wiki. So a render must be from a second after the change (and not before
    // the touch); without a purge, likewise a later second than the change proves it newer.
    const ius = o.ifUnmodifiedSince ?? -Infinity;
    if (at > ius && at >= touched) return r;
    const since = Math.max(ius, touched);
    why = `the origin's render of ${key} (revision ${t.rev}) dates from ${new Date(r.renderedAt).toISOString()}, not after the change at ${new Date(since).toISOString()}`;
    svc.log('origin render not newer than the change; purging again', { domain, key, attempt, renderedAt: r.renderedAt, since });
    // Purging again within the change's second cannot help: wait for the next second at least.
    const nextSecond = Number.isFinite(ius) ? ius + 1000 - Date.now() + 20 : 0;
    if (attempt < attempts) await new Promise((res) => setTimeout(res, Math.max(250 * attempt, nextSecond)));
  }
  throw new CascadeError(ContentErrors.originStale, `${why} after ${attempts} attempts`, { extra: { retry_after: 5 } });
}

const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

/**
 * Renders a page (its latest revision, or `rev`) through the origin and stores the render: a
 * byte-identical render keeps the stored tid and emits nothing; a new one gets a new tid,
 * goes to the hot cache and is announced. Rendering the latest also refreshes the page's
 * access state (it exists, this is its latest revision).
 */
export async function renderAndStore(svc: ContentService, domain: string, title: Title, rev: number | undefined, stored: ServedEntry | undefined, o: ReadOptions, outcome: Outcome): Promise<Served> {
  const key = title.prefixedDbKey;
  svc.renders++;
  renderCount.inc([domain]);
  const isLatest = rev === undefined;
  // Another instance's newer render evicts the page while this one runs (a burst of edits
  // handled by both): this render must not then become the cached latest, or it would be
  // served over the newer one until the hot cache's ttl.
  const evictions = svc.evictions;
  const t = await renderTarget(svc, domain, key, rev, stored, o);
  let got;
  try {
    got = await fetchOriginRender(svc, domain, key, t, o, isLatest);
  } catch (e) {
    // MediaWiki 1.39 answers a hidden revision's HTML with 500 (RevisionAccessException): ask.
    const hidden =
      e instanceof CascadeError &&
      (e.status === 403 || (e.status >= 500 && (await svc.wiki.revisionsHidden(domain, [t.rev], o.requestId).catch(() => undefined))?.get(t.rev) === true));
    if (hidden) {
      await svc.access.markRevisionVisibility(domain, key, t.rev, true);
      throw new CascadeError(ContentErrors.revisionSuppressed, `revision ${t.rev} of ${key} is hidden`);
    }
    throw e;
  }
  const { rev: targetRev, pageId, timestamp } = t;
  const html = got.body;
  const hash = sha1(html);
  const revKey = svc.hotKey(domain, 'html', key, targetRev);
  const latestKey = svc.hotKey(domain, 'html', key);

  // Byte-identical to the stored render of this revision: keep its tid (and ETag), emit nothing.
  let same: ServedEntry | undefined = stored && stored.rev === targetRev ? stored : undefined;
  if (!same) {
    const rec = await svc.store.getRev(domain, 'html', key, targetRev);
    if (rec) same = svc.entry(domain, 'html', rec);
  }
  let served: Served;
  if (same && same.storedHeaders['x-cascade-origin-sha1'] === hash) {
    served = { entry: same, outcome: 'unchanged' };
    svc.hot.set(revKey, same);
    if (isLatest && svc.evictions === evictions) svc.hot.set(latestKey, same);
  } else {
    const tid = newTid();
    const text = html.toString('utf8');
    const redirect = redirectTarget(text);
    let redirectKey: string | undefined;
    if (redirect) {
      try {
        redirectKey = (await svc.title(domain, redirect)).prefixedDbKey;
      } catch {
        redirectKey = undefined;
      }
    }
    const headers: Record<string, string> = { 'x-cascade-origin-sha1': hash };
    if (redirectKey) headers['x-cascade-redirect'] = redirectKey;
    if (pageId !== undefined) headers['x-cascade-page-id'] = String(pageId);
    if (timestamp) headers['x-cascade-rev-timestamp'] = timestamp;
    if (got.renderedAt !== undefined) headers['x-cascade-origin-rendered'] = String(got.renderedAt);
    const put = await svc.store.put({
      domain,
      bucket: 'html',
      key,
      rev: targetRev,
      tid,
      contentType: got.htmlVersion ? htmlType(got.htmlVersion) : HTML_TYPE,
      headers,
      body: injectTid(text, tid),
      skipUnchanged: false,
    });
    const rec = await svc.store.getRevTid(domain, 'html', key, targetRev, put.tid);
    if (!rec) throw new CascadeError(Errors.internal, `render ${targetRev}/${put.tid} of ${key} vanished after the write`);
    const entry = svc.entry(domain, 'html', rec);
    served = { entry, outcome };
    svc.hot.set(revKey, entry);
    if (put.status === 'created') {
      const latest = svc.hot.peek(latestKey);
      if (svc.evictions === evictions && (isLatest || !latest || latest.rev <= targetRev)) svc.hot.set(latestKey, entry);
      svc.changes.emit(domain, 'html', key, o);
    }
  }
  if (isLatest) {
    await svc.access.update(domain, key, (m) => {
      m.latestRev = targetRev;
      if (pageId !== undefined) m.pageId = pageId;
      if (timestamp) m.latestTimestamp = timestamp;
      m.deleted = false;
      delete m.missing;
      m.checkedAt = Date.now();
    });
  }
  return served;
}
