// One recentchanges row (action API, formatversion 2) → the standard MediaWiki events, built
// with the same builders as the example wiki's own events (src/wiki/events.ts), so both
// origins feed the intake identical shapes. Each event's meta.id is derived from the domain,
// the rcid and its position, so a change read twice yields the same ids (the log de-duplicates).
import { createHash } from 'node:crypto';
import type { PageRow, RevisionRow } from '../../wiki/db.ts';
import * as ev from '../../wiki/events.ts';

/** A recentchanges row as `rcprop=title|ids|timestamp|loginfo|flags|user|userid|comment|sizes|sha1|redirect` returns it. */
export interface RecentChange {
  rcid: number;
  type: 'edit' | 'new' | 'log' | string;
  ns: number;
  title: string;
  pageid?: number;
  revid?: number;
  old_revid?: number;
  timestamp: string;
  user?: string;
  userid?: number;
  userhidden?: boolean;
  bot?: boolean;
  minor?: boolean;
  new?: boolean;
  redirect?: boolean;
  oldlen?: number;
  newlen?: number;
  comment?: string;
  commenthidden?: boolean;
  sha1?: string;
  logtype?: string;
  logaction?: string;
  logparams?: Record<string, unknown>;
}

export interface RevisionFacts {
  revid: number;
  parentid: number;
  timestamp: string;
  size: number;
  sha1?: string;
  minor: boolean;
}

/** Origin look-ups some changes need (revision facts for visibility changes, the restored page). */
export interface ChangeLookups {
  revisions(ids: number[]): Promise<Map<number, RevisionFacts>>;
  page(title: string): Promise<{ pageid: number; lastrevid: number; redirect: boolean } | undefined>;
}

export interface FeedSite {
  /** The Cascade domain the events are for (meta.domain). */
  domain: string;
  /** The wiki's database name (siteinfo `wikiid`). */
  database: string;
}

export const RC_PROPS = 'title|ids|timestamp|loginfo|flags|user|userid|comment|sizes|sha1|redirect';

