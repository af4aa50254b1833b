// Page listings, revision metadata and saves: the content API's calls that answer from the
// origin's metadata (through the MediaWiki adapter) rather than from stored renders.
import { CascadeError } from '../errors/index.ts';
import type { Title } from '../titles/index.ts';
import { assertReadable } from './access.ts';
import { ContentErrors } from './errors.ts';
import type { ContentService } from './service.ts';

/** Pages with stored HTML, in key order, without deleted ones. */
export async function listPages(svc: ContentService, domain: string, pageToken?: string): Promise<{ items: string[]; next?: string }> {
  const page = await svc.store.listKeys(domain, 'html', { limit: 100, ...(pageToken ? { pageToken } : {}) });
  const items: string[] = [];
  for (const key of page.items) {
    const m = svc.access.peek(svc.access.key(domain, key));
    if (m?.deleted) continue;
    items.push(key);
  }
  return { items, ...(page.next ? { next: page.next } : {}) };
}

/** Stored renders of a page, newest first (hidden revisions left out). */
export async function listRenders(svc: ContentService, domain: string, title: Title, pageToken?: string, requestId?: string): Promise<{ items: unknown[]; next?: string }> {
  const key = title.prefixedDbKey;
  const meta = await svc.meta(domain, key, requestId);
  assertReadable(meta, key);
  const page = await svc.store.listRevisions(domain, 'html', key, { limit: 100, ...(pageToken ? { pageToken } : {}) });
  const hidden = new Set(meta?.suppressed ?? []);
  const items = page.items.filter((r) => !hidden.has(r.rev)).map((r) => ({ title: key, revision: r.rev, tid: r.tid }));
  return { items, ...(page.next ? { next: page.next } : {}) };
}

/** Latest revision metadata of a page (RESTBase's `/page/title/{title}` item). */
export async function titleInfo(svc: ContentService, domain: string, title: Title, requestId?: string): Promise<Record<string, unknown>> {
  const key = title.prefixedDbKey;
  const meta = await svc.meta(domain, key, requestId);
  assertReadable(meta, key);
  const bare = await svc.wiki.pageBare(domain, key, requestId);
  const rb = await svc.wiki.revisionBare(domain, bare.latest.id, requestId);
  const stored = await svc.store.getRev(domain, 'html', key, bare.latest.id);
  const user = rb.user ?? {};
  return {
    title: key,
    page_id: bare.id,
    rev: bare.latest.id,
    tid: stored?.tid ?? null,
    namespace: title.namespace,
    user_id: user.id ?? null,
    user_text: user.name ?? null,
    timestamp: bare.latest.timestamp,
    comment: typeof rb.comment === 'string' ? rb.comment : '',
    tags: [],
    restrictions: meta?.suppressed.includes(bare.latest.id) ? ['texthidden'] : [],
    page_language: (await svc.siteinfo(domain, requestId)).lang,
    redirect: stored?.headers['x-cascade-redirect'] !== undefined,
  };
}

/** A page's revisions from the origin's history, newest first. */
export async function titleRevisions(svc: ContentService, domain: string, title: Title, olderThan?: number, requestId?: string): Promise<{ items: unknown[]; older?: number }> {
  const key = title.prefixedDbKey;
  const meta = await svc.meta(domain, key, requestId);
  assertReadable(meta, key);
  const h = await svc.wiki.history(domain, key, olderThan, requestId);
  const hidden = new Set(meta?.suppressed ?? []);
  const items = (h.revisions ?? []).map((r) => {
    const user = (r.user ?? {}) as { id?: number; name?: string };
    const rev = Number(r.id);
    return {
      title: key,
      rev,
      timestamp: r.timestamp,
      user_id: user.id ?? null,
      user_text: user.name ?? null,
      comment: typeof r.comment === 'string' ? r.comment : '',
      minor: r.minor === true,
      size: r.size,
      restrictions: hidden.has(rev) ? ['texthidden'] : [],
    };
  });
  const older = typeof h.older === 'string' ? Number(/older_than=(\d+)/.exec(h.older)?.[1]) : NaN;
  return { items, ...(Number.isFinite(older) ? { older } : {}) };
}

/** Metadata of one revision. */
export async function revisionInfo(svc: ContentService, domain: string, rev: number, requestId?: string): Promise<Record<string, unknown>> {
  const rb = await svc.wiki.revisionBare(domain, rev, requestId);
  const page = rb.page ?? { id: undefined, key: undefined, title: undefined };
  const title = await svc.title(domain, page.key ?? page.title ?? '', requestId);
  const meta = await svc.meta(domain, title.prefixedDbKey, requestId);
  assertReadable(meta, title.prefixedDbKey, rev);
  const user = rb.user ?? {};
  const stored = await svc.store.getRev(domain, 'html', title.prefixedDbKey, rev);
  return {
    title: title.prefixedDbKey,
    page_id: page.id ?? null,
    rev,
    tid: stored?.tid ?? null,
    namespace: title.namespace,
    user_id: user.id ?? null,
    user_text: user.name ?? null,
    timestamp: rb.timestamp,
    comment: typeof rb.comment === 'string' ? rb.comment : '',
    tags: [],
    restrictions: [],
    page_language: (await svc.siteinfo(domain, requestId)).lang,
    redirect: stored?.headers['x-cascade-redirect'] !== undefined,
  };
}

/** Metadata of one revision of a page: 404 when the revision belongs to another page. */
export async function titleRevisionInfo(svc: ContentService, domain: string, title: Title, rev: number, requestId?: string): Promise<Record<string, unknown>> {
  const item = await revisionInfo(svc, domain, rev, requestId);
  if (item.title !== title.prefixedDbKey) {
    throw new CascadeError(ContentErrors.revisionNotFound, `revision ${rev} does not belong to ${title.prefixedDbKey}`);
  }
  return item;
}

/**
 * Saves wikitext through the origin's `PUT /page/{title}` with the caller's cookie and
 * authorization (the origin decides who may edit; a CSRF token is fetched when needed).
 */
export async function save(
  svc: ContentService,
  domain: string,
  title: Title,
  f: { wikitext: string; baseEtag?: string; comment?: string; token?: string },
  passHeaders: Record<string, string>,
  requestId?: string,
): Promise<{ created: boolean; body: Record<string, unknown> }> {
  const key = title.prefixedDbKey;
  let baseRev: number | undefined;
  if (f.baseEtag) {
    const m = /^(?:W\/)?"?(\d+)(?:\/[^"]*)?"?$/.exec(f.baseEtag.trim());
    if (!m) throw new CascadeError(ContentErrors.badForm, `base_etag is not "rev/tid": ${f.baseEtag}`);
    baseRev = Number(m[1]);
  }
  const { created, page } = await svc.wiki.save(
    domain,
    key,
    { source: f.wikitext, comment: f.comment ?? '', ...(baseRev !== undefined ? { baseRev } : {}), ...(f.token ? { token: f.token } : {}) },
    passHeaders,
    requestId,
  );
  const oldRev = svc.access.peek(svc.access.key(domain, key))?.latestRev;
  await svc.access.update(domain, key, (m) => {
    m.latestRev = page.latest.id;
    m.pageId = page.id;
    m.latestTimestamp = page.latest.timestamp;
    m.deleted = false;
    delete m.missing;
  });
  return {
    created,
    body: {
      result: 'Success',
      pageid: page.id,
      title: key,
      contentmodel: 'wikitext',
      ...(oldRev !== undefined ? { oldrevid: oldRev } : {}),
      newrevid: page.latest.id,
      newtimestamp: page.latest.timestamp,
    },
  };
}
