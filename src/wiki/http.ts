// The example wiki's HTTP surface: a subset of MediaWiki's REST API (`/w/rest.php/v1/…`) and
// action API (`/w/api.php`), in MediaWiki's response shapes, plus test hooks when enabled.
import type { ResponseWriter } from '../router/http-types.ts';
import { CascadeError, isCascadeError } from '../errors/index.ts';
import { Router, type RequestContext } from '../router/router.ts';
import { mediaLinks } from './media.ts';
import { readBody, sendJson } from '../router/server.ts';
import { REV_DELETED_COMMENT, REV_DELETED_RESTRICTED, REV_DELETED_TEXT, REV_DELETED_USER, type PageRow, type RevisionRow } from './db.ts';
import { WikiErrors } from './errors.ts';
import { prefixedKey } from './events.ts';
import { encodeTitleForHref, parseTitle, siteinfo } from './site.ts';
import { ANONYMOUS, SYSTEM_USER, mwTimestamp, type Wiki } from './wiki.ts';
import type { Logger } from '../util/logger.ts';

const REST = '/w/rest.php/v1';
const HTML_TYPE = 'text/html; charset=utf-8; profile="https://www.mediawiki.org/wiki/Specs/HTML/2.1.0"';
const LICENSE = { url: 'https://creativecommons.org/licenses/by-sa/4.0/', title: 'Creative Commons Attribution-Share Alike 4.0' };
const BODY_LIMIT = 4 * 1024 * 1024;
const HISTORY_LIMIT = 20;

const REASONS: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 412: 'Precondition Failed', 413: 'Payload Too Large', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };

export interface WikiHttpOptions {
  testHooks: boolean;
  /** The wiki's own base URL (for html_url and history links). */
  baseUrl: () => string;
  logger?: Logger;
}

/** MediaWiki REST error body: `{errorKey, messageTranslations, httpCode, httpReason}`. */
function sendRestError(res: ResponseWriter, e: unknown, log?: WikiHttpOptions['logger']): void {
  let status = 500;
  let key = 'rest-internal-error';
  let message = 'Internal error';
  if (isCascadeError(e)) {
    status = typeof e.extra.httpCode === 'number' ? e.extra.httpCode : e.status;
    key = typeof e.extra.errorKey === 'string' ? e.extra.errorKey : key;
    message = e.message;
  } else {
    log?.('wiki request failed', { error: String((e as Error)?.stack ?? e) });
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { errorKey: key, messageTranslations: { en: message }, httpCode: status, httpReason: REASONS[status] ?? 'Error' });
}

function rest(fn: (ctx: RequestContext) => Promise<void> | void, log?: WikiHttpOptions['logger']) {
  return async (ctx: RequestContext) => {
    try {
      await fn(ctx);
    } catch (e) {
      sendRestError(ctx.res, e, log);
    }
  };
}