/** A UUID (version 5 layout) from a name: the same change always gets the same event id. */
export function eventId(domain: string, rcid: number, n: number): string {
  const h = createHash('sha1').update(`cascade-rc\0${domain}\0${rcid}\0${n}`).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

const dbKey = (title: string) => title.replace(/ /g, '_');

function pageRow(c: { ns: number; title: string }, pageId: number, latest: number, redirect: boolean): PageRow & { prefixed: string } {
  const key = dbKey(c.title);
  const colon = key.indexOf(':');
  return {
    page_id: pageId,
    namespace: c.ns,
    title: c.ns !== 0 && colon > 0 ? key.slice(colon + 1) : key,
    prefixed: key,
    latest,
    redirect_target: redirect ? '' : null,
    deleted: 0,
    touched: '',
  };
}

function performer(c: RecentChange): ev.Performer {
  return { user_text: c.user ?? '', ...(c.userid ? { user_id: c.userid } : {}), user_groups: [], user_is_bot: c.bot === true };
}

function revRow(revid: number, pageId: number, f: Partial<RevisionFacts>, c: RecentChange): RevisionRow {
  return {
    rev_id: revid,
    page_id: pageId,
    parent_id: f.parentid ?? 0,
    timestamp: f.timestamp ?? c.timestamp,
    user_id: c.userid ?? 0,
    user_text: c.user ?? '',
    comment: c.comment ?? '',
    minor: f.minor ? 1 : 0,
    sha1: f.sha1 ?? '',
    len: f.size ?? 0,
    text: '',
    deleted: 0,
  };
}

function bits(v: unknown): number {
  const o = (v ?? {}) as Record<string, unknown>;
  return (o.content ? 1 : 0) | (o.comment ? 2 : 0) | (o.user ? 4 : 0) | (o.restricted ? 8 : 0);
}

/** The events for one change (none for changes Cascade does not act on, e.g. user creation). */
export async function eventsOfChange(c: RecentChange, site: FeedSite, lookups: ChangeLookups): Promise<Record<string, unknown>[]> {
  const s = { domain: site.domain };
  const who = performer(c);
  const reason = c.comment ?? '';
  const pageId = c.pageid ?? 0;
  const out: Record<string, unknown>[] = [];
  if (c.type === 'edit' || c.type === 'new') {
    if (!c.revid || !pageId) return [];
    const page = pageRow(c, pageId, c.revid, c.redirect === true);
    const rev = revRow(c.revid, pageId, { parentid: c.old_revid ?? 0, size: c.newlen ?? 0, sha1: c.sha1, minor: c.minor === true }, c);
    out.push(ev.revisionCreate(s, page, rev, who));
  } else if (c.type === 'log') {
    const action = `${c.logtype}/${c.logaction}`;
    const params = c.logparams ?? {};
    if (action === 'delete/delete' || action === 'delete/delete_redir') {
      out.push(ev.pageDelete(s, pageRow(c, pageId, 0, false), -1, who, reason));
    } else if (action === 'delete/restore') {
      const now = await lookups.page(c.title);
      if (!now) return []; // deleted again since: that change follows
      out.push(ev.pageUndelete(s, pageRow(c, now.pageid, now.lastrevid, now.redirect), who, reason));
      // The schema's prior_state names the page id before deletion (RC keeps it).
      (out[0].prior_state as Record<string, unknown>).page_id = pageId || now.pageid;
    } else if (c.logtype === 'move' && (c.logaction === 'move' || c.logaction === 'move_redir')) {
      const targetTitle = String(params.target_title ?? '');
      if (!targetTitle || !pageId) return [];
      const target = { ns: Number(params.target_ns ?? 0), title: targetTitle };
      const page = pageRow(target, pageId, c.revid ?? 0, false);
      const prior = pageRow(c, pageId, 0, false);
      out.push(ev.pageMove(s, page, { namespace: prior.namespace, title: prior.title, prefixed: prior.prefixed, rev_id: c.revid ?? 0 }, undefined, who, reason));
    } else if (action === 'delete/revision' && params.type === 'revision') {
      const ids = (Array.isArray(params.ids) ? params.ids : []).map(Number).filter((n) => n > 0);
      const facts = ids.length ? await lookups.revisions(ids) : new Map<number, RevisionFacts>();
      const oldBits = bits(params.old);
      const newBits = bits(params.new);
      for (const id of ids) {
        const f = facts.get(id) ?? {};
        const rev = { ...revRow(id, pageId, f, c), deleted: newBits };
        out.push(ev.visibilityChange(s, pageRow(c, pageId, 0, c.redirect === true), rev, oldBits, who, reason));
      }
    } else if (c.logtype === 'protect' && c.revid) {
      // Protection adds a null revision: the page's latest revision id changes, its content not.
      const page = pageRow(c, pageId, c.revid, c.redirect === true);
      out.push(ev.revisionCreate(s, page, revRow(c.revid, pageId, { parentid: c.old_revid ?? 0, sha1: c.sha1 }, c), who, undefined, false));
    }
  }
  return out.map((e, n) => finish(e, c, site, n));
}

function finish(e: Record<string, unknown>, c: RecentChange, site: FeedSite, n: number): Record<string, unknown> {
  const meta = e.meta as Record<string, unknown>;
  meta.id = eventId(site.domain, c.rcid, n);
  // The change's own time: a change read again produces the same event.
  meta.dt = new Date(c.timestamp).toISOString();
  e.database = site.database;
  const p = e.performer as { user_text?: string } | undefined;
  if (!p?.user_text || c.userhidden) delete e.performer;
  if (c.commenthidden) {
    delete e.comment;
    delete e.parsedcomment;
  }
  if (e.rev_sha1 === '') delete e.rev_sha1;
  if (e.rev_count === -1) delete e.rev_count;
  const slots = (e.rev_slots as { main?: Record<string, unknown> } | undefined)?.main;
  if (slots && !slots.rev_slot_sha1) delete e.rev_slots;
  return e;
}
