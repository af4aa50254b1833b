// The example wiki's model: edits, deletion, undeletion, moves and revision visibility over
// its SQLite database, rendering with render counters and test-only fault injection. Every
// change writes its MediaWiki event to the outbox in the same transaction.
import { createHash } from 'node:crypto';
import { CascadeError } from '../errors/index.ts';
import { WikiErrors } from './errors.ts';
import {
  openWikiDb,
  REV_DELETED_RESTRICTED,
  REV_DELETED_TEXT,
  type PageRow,
  type RevisionRow,
  type WikiDatabase,
} from './db.ts';
import * as ev from './events.ts';
import { OutboxSender, prefixedKey, type Performer } from './events.ts';
import { redirectTarget, renderWikitext, templatesUsed, type RenderResult } from './render.ts';
import { parseTitle, type WikiTitle } from './site.ts';
import { RecentChanges } from './recentchanges.ts';
import type { Logger } from '../util/logger.ts';

export interface WikiOptions {
  dbPath: string;
  domain: string;
  eventsUrl?: string;
  logger?: Logger;
}

export interface WikiStats {
  renders: number;
  failures: number;
  byTitle: Record<string, number>;
  byRevision: Record<string, number>;
  events: ev.OutboxStats;
}

export const ANONYMOUS = (ip: string): Performer => ({ user_text: ip, user_groups: ['*'], user_is_bot: false });
export const SYSTEM_USER: Performer = { user_text: 'Cascade', user_id: 1, user_groups: ['*', 'user', 'sysop'], user_is_bot: false };

/** MediaWiki's base-36 SHA-1 of revision text (rev_sha1). */
export function sha1Base36(text: string): string {
  const hex = createHash('sha1').update(text, 'utf8').digest('hex');
  return BigInt('0x' + hex).toString(36).padStart(31, '0');
}

