// MediaWiki event shapes for the example wiki's changes, and the outbox sender that delivers
// them to Cascade's event intake in order, at least once: events are written to the outbox
// in the transaction of the change and deleted only after the intake accepted them.
import { randomUUID } from 'node:crypto';
import type { PageRow, RevisionRow, WikiDatabase } from './db.ts';
import { REV_DELETED_COMMENT, REV_DELETED_TEXT, REV_DELETED_USER } from './db.ts';
import { databaseName, namespaceName } from './site.ts';
import { escapeHtml } from './render.ts';
import { ConsumerLoop } from '../util/consumer-loop.ts';
import type { Logger } from '../util/logger.ts';

export interface Performer {
  user_text: string;
  user_id?: number;
  user_groups: string[];
  user_is_bot: boolean;
}

export interface EventSite {
  domain: string;
}

export const SCHEMAS = {
  revisionCreate: { schema: '/mediawiki/revision/create/2.0.0', stream: 'mediawiki.revision-create' },
  pageDelete: { schema: '/mediawiki/page/delete/1.0.0', stream: 'mediawiki.page-delete' },
  pageUndelete: { schema: '/mediawiki/page/undelete/1.0.0', stream: 'mediawiki.page-undelete' },
  pageMove: { schema: '/mediawiki/page/move/1.0.0', stream: 'mediawiki.page-move' },
  visibilityChange: { schema: '/mediawiki/revision/visibility-change/1.0.0', stream: 'mediawiki.revision-visibility-change' },
} as const;

/**
 * `prefixed` (optional): the prefixed DB key as another wiki spells it (its own namespace
 * names), for events built from a real wiki's recentchanges.
 */
export function prefixedKey(page: Pick<PageRow, 'namespace' | 'title'> & { prefixed?: string }): string {
  if (page.prefixed) return page.prefixed;
  const prefix = namespaceName(page.namespace);
  return prefix ? `${prefix.replace(/ /g, '_')}:${page.title}` : page.title;
}

function meta(site: EventSite, s: { stream: string }, key: string, requestId?: string): Record<string, unknown> {
  return {
    stream: s.stream,
    domain: site.domain,
    uri: `https://${site.domain}/wiki/${encodeURI(key)}`,
    dt: new Date().toISOString(),
    id: randomUUID(),
    ...(requestId ? { request_id: requestId } : {}),
  };
}

function pageFields(site: EventSite, page: PageRow): Record<string, unknown> {
  return {
    database: databaseName(site.domain),
    page_id: page.page_id,
    page_title: prefixedKey(page),
    page_namespace: page.namespace,
    page_is_redirect: page.redirect_target !== null,
  };
}

function performerFields(p: Performer): Record<string, unknown> {
  return {
    user_text: p.user_text,
    user_groups: p.user_groups,
    user_is_bot: p.user_is_bot,
    ...(p.user_id ? { user_id: p.user_id } : {}),
  };
}

export function visibilityOf(deleted: number): { text: boolean; user: boolean; comment: boolean } {
  return { text: (deleted & REV_DELETED_TEXT) === 0, user: (deleted & REV_DELETED_USER) === 0, comment: (deleted & REV_DELETED_COMMENT) === 0 };
}

/** What every page event starts with: schema and meta, the page, who acted and why. */
function pageEvent(site: EventSite, s: { schema: string; stream: string }, page: PageRow, performer: Performer, comment: string, requestId?: string) {
  return {
    $schema: s.schema,
    meta: meta(site, s, prefixedKey(page), requestId),
    ...pageFields(site, page),
    performer: performerFields(performer),
    comment,
    parsedcomment: escapeHtml(comment),
  };
}

/** A revision's own fields, as revision-create and visibility-change both carry them. */
function revisionFields(rev: RevisionRow) {
  return {
    rev_id: rev.rev_id,
    ...(rev.parent_id ? { rev_parent_id: rev.parent_id } : {}),
    rev_timestamp: rev.timestamp,
    rev_sha1: rev.sha1,
    rev_len: rev.len,
    rev_minor_edit: rev.minor === 1,
    rev_content_model: 'wikitext',
    rev_content_format: 'text/x-wiki',
  };
}

export function revisionCreate(site: EventSite, page: PageRow, rev: RevisionRow, performer: Performer, requestId?: string, contentChanged = true) {
  return {
    ...pageEvent(site, SCHEMAS.revisionCreate, page, performer, rev.comment, requestId),
    dt: rev.timestamp,
    ...revisionFields(rev),
    rev_content_changed: contentChanged,
    rev_is_revert: false,
    rev_slots: { main: { rev_slot_content_model: 'wikitext', rev_slot_sha1: rev.sha1, rev_slot_size: rev.len, rev_slot_origin_rev_id: rev.rev_id } },
  };
}

export function pageDelete(site: EventSite, page: PageRow, revCount: number, performer: Performer, reason: string, requestId?: string) {
  return { ...pageEvent(site, SCHEMAS.pageDelete, page, performer, reason, requestId), rev_id: page.latest, rev_count: revCount };
}

