// Access state of pages (deleted, never existed, hidden revisions), kept per page in the
// `page-meta` bucket and in memory. Events change it at once in the safe direction (a delete or
// a hidden revision refuses content immediately) and are re-verified with the origin a few
// seconds later, so a forged event is undone; events in the unsafe direction (a revision shown
// again) are applied only once the origin confirms them. State older than
// `access_check_max_age_seconds` is re-checked on read, covering lost events, and the re-check
// covers every hidden revision the page has, not only its latest.
import type { Logger } from '../util/logger.ts';
import { CascadeError } from '../errors/index.ts';
import type { MediaWikiAdapter } from '../origins/mediawiki/adapter.ts';
import type { ContentStore } from '../storage/types.ts';
import { ContentErrors } from './errors.ts';

const PAGE_META = 'page-meta';

/** What Cascade knows about a page's access state. Stored in the `page-meta` bucket. */
export interface PageMeta {
  /** Prefixed DB key. */
  title: string;
  pageId?: number;
  latestRev?: number;
  latestTimestamp?: string;
  deleted: boolean;
  /** With `deleted`: the origin has no such page and Cascade never knew one (404 "not found", not "deleted"). */
  missing?: boolean;
  /** Revisions whose content is hidden (revision suppression / deletion). */
  suppressed: number[];
  /** ms since epoch of the last confirmation with the origin or an access event. */
  checkedAt: number;
}

export interface AccessOptions {
  maxAgeMs: number;
  /** Delay before an access event is re-verified with the origin. */
  reverifyDelayMs: number;
  log: Logger;
  /** Drops a page's in-memory renders (access changed). */
  dropHot: (domain: string, key: string) => void;
}

/** Throws the error a read of `rev` (or the latest revision) must answer, if any. */
export function assertReadable(meta: PageMeta | undefined, key: string, rev?: number): void {
  if (!meta) return;
  if (meta.deleted) {
    if (meta.missing) throw new CascadeError(ContentErrors.pageNotFound, `${key} does not exist`);
    throw new CascadeError(ContentErrors.pageDeleted, `${key} has been deleted`);
  }
  if (rev !== undefined && meta.suppressed.length > 0 && meta.suppressed.includes(rev)) {
    throw new CascadeError(ContentErrors.revisionSuppressed, `revision ${rev} of ${key} is hidden`);
  }
}

const MAX_PENDING = 10_000;

export class AccessState {
  private metas = new Map<string, PageMeta>();
  private checks = new Map<string, Promise<PageMeta | undefined>>();
  /** Pages whose access event awaits re-verification: key → [domain, page key, attempt]. */
  private pending = new Map<string, { domain: string; key: string; attempt: number; due: number }>();
  private timer: NodeJS.Timeout | undefined;
  private running = 0;
  private closed = false;
  private oldRevChecked = new Map<string, number>();
  /** Re-verifications that undid an event (forged or overtaken), for tests and metrics. */
  undone = 0;

  constructor(
    private readonly store: ContentStore,
    private readonly origin: MediaWikiAdapter,
    private readonly o: AccessOptions,
  ) {}

  key(domain: string, key: string): string {
    return domain + '\u0000' + key;
  }

  /** In-memory state, fresh or not (the hot path checks freshness itself). */
  peek(mk: string): PageMeta | undefined {
    return this.metas.get(mk);
  }

  /** Access metadata when it is in memory and fresh. */
  fresh(domain: string, key: string): PageMeta | undefined {
    const m = this.metas.get(this.key(domain, key));
    if (m && Date.now() - m.checkedAt <= this.o.maxAgeMs) return m;
    return undefined;
  }

  /** Access metadata, re-checked with the origin when missing or older than the bound. */
  async get(domain: string, key: string, requestId?: string): Promise<PageMeta | undefined> {
    const f = this.fresh(domain, key);
    if (f) return f;
    const mk = this.key(domain, key);
    let p = this.checks.get(mk);
    if (!p) {
      p = (async () => {
        try {
          let known = this.metas.get(mk);
          if (!known) {
            known = await this.load(domain, key);
            if (known && Date.now() - known.checkedAt <= this.o.maxAgeMs) {
              this.remember(domain, known);
              return known;
            }
          }
          try {
            return await this.recheck(domain, key, known, requestId);
          } catch (e) {
            // Origin down: go on with what we knew (stale-if-error for metadata too).
            this.o.log('access re-check failed', { domain, key, error: String(e) });
            return known;
          }
        } finally {
          this.checks.delete(mk);
        }
      })();
      this.checks.set(mk, p);
    }
    return p;
  }