/** MediaWiki timestamps: ISO 8601 in UTC, whole seconds. */
export function mwTimestamp(d = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const notFound = (key: string, detail: string) => new CascadeError(WikiErrors.notFound, detail, { extra: { errorKey: key } });
const badRequest = (key: string, detail: string) => new CascadeError(WikiErrors.badRequest, detail, { extra: { errorKey: key } });

export interface EditInput {
  title: string;
  text: string;
  comment?: string;
  /** The revision the edit is based on (REST `latest.id`); a mismatch is an edit conflict. */
  baseRevId?: number;
  minor?: boolean;
  performer: Performer;
  requestId?: string;
  /** Set the revision's timestamp (imports). */
  timestamp?: string;
}

export interface EditResult {
  page: PageRow;
  rev: RevisionRow;
  created: boolean;
  /** False for a null edit (same text): no revision, no event. */
  changed: boolean;
}

export class Wiki {
  readonly db: WikiDatabase;
  readonly domain: string;
  readonly outbox: OutboxSender;
  /** list=recentchanges, one row per emitted event (for wikis followed without their events). */
  readonly recentChanges: RecentChanges;
  private counters = { renders: 0, failures: 0, byTitle: new Map<string, number>(), byRevision: new Map<number, number>() };
  private faults = { failCount: 0, failStatus: 503, delayMs: 0, delayCount: 0 };
  private readonly q;

  constructor(opts: WikiOptions) {
    this.db = openWikiDb(opts.dbPath);
    this.domain = opts.domain;
    this.outbox = new OutboxSender(this.db, opts.eventsUrl, { logger: opts.logger });
    this.recentChanges = new RecentChanges(this.db);
    const db = this.db;
    this.q = {
      livePage: db.prepare<[number, string], PageRow>('SELECT * FROM page WHERE namespace = ? AND title = ? AND deleted = 0'),
      deletedPage: db.prepare<[number, string], PageRow>('SELECT * FROM page WHERE namespace = ? AND title = ? AND deleted = 1 ORDER BY page_id DESC LIMIT 1'),
      pageById: db.prepare<[number], PageRow>('SELECT * FROM page WHERE page_id = ?'),
      rev: db.prepare<[number], RevisionRow>('SELECT * FROM revision WHERE rev_id = ?'),
      latestText: db.prepare<[number, string], { text: string }>(
        'SELECT r.text FROM page p JOIN revision r ON r.rev_id = p.latest WHERE p.namespace = ? AND p.title = ? AND p.deleted = 0',
      ),
      insertPage: db.prepare<[number, string, string]>('INSERT INTO page (namespace, title, touched) VALUES (?, ?, ?)'),
      insertRev: db.prepare<[number, number, string, number, string, string, number, string, number, string]>(
        'INSERT INTO revision (page_id, parent_id, timestamp, user_id, user_text, comment, minor, sha1, len, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      setLatest: db.prepare<[number, string | null, string, number]>('UPDATE page SET latest = ?, redirect_target = ?, touched = ? WHERE page_id = ?'),
      deleteLinks: db.prepare<[number]>('DELETE FROM templatelinks WHERE from_page = ?'),
      insertLink: db.prepare<[number, number, string]>('INSERT OR IGNORE INTO templatelinks (from_page, from_ns, target) VALUES (?, ?, ?)'),
      outbox: db.prepare<[string, string]>('INSERT INTO outbox (stream, body) VALUES (?, ?)'),
      log: db.prepare<[string, string, number, string, string, string, string]>(
        'INSERT INTO logging (type, action, page_id, title, user_text, comment, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      revCount: db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM revision WHERE page_id = ?'),
    };
  }

  start(): void {
    this.outbox.start();
  }

  async close(): Promise<void> {
    await this.outbox.close();
    this.db.close();
  }

  // --- reads ---------------------------------------------------------------------------

  title(input: string): WikiTitle {
    const t = parseTitle(input);
    if (!t) throw badRequest('rest-invalid-title', `invalid title: ${input}`);
    return t;
  }

  page(t: WikiTitle): PageRow | undefined {
    return this.q.livePage.get(t.ns, t.dbKey);
  }

  pageOrThrow(t: WikiTitle): PageRow {
    const p = this.page(t);
    if (!p) throw notFound('rest-nonexistent-title', `The specified title (${t.text}) does not exist`);
    return p;
  }

  pageById(id: number): PageRow | undefined {
    return this.q.pageById.get(id);
  }

  revision(id: number): RevisionRow | undefined {
    return this.q.rev.get(id);
  }

  /** A revision of a live page, or 404 (revisions of deleted pages are gone, as in MediaWiki). */
  liveRevision(id: number): { rev: RevisionRow; page: PageRow } {
    const rev = this.q.rev.get(id);
    const page = rev && this.q.pageById.get(rev.page_id);
    if (!rev || !page || page.deleted) throw notFound('rest-nonexistent-revision', `The specified revision (${id}) does not exist`);
    return { rev, page };
  }

  /** Text of a revision whose content may be shown, or 403 when it is hidden. */
  visibleText(rev: RevisionRow): string {
    if (rev.deleted & REV_DELETED_TEXT) {
      throw new CascadeError(WikiErrors.permissionDenied, `The content of revision ${rev.rev_id} is hidden`, {
        extra: { errorKey: 'rest-permission-denied-revision' },
      });
    }
    return rev.text;
  }

  history(pageId: number, opts: { olderThan?: number; newerThan?: number; limit: number }): RevisionRow[] {
    if (opts.newerThan !== undefined) {
      return this.db
        .prepare<[number, number, number], RevisionRow>('SELECT * FROM revision WHERE page_id = ? AND rev_id > ? ORDER BY rev_id ASC LIMIT ?')
        .all(pageId, opts.newerThan, opts.limit)
        .reverse();
    }
    return this.db
      .prepare<[number, number, number], RevisionRow>('SELECT * FROM revision WHERE page_id = ? AND rev_id < ? ORDER BY rev_id DESC LIMIT ?')
      .all(pageId, opts.olderThan ?? Number.MAX_SAFE_INTEGER, opts.limit);
  }

  /** Pages transcluding `target` (a prefixed DB key), by (namespace, page id), after `from`. */
  embeddedIn(target: string, limit: number, from?: { ns: number; id: number }, namespaces?: number[]): PageRow[] {
    const nsFilter = namespaces && namespaces.length ? `AND t.from_ns IN (${namespaces.map((n) => Number(n) | 0).join(',')})` : '';
    return this.db
      .prepare<[string, number, number, number, number], PageRow>(
        `SELECT p.* FROM templatelinks t JOIN page p ON p.page_id = t.from_page
         WHERE t.target = ? AND p.deleted = 0 ${nsFilter} AND (t.from_ns > ? OR (t.from_ns = ? AND t.from_page >= ?))
         ORDER BY t.from_ns, t.from_page LIMIT ?`,
      )
      .all(target, from?.ns ?? -10, from?.ns ?? -10, from?.id ?? 0, limit);
  }

  /** Live pages of namespace `ns` by title (DB key), from `from` on (action API list=allpages). */
  allPages(ns: number, limit: number, opts: { from?: string; prefix?: string; redirects?: 'all' | 'redirects' | 'nonredirects' } = {}): PageRow[] {
    const redir = opts.redirects === 'redirects' ? 'AND redirect_target IS NOT NULL' : opts.redirects === 'nonredirects' ? 'AND redirect_target IS NULL' : '';
    // A prefix is matched as a range (prefix <= title < prefix + U+10FFFF, the highest UTF-8), which the title index serves.
    const low = opts.from !== undefined && opts.from > (opts.prefix ?? '') ? opts.from : (opts.prefix ?? '');
    const high = (opts.prefix ?? '') + '\u{10FFFF}';
    return this.db
      .prepare<[number, string, string, number], PageRow>(
        `SELECT * FROM page WHERE namespace = ? AND deleted = 0 AND title >= ? AND title < ? ${redir} ORDER BY title LIMIT ?`,
      )
      .all(ns, low, high, limit);
  }

  maxPageId(): number {
    return (this.db.prepare('SELECT coalesce(max(page_id), 0) AS n FROM page').get() as { n: number }).n;
  }

  pageCount(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM page WHERE deleted = 0').get() as { n: number }).n;
  }

  private loadPage = (key: string): string | undefined => {
    const t = parseTitle(key);
    return t ? this.q.latestText.get(t.ns, t.dbKey)?.text : undefined;
  };

  // --- rendering ----------------------------------------------------------------------

  /** Renders a revision for the REST API: counted, subject to injected faults. */
  async render(page: PageRow, rev: RevisionRow, wikitext?: string): Promise<RenderResult> {
    const text = wikitext ?? this.visibleText(rev);
    if (this.faults.delayCount > 0 && this.faults.delayMs > 0) {
      this.faults.delayCount--;
      await new Promise((r) => setTimeout(r, this.faults.delayMs));
    }
    if (this.faults.failCount > 0) {
      this.faults.failCount--;
      this.counters.failures++;
      throw new CascadeError(WikiErrors.injected, 'injected render failure', {
        extra: { errorKey: 'rest-test-injected-failure', httpCode: this.faults.failStatus },
      });
    }
    const key = prefixedKey(page);
    const result = renderWikitext(text, {
      domain: this.domain,
      title: parseTitle(key)!,
      pageId: page.page_id,
      revId: rev.rev_id,
      parentRevId: rev.parent_id || undefined,
      timestamp: rev.timestamp,
      loadPage: this.loadPage,
    });
    this.counters.renders++;
    this.counters.byTitle.set(key, (this.counters.byTitle.get(key) ?? 0) + 1);
    this.counters.byRevision.set(rev.rev_id, (this.counters.byRevision.get(rev.rev_id) ?? 0) + 1);
    return result;
  }

  /** Test hook: the next `count` renders fail with `status`. */
  injectFailures(count: number, status: number): void {
    this.faults.failCount = count;
    this.faults.failStatus = status;
  }

  /** Test hook: the next `count` renders take `ms` longer. */
  injectDelay(ms: number, count: number): void {
    this.faults.delayMs = ms;
    this.faults.delayCount = count;
  }

  resetTestState(): void {
    this.faults = { failCount: 0, failStatus: 503, delayMs: 0, delayCount: 0 };
    this.counters = { renders: 0, failures: 0, byTitle: new Map(), byRevision: new Map() };
  }

  stats(): WikiStats {
    return {
      renders: this.counters.renders,
      failures: this.counters.failures,
      byTitle: Object.fromEntries(this.counters.byTitle),
      byRevision: Object.fromEntries([...this.counters.byRevision].map(([k, v]) => [String(k), v])),
      events: this.outbox.stats(),
    };
  }

  // --- writes ---------------------------------------------------------------------------

  private emit(event: { meta: Record<string, unknown> }): void {
    this.q.outbox.run(String(event.meta.stream), JSON.stringify(event));
    this.recentChanges.record(event as Record<string, unknown>);
  }

  private updateLinks(page: PageRow, text: string): void {
    this.q.deleteLinks.run(page.page_id);
    const used = templatesUsed(text, {
      domain: this.domain,
      title: parseTitle(prefixedKey(page))!,
      pageId: page.page_id,
      revId: page.latest,
      timestamp: page.touched,
      loadPage: this.loadPage,
    });
    for (const t of used) this.q.insertLink.run(page.page_id, page.namespace, t);
  }

  private insertRevision(page: PageRow, text: string, comment: string, performer: Performer, minor: boolean, timestamp: string): RevisionRow {
    const info = this.q.insertRev.run(
      page.page_id,
      page.latest,
      timestamp,
      performer.user_id ?? 0,
      performer.user_text,
      comment,
      minor ? 1 : 0,
      sha1Base36(text),
      Buffer.byteLength(text),
      text,
    );
    const rev = this.q.rev.get(Number(info.lastInsertRowid))!;
    this.q.setLatest.run(rev.rev_id, redirectTarget(text)?.key ?? null, timestamp, page.page_id);
    return rev;
  }

  edit(input: EditInput): EditResult {
    const t = this.title(input.title);
    if (t.ns < 0) throw badRequest('rest-invalid-title', `cannot edit ${t.text}`);
    const run = this.db.transaction((): EditResult => {
      let page = this.page(t);
      const ts = input.timestamp ?? mwTimestamp();
      if (page && input.baseRevId !== undefined && input.baseRevId !== page.latest) {
        throw new CascadeError(WikiErrors.editConflict, `Edit conflict: the page was changed since revision ${input.baseRevId}`, {
          extra: { errorKey: 'rest-edit-conflict' },
        });
      }
      if (!page && input.baseRevId !== undefined && input.baseRevId !== 0) {
        throw new CascadeError(WikiErrors.editConflict, 'Edit conflict: the page does not exist (any more)', {
          extra: { errorKey: 'rest-edit-conflict' },
        });
      }
      let created = false;
      if (!page) {
        const info = this.q.insertPage.run(t.ns, t.dbKey, ts);
        page = this.q.pageById.get(Number(info.lastInsertRowid))!;
        created = true;
      } else {
        const latest = this.q.rev.get(page.latest)!;
        if (latest.text === input.text) return { page, rev: latest, created: false, changed: false };
      }
      const rev = this.insertRevision(page, input.text, input.comment ?? '', input.performer, input.minor ?? false, ts);
      page = this.q.pageById.get(page.page_id)!;
      this.updateLinks(page, input.text);
      this.emit(ev.revisionCreate(this, page, rev, input.performer, input.requestId));
      return { page, rev, created, changed: true };
    });
    const result = run.immediate();
    if (result.changed) this.outbox.kick();
    return result;
  }

  delete(title: string, reason: string, performer: Performer, requestId?: string): { page: PageRow; logId: number } {
    const t = this.title(title);
    const result = this.db.transaction(() => {
      const page = this.page(t);
      if (!page) throw notFound('missingtitle', "The page you specified doesn't exist.");
      this.db.prepare('UPDATE page SET deleted = 1 WHERE page_id = ?').run(page.page_id);
      const logId = Number(this.q.log.run('delete', 'delete', page.page_id, prefixedKey(page), performer.user_text, reason, mwTimestamp()).lastInsertRowid);
      this.emit(ev.pageDelete(this, page, this.q.revCount.get(page.page_id)!.n, performer, reason, requestId));
      return { page, logId };
    }).immediate();
    this.outbox.kick();
    return result;
  }

  undelete(title: string, reason: string, performer: Performer, requestId?: string): { page: PageRow; revisions: number } {
    const t = this.title(title);
    const result = this.db.transaction(() => {
      if (this.page(t)) throw badRequest('cantundelete', 'A page with this title exists; undeletion into it is not supported by the example wiki.');
      const page = this.q.deletedPage.get(t.ns, t.dbKey);
      if (!page) throw badRequest('cantundelete', "Couldn't undelete: the requested revisions may not exist, or may have been undeleted already.");
      this.db.prepare('UPDATE page SET deleted = 0 WHERE page_id = ?').run(page.page_id);
      const live = this.q.pageById.get(page.page_id)!;
      this.updateLinks(live, this.q.rev.get(live.latest)!.text);
      this.q.log.run('delete', 'restore', page.page_id, prefixedKey(page), performer.user_text, reason, mwTimestamp());
      this.emit(ev.pageUndelete(this, live, performer, reason, requestId));
      return { page: live, revisions: this.q.revCount.get(page.page_id)!.n };
    }).immediate();
    this.outbox.kick();
    return result;
  }

  move(
    from: string,
    to: string,
    reason: string,
    performer: Performer,
    opts: { noredirect?: boolean; requestId?: string } = {},
  ): { page: PageRow; redirect?: PageRow } {
    const ft = this.title(from);
    const tt = this.title(to);
    const result = this.db.transaction(() => {
      const page = this.page(ft);
      if (!page) throw notFound('missingtitle', "The page you specified doesn't exist.");
      if (ft.key === tt.key) throw badRequest('selfmove', 'The title is the same; cannot move a page over itself.');
      if (this.page(tt)) throw badRequest('articleexists', 'A page of that name already exists, or the name you have chosen is not valid. Please choose another name.');
      const prior = { namespace: page.namespace, title: page.title, rev_id: page.latest };
      const ts = mwTimestamp();
      this.db.prepare('UPDATE page SET namespace = ?, title = ? WHERE page_id = ?').run(tt.ns, tt.dbKey, page.page_id);
      // A null revision records the move in the page's history, as MediaWiki does.
      const latestText = this.q.rev.get(page.latest)!.text;
      const moved0 = this.q.pageById.get(page.page_id)!;
      const comment = `${performer.user_text} moved page [[${ft.text}]] to [[${tt.text}]]${reason ? ': ' + reason : ''}`;
      this.insertRevision(moved0, latestText, comment, performer, true, ts);
      const moved = this.q.pageById.get(page.page_id)!;
      let redirect: PageRow | undefined;
      let redirectRev: RevisionRow | undefined;
      if (!opts.noredirect) {
        const info = this.q.insertPage.run(ft.ns, ft.dbKey, ts);
        const r0 = this.q.pageById.get(Number(info.lastInsertRowid))!;
        redirectRev = this.insertRevision(r0, `#REDIRECT [[${tt.text}]]`, comment, performer, false, ts);
        redirect = this.q.pageById.get(r0.page_id)!;
      }
      this.q.log.run('move', 'move', page.page_id, prefixedKey(prior), performer.user_text, reason, ts);
      this.emit(ev.pageMove(this, moved, prior, redirect && redirectRev ? { page: redirect, rev_id: redirectRev.rev_id } : undefined, performer, reason, opts.requestId));
      if (redirect && redirectRev) this.emit(ev.revisionCreate(this, redirect, redirectRev, performer, opts.requestId));
      return { page: moved, ...(redirect ? { redirect } : {}) };
    }).immediate();
    this.outbox.kick();
    return result;
  }

  /**
   * Changes the visibility bits of revisions of one page (MediaWiki's revisiondelete).
   * The text of the current revision cannot be hidden, as in MediaWiki.
   */
  setVisibility(
    target: string,
    revIds: number[],
    hide: number,
    show: number,
    reason: string,
    performer: Performer,
    requestId?: string,
  ): { page: PageRow; items: { rev: RevisionRow; error?: string }[] } {
    const t = this.title(target);
    const result = this.db.transaction(() => {
      const page = this.page(t);
      if (!page) throw notFound('missingtitle', "The page you specified doesn't exist.");
      const items: { rev: RevisionRow; error?: string }[] = [];
      for (const id of revIds) {
        const rev = this.q.rev.get(id);
        if (!rev || rev.page_id !== page.page_id) throw badRequest('revdel-nosuchrev', `There is no revision with ID ${id} on this page.`);
        let bits = (rev.deleted | hide) & ~show;
        if (bits & ~REV_DELETED_RESTRICTED) {
          // keep the suppressed flag only while something is hidden
        } else bits = 0;
        if (rev.rev_id === page.latest && bits & REV_DELETED_TEXT) {
          items.push({ rev, error: 'revdelete-hide-current' });
          continue;
        }
        if (bits === rev.deleted) {
          items.push({ rev });
          continue;
        }
        this.db.prepare('UPDATE revision SET deleted = ? WHERE rev_id = ?').run(bits, rev.rev_id);
        const updated = this.q.rev.get(rev.rev_id)!;
        this.emit(ev.visibilityChange(this, page, updated, rev.deleted, performer, reason, requestId));
        items.push({ rev: updated });
      }
      return { page, items };
    }).immediate();
    this.outbox.kick();
    return result;
  }
}