export function pageUndelete(site: EventSite, page: PageRow, performer: Performer, reason: string, requestId?: string) {
  return { ...pageEvent(site, SCHEMAS.pageUndelete, page, performer, reason, requestId), rev_id: page.latest, prior_state: { page_id: page.page_id } };
}

export function pageMove(
  site: EventSite,
  page: PageRow,
  prior: { namespace: number; title: string; rev_id: number; prefixed?: string },
  redirect: { page: PageRow; rev_id: number } | undefined,
  performer: Performer,
  reason: string,
  requestId?: string,
) {
  return {
    ...pageEvent(site, SCHEMAS.pageMove, page, performer, reason, requestId),
    rev_id: page.latest,
    prior_state: { page_title: prefixedKey(prior), page_namespace: prior.namespace, rev_id: prior.rev_id },
    ...(redirect
      ? {
          new_redirect_page: {
            page_id: redirect.page.page_id,
            page_title: prefixedKey(redirect.page),
            page_namespace: redirect.page.namespace,
            rev_id: redirect.rev_id,
          },
        }
      : {}),
  };
}

export function visibilityChange(site: EventSite, page: PageRow, rev: RevisionRow, priorDeleted: number, performer: Performer, reason: string, requestId?: string) {
  return {
    ...pageEvent(site, SCHEMAS.visibilityChange, page, performer, reason, requestId),
    ...revisionFields(rev),
    visibility: visibilityOf(rev.deleted),
    prior_state: { visibility: visibilityOf(priorDeleted) },
  };
}

export interface OutboxStats {
  pending: number;
  sent: number;
  dead: number;
  lastError?: string;
}

/**
 * Sends outbox rows, oldest first, in batches, as EventGate expects them (a JSON array).
 * Network errors and 5xx are retried with capped exponential backoff, keeping the order;
 * 4xx (the intake judged the events invalid) are moved to `outbox_dead`, so one bad event
 * cannot stall the wiki's event stream forever.
 */
export class OutboxSender {
  private url: string | undefined;
  private readonly loop: ConsumerLoop<{ seq: number; stream: string; body: string }>;
  private sent = 0;
  private lastError: string | undefined;
  private readonly select;
  private readonly remove;
  private readonly bury;

  constructor(
    private readonly db: WikiDatabase,
    url: string | undefined,
    private readonly opts: { batch?: number; maxDelayMs?: number; logger?: Logger } = {},
  ) {
    this.url = url;
    this.select = db.prepare<[number], { seq: number; stream: string; body: string }>('SELECT seq, stream, body FROM outbox ORDER BY seq LIMIT ?');
    this.remove = db.prepare<[number]>('DELETE FROM outbox WHERE seq <= ?');
    this.bury = db.prepare<[number, string, number]>(
      'INSERT OR REPLACE INTO outbox_dead (seq, stream, body, status, response) SELECT seq, stream, body, ?, ? FROM outbox WHERE seq <= ?',
    );
    // Polls the outbox every second unless kicked; a failed send is retried, in order, after
    // a capped exponential backoff.
    this.loop = new ConsumerLoop({
      fetch: () => (this.url ? this.select.all(this.opts.batch ?? 100) : []),
      handle: (rows) => this.send(rows),
      idleMs: 1000,
      backoff: { kind: 'exponential', initialMs: 100, maxMs: this.opts.maxDelayMs ?? 2000 },
      onError: (e) => {
        this.lastError = String((e as Error).message ?? e);
      },
    });
  }

  setUrl(url: string | undefined): void {
    this.url = url;
    this.kick();
  }

  start(): void {
    this.loop.start();
  }

  /** New rows were written: send without waiting for the idle poll. */
  kick(): void {
    this.loop.wake();
  }

  stats(): OutboxStats {
    const pending = (this.db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
    const dead = (this.db.prepare('SELECT count(*) AS n FROM outbox_dead').get() as { n: number }).n;
    return { pending, sent: this.sent, dead, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  async close(): Promise<void> {
    await this.loop.stop();
  }

  /** One batch: sent, or buried when the intake judged it invalid; a throw means retry later. */
  private async send(rows: { seq: number; body: string }[]): Promise<void> {
    const last = rows[rows.length - 1].seq;
    const body = `[${rows.map((r) => r.body).join(',')}]`;
    // A network error propagates: the loop records it and retries after its backoff.
    const res = await fetch(this.url!, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    const status = res.status;
    const text = await res.text();
    if (status >= 200 && status < 300 && status !== 207) {
      this.remove.run(last);
      this.sent += rows.length;
      this.lastError = undefined;
      return;
    }
    if (status === 207 || (status >= 400 && status < 500 && status !== 408 && status !== 429)) {
      // Partly or wholly rejected as invalid: kept aside for inspection, never retried.
      this.db.transaction(() => {
        this.bury.run(status, text.slice(0, 4000), last);
        this.remove.run(last);
      })();
      this.sent += rows.length;
      this.opts.logger?.('wiki events rejected by the intake', { status, response: text.slice(0, 500) });
      return;
    }
    throw new Error(`HTTP ${status}: ${text.slice(0, 200)}`);
  }
}