  private async load(domain: string, key: string): Promise<PageMeta | undefined> {
    const rec = await this.store.getLatest(domain, PAGE_META, key);
    return rec ? (JSON.parse(rec.body().toString('utf8')) as PageMeta) : undefined;
  }

  /** Asks the origin about a page: exists? latest revision? which of its hidden revisions are still hidden? */
  async recheck(domain: string, key: string, known: PageMeta | undefined, requestId?: string): Promise<PageMeta> {
    const a = await this.origin.pageAccess(domain, key, requestId);
    const suppressed = new Set(known?.suppressed ?? []);
    if (a.latestRev !== undefined && a.latestHidden !== undefined) {
      if (a.latestHidden) suppressed.add(a.latestRev);
      else suppressed.delete(a.latestRev);
    }
    // Older hidden revisions are confirmed one by one: an event hid them, the origin decides.
    const older = [...suppressed].filter((r) => r !== a.latestRev);
    if (older.length > 0 && a.exists) {
      const vis = await this.origin.revisionsHidden(domain, older, requestId);
      for (const r of older) if (vis.get(r) === false) suppressed.delete(r);
    }
    const knewIt = known !== undefined && (known.pageId !== undefined || known.latestRev !== undefined || (known.deleted && !known.missing));
    const m: PageMeta = {
      title: key,
      ...(a.pageId !== undefined ? { pageId: a.pageId } : known?.pageId !== undefined ? { pageId: known.pageId } : {}),
      ...(a.latestRev !== undefined ? { latestRev: a.latestRev } : {}),
      ...(a.latestTimestamp ? { latestTimestamp: a.latestTimestamp } : {}),
      deleted: !a.exists,
      ...(!a.exists && !knewIt ? { missing: true } : {}),
      suppressed: [...suppressed],
      checkedAt: Date.now(),
    };
    if (known && (known.deleted !== m.deleted || known.suppressed.length !== m.suppressed.length)) this.o.dropHot(domain, key);
    // Titles that never existed stay in memory only: requests for made-up titles write nothing.
    if (m.missing && !known) this.remember(domain, m);
    else await this.save(domain, m);
    return m;
  }

  remember(domain: string, m: PageMeta): void {
    const mk = this.key(domain, m.title);
    if (this.metas.size >= 200000 && !this.metas.has(mk)) {
      const first = this.metas.keys().next().value;
      if (first !== undefined) this.metas.delete(first);
    }
    this.metas.set(mk, m);
  }

  private async save(domain: string, m: PageMeta): Promise<void> {
    this.remember(domain, m);
    await this.store.put({ domain, bucket: PAGE_META, key: m.title, body: JSON.stringify(m), contentType: 'application/json', skipUnchanged: false });
  }

  async update(domain: string, key: string, change: (m: PageMeta) => void): Promise<PageMeta> {
    const m = this.metas.get(this.key(domain, key)) ?? (await this.load(domain, key)) ?? { title: key, deleted: false, suppressed: [], checkedAt: 0 };
    const next: PageMeta = { ...m, suppressed: [...m.suppressed] };
    change(next);
    await this.save(domain, next);
    return next;
  }

  // ---------------------------------------------------------------- access events

  /** The page was deleted: refused at once, re-verified with the origin shortly. */
  async markDeleted(domain: string, key: string): Promise<PageMeta> {
    this.o.dropHot(domain, key);
    const m = await this.update(domain, key, (x) => {
      x.deleted = true;
      delete x.missing;
      x.checkedAt = Date.now();
    });
    this.reverify(domain, key);
    return m;
  }

  /** The page was restored: confirmed with the origin on the next read. */
  async markUndeleted(domain: string, key: string): Promise<PageMeta> {
    this.o.dropHot(domain, key);
    return this.update(domain, key, (x) => {
      x.deleted = false;
      delete x.missing;
      x.checkedAt = 0;
    });
  }

  /** A page moved. Without a redirect left behind the old title is gone at once (re-verified). */
  async markMoved(domain: string, from: string, to: string, redirectLeft: boolean): Promise<void> {
    this.o.dropHot(domain, from);
    this.o.dropHot(domain, to);
    await this.update(domain, from, (m) => {
      m.deleted = !redirectLeft;
      delete m.missing;
      // The old title now holds a new (redirect) revision or nothing: ask the origin on next read.
      m.checkedAt = redirectLeft ? 0 : Date.now();
      delete m.latestRev;
    });
    if (!redirectLeft) this.reverify(domain, from);
    await this.update(domain, to, (m) => {
      m.deleted = false;
      delete m.missing;
      m.checkedAt = 0;
      delete m.latestRev;
    });
  }