function clientIp(ctx: RequestContext): string {
  const a = ctx.req.socket.remoteAddress ?? '127.0.0.1';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

function userOf(rev: RevisionRow): { id: number | null; name: string } | null {
  if (rev.deleted & REV_DELETED_USER) return null;
  return { id: rev.user_id || null, name: rev.user_text };
}

function commentOf(rev: RevisionRow): string | null {
  return rev.deleted & REV_DELETED_COMMENT ? null : rev.comment;
}

export function mountWiki(router: Router, wiki: Wiki, opts: WikiHttpOptions): void {
  const log = opts.logger;
  const base = () => opts.baseUrl();
  const pageUrl = (key: string, suffix = '') => `${base()}${restPagePath(key, suffix)}`;

  const pageObject = (page: PageRow) => {
    const rev = wiki.revision(page.latest)!;
    const key = prefixedKey(page);
    return {
      id: page.page_id,
      key,
      title: key.replace(/_/g, ' '),
      latest: { id: rev.rev_id, timestamp: rev.timestamp },
      content_model: 'wikitext',
      license: LICENSE,
    };
  };

  const revisionObject = (rev: RevisionRow, page: PageRow) => {
    const parent = rev.parent_id ? wiki.revision(rev.parent_id) : undefined;
    const key = prefixedKey(page);
    return {
      id: rev.rev_id,
      size: rev.len,
      minor: rev.minor === 1,
      timestamp: rev.timestamp,
      content_model: 'wikitext',
      page: { id: page.page_id, key, title: key.replace(/_/g, ' ') },
      license: LICENSE,
      user: userOf(rev),
      comment: commentOf(rev),
      delta: parent ? rev.len - parent.len : null,
    };
  };

  /** Resolves `{title}`; a non-canonical spelling answers 301 to the canonical URL (as MediaWiki does). */
  const livePage = (ctx: RequestContext, suffix: string): PageRow | undefined => {
    const t = wiki.title(ctx.params.title);
    if (t.key !== ctx.params.title && ctx.method !== 'PUT') {
      const q = ctx.query.toString();
      ctx.res.statusCode = 301;
      ctx.res.setHeader('location', `${restPagePath(t.key, suffix)}${q ? '?' + q : ''}`);
      ctx.res.end();
      return undefined;
    }
    return wiki.pageOrThrow(t);
  };

  const sendHtml = (ctx: RequestContext, html: string, rev: RevisionRow) => {
    const res = ctx.res;
    res.statusCode = 200;
    res.setHeader('content-type', HTML_TYPE);
    res.setHeader('content-language', 'en');
    res.setHeader('etag', `W/"${rev.rev_id}"`);
    res.setHeader('last-modified', new Date(rev.timestamp).toUTCString());
    res.setHeader('content-length', Buffer.byteLength(html));
    res.end(ctx.method === 'HEAD' ? undefined : html);
  };

  router.add('GET', `${REST}/page/{title}`, rest((ctx) => {
    const page = livePage(ctx, '');
    if (!page) return;
    const rev = wiki.revision(page.latest)!;
    sendJson(ctx.res, 200, { ...pageObject(page), source: wiki.visibleText(rev) }, { etag: `W/"${rev.rev_id}"` });
  }, log));

  router.add('GET', `${REST}/page/{title}/bare`, rest((ctx) => {
    const page = livePage(ctx, '/bare');
    if (!page) return;
    const key = prefixedKey(page);
    sendJson(ctx.res, 200, { ...pageObject(page), html_url: pageUrl(key, '/html') }, { etag: `W/"${page.latest}"` });
  }, log));

  router.add('GET', `${REST}/page/{title}/html`, rest(async (ctx) => {
    const page = livePage(ctx, '/html');
    if (!page) return;
    const rev = wiki.revision(page.latest)!;
    const r = await wiki.render(page, rev);
    sendHtml(ctx, r.html, rev);
  }, log));

  router.add('GET', `${REST}/page/{title}/history`, rest((ctx) => {
    const page = livePage(ctx, '/history');
    if (!page) return;
    const older = ctx.query.get('older_than');
    const newer = ctx.query.get('newer_than');
    if ((older && !/^\d+$/.test(older)) || (newer && !/^\d+$/.test(newer))) {
      throw new CascadeError(WikiErrors.badRequest, 'older_than and newer_than must be revision ids', { extra: { errorKey: 'paramvalidator-badinteger' } });
    }
    const revs = wiki.history(page.page_id, {
      limit: HISTORY_LIMIT,
      ...(older ? { olderThan: Number(older) } : {}),
      ...(newer ? { newerThan: Number(newer) } : {}),
    });
    const key = prefixedKey(page);
    const body: Record<string, unknown> = {
      revisions: revs.map((r) => {
        const parent = r.parent_id ? wiki.revision(r.parent_id) : undefined;
        return { id: r.rev_id, timestamp: r.timestamp, minor: r.minor === 1, size: r.len, comment: commentOf(r), user: userOf(r), delta: parent ? r.len - parent.len : null };
      }),
      latest: pageUrl(key, '/history'),
    };
    if (revs.length) {
      const oldest = revs[revs.length - 1].rev_id;
      const newest = revs[0].rev_id;
      if (wiki.history(page.page_id, { olderThan: oldest, limit: 1 }).length) body.older = pageUrl(key, `/history?older_than=${oldest}`);
      if (newest !== page.latest) body.newer = pageUrl(key, `/history?newer_than=${newest}`);
    }
    sendJson(ctx.res, 200, body);
  }, log));

  router.add('GET', `${REST}/page/{title}/links/media`, rest((ctx) => {
    const page = livePage(ctx, '/links/media');
    if (!page) return;
    const rev = wiki.revision(page.latest)!;
    sendJson(ctx.res, 200, mediaLinks(wiki.visibleText(rev), base()), { etag: `W/"${rev.rev_id}"` });
  }, log));

  const editHandler = rest(async (ctx) => {
    const raw = await readBody(ctx.req, BODY_LIMIT);
    let body: { source?: unknown; comment?: unknown; latest?: { id?: unknown }; title?: unknown };
    try {
      body = JSON.parse(raw.toString('utf8')) as typeof body;
    } catch {
      throw new CascadeError(WikiErrors.badRequest, 'The request body is not valid JSON', { extra: { errorKey: 'rest-bad-json-body' } });
    }
    const title = ctx.params.title ?? body.title;
    if (typeof body.source !== 'string' || typeof title !== 'string') {
      throw new CascadeError(WikiErrors.badRequest, 'source (and title) must be strings', { extra: { errorKey: 'rest-bad-json-body' } });
    }
    const latestId = body.latest && typeof body.latest === 'object' ? body.latest.id : undefined;
    if (latestId !== undefined && typeof latestId !== 'number') {
      throw new CascadeError(WikiErrors.badRequest, 'latest.id must be a number', { extra: { errorKey: 'rest-bad-json-body' } });
    }
    const r = wiki.edit({
      title,
      text: body.source,
      comment: typeof body.comment === 'string' ? body.comment : '',
      ...(latestId !== undefined ? { baseRevId: latestId } : {}),
      performer: ANONYMOUS(clientIp(ctx)),
      requestId: ctx.requestId,
    });
    sendJson(ctx.res, r.created ? 201 : 200, { ...pageObject(r.page), source: r.rev.text });
  }, log);
  router.add('PUT', `${REST}/page/{title}`, editHandler);
  router.add('POST', `${REST}/page`, editHandler);

  const revisionRoute = (suffix: '' | '/bare' | '/html') =>
    rest(async (ctx) => {
      if (!/^\d+$/.test(ctx.params.id)) throw new CascadeError(WikiErrors.notFound, 'revision ids are numbers', { extra: { errorKey: 'rest-nonexistent-revision' } });
      const { rev, page } = wiki.liveRevision(Number(ctx.params.id));
      if (suffix === '/html') {
        const r = await wiki.render(page, rev);
        sendHtml(ctx, r.html, rev);
        return;
      }
      const obj = revisionObject(rev, page);
      if (suffix === '') sendJson(ctx.res, 200, { ...obj, source: wiki.visibleText(rev) });
      else sendJson(ctx.res, 200, { ...obj, html_url: `${base()}${REST}/revision/${rev.rev_id}/html` });
    }, log);
  router.add('GET', `${REST}/revision/{id}`, revisionRoute(''));
  router.add('GET', `${REST}/revision/{id}/bare`, revisionRoute('/bare'));
  router.add('GET', `${REST}/revision/{id}/html`, revisionRoute('/html'));

  const transform = rest(async (ctx) => {
    const raw = (await readBody(ctx.req, BODY_LIMIT)).toString('utf8');
    const type = String(ctx.req.headers['content-type'] ?? '');
    let wikitext: unknown;
    let bodyOnly: unknown;
    if (type.includes('application/x-www-form-urlencoded')) {
      const form = new URLSearchParams(raw);
      wikitext = form.get('wikitext');
      bodyOnly = form.get('body_only') === 'true';
    } else {
      try {
        ({ wikitext, body_only: bodyOnly } = JSON.parse(raw) as { wikitext?: unknown; body_only?: unknown });
      } catch {
        throw new CascadeError(WikiErrors.badRequest, 'The request body is not valid JSON', { extra: { errorKey: 'rest-bad-json-body' } });
      }
    }
    if (typeof wikitext !== 'string') throw new CascadeError(WikiErrors.badRequest, 'wikitext is required', { extra: { errorKey: 'rest-bad-json-body' } });
    // Untitled: rendered as the main page, as Parsoid does.
    const t = wiki.title(ctx.params.title ?? 'Main_Page');
    let page: PageRow | undefined = wiki.page(t);
    let rev: RevisionRow | undefined;
    if (ctx.params.revision !== undefined) {
      if (!/^\d+$/.test(ctx.params.revision)) throw new CascadeError(WikiErrors.notFound, 'revision ids are numbers', { extra: { errorKey: 'rest-nonexistent-revision' } });
      const found = wiki.liveRevision(Number(ctx.params.revision));
      if (!page || found.page.page_id !== page.page_id) throw new CascadeError(WikiErrors.notFound, 'The revision does not belong to this page', { extra: { errorKey: 'rest-nonexistent-revision' } });
      rev = found.rev;
    } else if (page) {
      rev = wiki.revision(page.latest);
    }
    // A title that does not exist yet still renders (a preview), with page and revision 0.
    page ??= { page_id: 0, namespace: t.ns, title: t.dbKey, latest: 0, redirect_target: null, deleted: 0, touched: mwTimestamp() };
    rev ??= { rev_id: 0, page_id: 0, parent_id: 0, timestamp: mwTimestamp(), user_id: 0, user_text: '', comment: '', minor: 0, sha1: '', len: 0, text: '', deleted: 0 };
    const r = await wiki.render(page, rev, wikitext);
    // As Parsoid: body_only answers the body's content, without section wrappers.
    const out = bodyOnly === true ? (/<body[^>]*>([\s\S]*)<\/body>/.exec(r.html)?.[1] ?? r.html).replace(/<\/?section\b[^>]*>/g, '') : r.html;
    ctx.res.statusCode = 200;
    ctx.res.setHeader('content-type', HTML_TYPE);
    ctx.res.setHeader('content-length', Buffer.byteLength(out));
    ctx.res.end(out);
  }, log);
  router.add('POST', `${REST}/transform/wikitext/to/html`, transform);
  router.add('POST', `${REST}/transform/wikitext/to/html/{title}`, transform);
  router.add('POST', `${REST}/transform/wikitext/to/html/{title}/{revision}`, transform);

  router.add(['GET', 'POST'], '/w/api.php', async (ctx) => {
    const params = new URLSearchParams(ctx.query);
    if (ctx.method === 'POST') {
      const raw = (await readBody(ctx.req, BODY_LIMIT)).toString('utf8');
      for (const [k, v] of new URLSearchParams(raw)) params.set(k, v);
    }
    const fv = params.get('formatversion') === '2' || params.get('formatversion') === 'latest' ? 2 : 1;
    try {
      const out = actionApi(wiki, params, ctx, fv);
      sendJson(ctx.res, 200, out);
    } catch (e) {
      const code = isCascadeError(e) && typeof e.extra.errorKey === 'string' ? e.extra.errorKey : 'internal_api_error';
      if (!isCascadeError(e)) log?.('wiki api failed', { error: String((e as Error)?.stack ?? e) });
      const info = isCascadeError(e) ? e.message : 'Internal error';
      sendJson(ctx.res, 200, { error: { code, info, docref: `See ${base()}/w/api.php for API usage.` }, servedby: 'cascade-example-wiki' }, { 'mediawiki-api-error': code });
    }
  });

  if (opts.testHooks) {
    router.add('POST', `${REST}/_test/fail`, (ctx) => {
      const count = Number(ctx.query.get('count') ?? '1');
      const status = Number(ctx.query.get('status') ?? '503');
      wiki.injectFailures(Number.isFinite(count) ? count : 1, status >= 400 && status < 600 ? status : 503);
      sendJson(ctx.res, 200, { failNext: count, status });
    });
    router.add('POST', `${REST}/_test/delay`, (ctx) => {
      const ms = Number(ctx.query.get('ms') ?? '0');
      const count = Number(ctx.query.get('count') ?? '1000000');
      wiki.injectDelay(ms, count);
      sendJson(ctx.res, 200, { delayMs: ms, count });
    });
    router.add('POST', `${REST}/_test/reset`, (ctx) => {
      wiki.resetTestState();
      sendJson(ctx.res, 200, wiki.stats());
    });
    router.add('GET', `${REST}/_test/stats`, (ctx) => sendJson(ctx.res, 200, wiki.stats()));
  }
}

function apiError(code: string, info: string): CascadeError {
  return new CascadeError(WikiErrors.badRequest, info, { extra: { errorKey: code } });
}

function list(v: string | null): string[] {
  if (!v) return [];
  // `\x1f` as the first character selects MediaWiki's alternative separator.
  return v.startsWith('\x1f') ? v.slice(1).split('\x1f') : v.split('|');
}

function actionApi(wiki: Wiki, p: URLSearchParams, ctx: RequestContext, fv: 1 | 2): Record<string, unknown> {
  const action = p.get('action') ?? 'help';
  if (p.get('format') && p.get('format') !== 'json') throw apiError('badvalue_format', 'Only format=json is supported by the example wiki.');
  const write = ['delete', 'undelete', 'move', 'revisiondelete', 'edit'];
  if (write.includes(action) && ctx.method !== 'POST') throw apiError('mustbeposted', `The "${action}" module requires a POST request.`);
  const reason = p.get('reason') ?? '';
  const admin = SYSTEM_USER;
  switch (action) {
    case 'query':
      return query(wiki, p, fv);
    case 'edit': {
      const title = p.get('title');
      const text = p.get('text');
      if (!title || text === null) throw apiError('missingparam', 'The "title" and "text" parameters must be set.');
      const base = p.get('baserevid');
      try {
        const r = wiki.edit({
          title,
          text,
          comment: p.get('summary') ?? '',
          ...(base ? { baseRevId: Number(base) } : {}),
          performer: ANONYMOUS(clientIp(ctx)),
          requestId: ctx.requestId,
        });
        const key = prefixedKey(r.page);
        return {
          edit: r.changed
            ? { result: 'Success', pageid: r.page.page_id, title: key.replace(/_/g, ' '), contentmodel: 'wikitext', oldrevid: r.rev.parent_id, newrevid: r.rev.rev_id, newtimestamp: r.rev.timestamp, ...(r.created ? { new: fv === 2 ? true : '' } : {}) }
            : { result: 'Success', pageid: r.page.page_id, title: key.replace(/_/g, ' '), contentmodel: 'wikitext', nochange: fv === 2 ? true : '' },
        };
      } catch (e) {
        if (isCascadeError(e) && e.status === 409) throw apiError('editconflict', 'Edit conflict.');
        throw e;
      }
    }
    case 'delete': {
      const title = p.get('title') ?? titleOfPageId(wiki, p.get('pageid'));
      const r = wiki.delete(title, reason, admin, ctx.requestId);
      return { delete: { title: prefixedKey(r.page).replace(/_/g, ' '), reason, logid: r.logId } };
    }
    case 'undelete': {
      const title = p.get('title');
      if (!title) throw apiError('missingparam', 'The "title" parameter must be set.');
      const r = wiki.undelete(title, reason, admin, ctx.requestId);
      return { undelete: { title: prefixedKey(r.page).replace(/_/g, ' '), revisions: r.revisions, fileversions: 0, reason } };
    }
    case 'move': {
      const from = p.get('from') ?? titleOfPageId(wiki, p.get('fromid'));
      const to = p.get('to');
      if (!to) throw apiError('missingparam', 'The "to" parameter must be set.');
      const noredirect = p.has('noredirect') && p.get('noredirect') !== 'false' && p.get('noredirect') !== '0';
      const r = wiki.move(from, to, reason, admin, { noredirect, requestId: ctx.requestId });
      const fromText = wiki.title(from).text;
      return { move: { from: fromText, to: prefixedKey(r.page).replace(/_/g, ' '), reason, redirectcreated: fv === 2 ? Boolean(r.redirect) : r.redirect ? '' : undefined, moveoverredirect: fv === 2 ? false : undefined } };
    }
    case 'revisiondelete': {
      if ((p.get('type') ?? 'revision') !== 'revision') throw apiError('badvalue_type', 'Only type=revision is supported by the example wiki.');
      const target = p.get('target');
      const ids = list(p.get('ids')).map(Number);
      if (!target || ids.length === 0 || ids.some((n) => !Number.isInteger(n))) throw apiError('missingparam', 'The "target" and "ids" parameters must be set.');
      const bitsOf = (v: string | null) =>
        list(v).reduce((b, w) => b | (w === 'content' ? REV_DELETED_TEXT : w === 'comment' ? REV_DELETED_COMMENT : w === 'user' ? REV_DELETED_USER : 0), 0);
      let hide = bitsOf(p.get('hide'));
      let show = bitsOf(p.get('show'));
      if (p.get('suppress') === 'yes') hide |= REV_DELETED_RESTRICTED;
      if (p.get('suppress') === 'no') show |= REV_DELETED_RESTRICTED;
      if (hide & show & ~REV_DELETED_RESTRICTED) throw apiError('revdelete-hide-and-show', 'The same field cannot be hidden and shown.');
      const r = wiki.setVisibility(target, ids, hide, show, reason, admin, ctx.requestId);
      const flag = (on: boolean) => (fv === 2 ? on : on ? '' : undefined);
      return {
        revisiondelete: {
          status: r.items.some((i) => i.error) ? 'Fail' : 'Success',
          target: prefixedKey(r.page).replace(/_/g, ' '),
          items: r.items.map(({ rev, error }) => ({
            status: error ? 'Fail' : 'Success',
            id: rev.rev_id,
            errors: error ? [{ type: 'error', code: error, key: error, params: [] }] : [],
            warnings: [],
            userhidden: flag((rev.deleted & REV_DELETED_USER) !== 0),
            commenthidden: flag((rev.deleted & REV_DELETED_COMMENT) !== 0),
            texthidden: flag((rev.deleted & REV_DELETED_TEXT) !== 0),
            timestamp: rev.timestamp,
          })),
        },
      };
    }
    default:
      throw apiError('badvalue', `Unrecognized value for parameter "action": ${action}.`);
  }
}

function titleOfPageId(wiki: Wiki, id: string | null): string {
  if (!id) throw apiError('missingparam', 'One of the parameters "title" and "pageid" is required.');
  const page = wiki.pageById(Number(id));
  if (!page || page.deleted) throw apiError('nosuchpageid', `There is no page with ID ${id}.`);
  return prefixedKey(page);
}

function query(wiki: Wiki, p: URLSearchParams, fv: 1 | 2): Record<string, unknown> {
  const q: Record<string, unknown> = {};
  const out: Record<string, unknown> = { batchcomplete: fv === 2 ? true : '' };
  const meta = list(p.get('meta'));
  if (meta.includes('siteinfo')) {
    const props = list(p.get('siprop') ?? 'general');
    Object.assign(q, siteinfo({ domain: wiki.domain, server: `//${wiki.domain}`, formatversion: fv, props, maxPageId: wiki.maxPageId() }));
  }
  const lists = list(p.get('list'));
  if (lists.includes('embeddedin')) {
    const t = p.get('eititle') ? parseTitle(p.get('eititle')!) : undefined;
    if (!t) throw apiError(p.get('eititle') ? 'invalidtitle' : 'missingparam', p.get('eititle') ? `Bad title "${p.get('eititle')}".` : 'The "eititle" parameter must be set.');
    const rawLimit = p.get('eilimit') ?? '10';
    const limit = rawLimit === 'max' ? 500 : Math.max(1, Math.min(500, Number(rawLimit) || 10));
    let from: { ns: number; id: number } | undefined;
    const cont = p.get('eicontinue');
    if (cont) {
      const m = /^(-?\d+)\|(\d+)$/.exec(cont);
      if (!m) throw apiError('badcontinue', 'Invalid continue param. You should pass the original value returned by the previous query.');
      from = { ns: Number(m[1]), id: Number(m[2]) };
    }
    const nss = list(p.get('einamespace')).map(Number).filter(Number.isInteger);
    const rows = wiki.embeddedIn(t.key, limit + 1, from, nss);
    const page = rows.slice(0, limit);
    q.embeddedin = page.map((r) => ({ pageid: r.page_id, ns: r.namespace, title: prefixedKey(r).replace(/_/g, ' ') }));
    if (rows.length > limit) {
      const next = rows[limit];
      out.continue = { eicontinue: `${next.namespace}|${next.page_id}`, continue: '-||' };
    }
  }
  if (lists.includes('recentchanges')) {
    const rawLimit = p.get('rclimit') ?? '10';
    const dir = p.get('rcdir') === 'newer' ? 'newer' : 'older';
    const cont = p.get('rccontinue') ?? undefined;
    if (cont && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\|\d+$/.test(cont)) throw apiError('badcontinue', 'Invalid continue param. You should pass the original value returned by the previous query.');
    const start = p.get('rcstart') ?? undefined;
    if (start && Number.isNaN(Date.parse(start))) throw apiError('badtimestamp_rcstart', `Invalid value "${start}" for timestamp parameter "rcstart".`);
    const r = wiki.recentChanges.query({
      start,
      dir,
      cont,
      limit: rawLimit === 'max' ? 500 : Math.max(1, Math.min(500, Number(rawLimit) || 10)),
      types: list(p.get('rctype')),
    });
    q.recentchanges = r.changes;
    if (r.cont) out.continue = { rccontinue: r.cont, continue: '-||' };
  }
  if (lists.includes('allpages')) {
    // MediaWiki's list=allpages: one namespace (default 0) by title; apcontinue is the next title's DB key.
    const ns = Number(p.get('apnamespace') ?? '0');
    if (!Number.isInteger(ns)) throw apiError('badvalue', `Unrecognized value for parameter "apnamespace": ${p.get('apnamespace')}.`);
    const rawLimit = p.get('aplimit') ?? '10';
    const limit = rawLimit === 'max' ? 500 : Math.max(1, Math.min(500, Number(rawLimit) || 10));
    const key = (v: string | null) => (v === null ? undefined : v.replace(/ /g, '_'));
    const filter = p.get('apfilterredir') ?? 'all';
    if (filter !== 'all' && filter !== 'redirects' && filter !== 'nonredirects') throw apiError('badvalue', `Unrecognized value for parameter "apfilterredir": ${filter}.`);
    const rows = wiki.allPages(ns, limit + 1, { from: key(p.get('apcontinue')) ?? key(p.get('apfrom')), prefix: key(p.get('apprefix')), redirects: filter });
    q.allpages = rows.slice(0, limit).map((r) => ({ pageid: r.page_id, ns: r.namespace, title: prefixedKey(r).replace(/_/g, ' ') }));
    if (rows.length > limit) out.continue = { apcontinue: rows[limit].title, continue: '-||' };
  }
  const props = list(p.get('prop'));
  if (props.length || p.get('titles') || p.get('pageids') || p.get('revids')) Object.assign(q, pagesQuery(wiki, p, props, fv));
  out.query = q;
  return out;
}

function pagesQuery(wiki: Wiki, p: URLSearchParams, props: string[], fv: 1 | 2): Record<string, unknown> {
  const flag = (on: boolean) => (fv === 2 ? on : on ? '' : undefined);
  const rvprop = list(p.get('rvprop') ?? 'ids|timestamp|flags|comment|user');
  const normalized: { fromencoded: boolean; from: string; to: string }[] = [];
  const entries: Record<string, unknown>[] = [];
  const byPage = new Map<number, Record<string, unknown>>();
  const badrevids: Record<string, unknown> = {};

  const revEntry = (rev: RevisionRow): Record<string, unknown> => {
    const e: Record<string, unknown> = {};
    if (rvprop.includes('ids')) Object.assign(e, { revid: rev.rev_id, parentid: rev.parent_id });
    if (rvprop.includes('flags')) e.minor = flag(rev.minor === 1);
    if (rvprop.includes('user')) {
      if (rev.deleted & REV_DELETED_USER) e.userhidden = flag(true);
      else e.user = rev.user_text;
      if (rev.user_id === 0 && !(rev.deleted & REV_DELETED_USER)) e.anon = flag(true);
    }
    if (rvprop.includes('userid') && !(rev.deleted & REV_DELETED_USER)) e.userid = rev.user_id;
    if (rvprop.includes('timestamp')) e.timestamp = rev.timestamp;
    if (rvprop.includes('size')) e.size = rev.len;
    if (rvprop.includes('sha1')) {
      if (rev.deleted & REV_DELETED_TEXT) e.sha1hidden = flag(true);
      else e.sha1 = sha1Hex(rev);
    }
    if (rvprop.includes('comment')) {
      if (rev.deleted & REV_DELETED_COMMENT) e.commenthidden = flag(true);
      else e.comment = rev.comment;
    }
    if (rev.deleted & REV_DELETED_TEXT) e.texthidden = flag(true);
    if (rev.deleted & REV_DELETED_RESTRICTED) e.suppressed = flag(true);
    if (rvprop.includes('content')) {
      const slot: Record<string, unknown> = { contentmodel: 'wikitext', contentformat: 'text/x-wiki' };
      if (rev.deleted & REV_DELETED_TEXT) slot.texthidden = flag(true);
      else if (fv === 2) slot.content = rev.text;
      else slot['*'] = rev.text;
      e.slots = { main: slot };
    }
    for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
    return e;
  };

  const pageEntry = (page: PageRow): Record<string, unknown> => {
    const existing = byPage.get(page.page_id);
    if (existing) return existing;
    const key = prefixedKey(page);
    const e: Record<string, unknown> = { pageid: page.page_id, ns: page.namespace, title: key.replace(/_/g, ' ') };
    if (props.includes('info')) {
      const latest = wiki.revision(page.latest)!;
      Object.assign(e, {
        contentmodel: 'wikitext',
        pagelanguage: 'en',
        pagelanguagehtmlcode: 'en',
        pagelanguagedir: 'ltr',
        touched: page.touched,
        lastrevid: page.latest,
        length: latest.len,
      });
      if (page.redirect_target) e.redirect = flag(true);
    }
    byPage.set(page.page_id, e);
    entries.push(e);
    return e;
  };

  for (const raw of list(p.get('titles'))) {
    const t = parseTitle(raw);
    if (!t) {
      entries.push({ title: raw, invalidreason: 'The requested page title is invalid.', invalid: flag(true) });
      continue;
    }
    if (t.text !== raw) normalized.push({ fromencoded: false, from: raw, to: t.text });
    const page = wiki.page(t);
    if (!page) {
      entries.push({ ns: t.ns, title: t.text, missing: flag(true) });
      continue;
    }
    const e = pageEntry(page);
    if (props.includes('revisions') && !p.get('revids')) {
      const limit = Math.max(1, Math.min(50, Number(p.get('rvlimit') ?? '1') || 1));
      e.revisions = wiki.history(page.page_id, { limit }).map(revEntry);
    }
  }
  for (const raw of list(p.get('pageids'))) {
    const page = wiki.pageById(Number(raw));
    if (!page || page.deleted) {
      entries.push({ pageid: Number(raw), missing: flag(true) });
      continue;
    }
    const e = pageEntry(page);
    if (props.includes('revisions')) e.revisions = [revEntry(wiki.revision(page.latest)!)];
  }
  for (const raw of list(p.get('revids'))) {
    const id = Number(raw);
    const rev = Number.isInteger(id) ? wiki.revision(id) : undefined;
    const page = rev && wiki.pageById(rev.page_id);
    if (!rev || !page || page.deleted) {
      badrevids[raw] = { revid: id, missing: flag(true) };
      continue;
    }
    const e = pageEntry(page);
    if (props.includes('revisions')) ((e.revisions ??= []) as unknown[]).push(revEntry(rev));
  }
  const out: Record<string, unknown> = {};
  if (normalized.length) out.normalized = fv === 2 ? normalized : normalized.map(({ from, to }) => ({ from, to }));
  if (Object.keys(badrevids).length) out.badrevids = badrevids;
  for (const e of entries) for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
  if (fv === 2) out.pages = entries;
  else {
    const pages: Record<string, unknown> = {};
    let missing = -1;
    for (const e of entries) pages[typeof e.pageid === 'number' && !('missing' in e) ? String(e.pageid) : String(missing--)] = e;
    out.pages = pages;
  }
  return out;
}

function sha1Hex(rev: RevisionRow): string {
  // rev.sha1 is base 36 (as in the database); the action API reports hex.
  let n = 0n;
  for (const c of rev.sha1) n = n * 36n + BigInt(parseInt(c, 36));
  return n.toString(16).padStart(40, '0');
}

/** Encodes a title for a REST path the way clients should (used by tests and the CLI). */
export function restPagePath(key: string, suffix = ''): string {
  return `${REST}/page/${encodeTitleForHref(key).replace(/\//g, '%2F')}${suffix}`;
}