  /**
   * A revision's content was hidden (refused at once, re-verified shortly) or shown again
   * (applied only when the origin confirms it; otherwise the error makes the caller retry).
   */
  async markRevisionVisibility(domain: string, key: string, rev: number, hidden: boolean, requestId?: string): Promise<PageMeta> {
    if (!hidden) {
      const vis = await this.origin.revisionsHidden(domain, [rev], requestId);
      if (vis.get(rev) !== false) {
        this.o.log('revision visibility event not confirmed by the origin; kept hidden', { domain, key, rev });
        return (await this.get(domain, key, requestId)) ?? { title: key, deleted: false, suppressed: [rev], checkedAt: Date.now() };
      }
    }
    this.o.dropHot(domain, key);
    const m = await this.update(domain, key, (x) => {
      const s = new Set(x.suppressed);
      if (hidden) s.add(rev);
      else s.delete(rev);
      x.suppressed = [...s];
    });
    if (hidden) this.reverify(domain, key);
    return m;
  }

  /** A new revision exists (reads will render it instead of serving the older one). */
  async markNewRevision(domain: string, key: string, rev: number): Promise<void> {
    await this.update(domain, key, (m) => {
      if (m.latestRev === undefined || rev > m.latestRev) m.latestRev = rev;
      m.deleted = false;
      delete m.missing;
    });
  }

  /** Checks an older revision's visibility with the origin (at most once per max-age). */
  async checkOldRevision(domain: string, key: string, rev: number, requestId?: string): Promise<void> {
    const k = `${domain}\u0000${rev}`;
    const at = this.oldRevChecked.get(k);
    if (at !== undefined && Date.now() - at <= this.o.maxAgeMs) return;
    let hidden: boolean | undefined;
    try {
      hidden = (await this.origin.revisionsHidden(domain, [rev], requestId)).get(rev);
    } catch {
      return; // Origin unreachable: serve on the event-driven state.
    }
    if (this.oldRevChecked.size > 100000) this.oldRevChecked.clear();
    this.oldRevChecked.set(k, Date.now());
    if (hidden) {
      await this.markRevisionVisibility(domain, key, rev, true, requestId);
      throw new CascadeError(ContentErrors.revisionSuppressed, `revision ${rev} of ${key} is hidden`);
    }
  }

  // ---------------------------------------------------------------- re-verification queue

  /** Schedules a re-check of the page with the origin (deduplicated per page, bounded). */
  reverify(domain: string, key: string): void {
    if (this.closed) return;
    const mk = this.key(domain, key);
    if (!this.pending.has(mk) && this.pending.size >= MAX_PENDING) {
      // Flooded: the read-time re-check (access_check_max_age_seconds) still covers this page.
      this.o.log('access re-verification queue full; page left to the read-time re-check', { domain, key });
      return;
    }
    this.pending.set(mk, { domain, key, attempt: 0, due: Date.now() + this.o.reverifyDelayMs });
    this.arm();
  }

  /** Access events awaiting their re-check (for tests). */
  get pendingCount(): number {
    return this.pending.size + this.running;
  }

  private arm(): void {
    if (this.timer || this.closed || this.pending.size === 0) return;
    let due = Infinity;
    for (const p of this.pending.values()) due = Math.min(due, p.due);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain();
    }, Math.max(0, due - Date.now()));
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    const now = Date.now();
    const batch = [...this.pending.entries()].filter(([, p]) => p.due <= now).slice(0, 8);
    for (const [mk] of batch) this.pending.delete(mk);
    this.running += batch.length;
    await Promise.all(
      batch.map(async ([mk, p]) => {
        try {
          const before = this.metas.get(mk) ?? (await this.load(p.domain, p.key));
          const after = await this.recheck(p.domain, p.key, before);
          if (before && ((before.deleted && !after.deleted) || before.suppressed.some((r) => !after.suppressed.includes(r)))) {
            this.undone++;
            this.o.log('access event not confirmed by the origin; undone', { domain: p.domain, key: p.key });
          }
        } catch (e) {
          // Origin unreachable: keep the safe state and try again with backoff.
          if (p.attempt < 8 && !this.closed && !this.pending.has(mk)) {
            this.pending.set(mk, { ...p, attempt: p.attempt + 1, due: Date.now() + Math.min(60_000, this.o.reverifyDelayMs * 2 ** (p.attempt + 1)) });
          }
          this.o.log('access re-verification failed', { domain: p.domain, key: p.key, error: String(e) });
        } finally {
          this.running--;
        }
      }),
    );
    this.arm();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
