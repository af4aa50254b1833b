// The example wiki's recentchanges: one row per change, written with the change's event in the
// same transaction (derived from the event itself), served as MediaWiki's `list=recentchanges`
// (formatversion 2 shape). Lets Cascade's recentchanges follower be tested against both the
// example wiki and a real MediaWiki.
import type { WikiDatabase } from './db.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS recentchanges (
  rcid INTEGER PRIMARY KEY AUTOINCREMENT,
  timestamp TEXT NOT NULL,
  type TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS recentchanges_ts ON recentchanges(timestamp, rcid);
`;

type Obj = Record<string, unknown>;

/** MediaWiki's API timestamp (second precision, `Z`). */
function apiTimestamp(v: unknown): string {
  const d = new Date(typeof v === 'string' ? v : Date.now());
  return (Number.isNaN(d.getTime()) ? new Date() : d).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const spaced = (key: unknown) => String(key ?? '').replace(/_/g, ' ');

function visibilityParams(v: Obj | undefined): Obj {
  const content = v?.text === false;
  const comment = v?.comment === false;
  const user = v?.user === false;
  return { bitmask: (content ? 1 : 0) | (comment ? 2 : 0) | (user ? 4 : 0), content, comment, user, restricted: false };
}

/** The recentchanges row (API shape, without rcid) for one of the wiki's events. */
export function changeOfEvent(e: Obj): Obj | undefined {
  const meta = (e.meta ?? {}) as Obj;
  const performer = (e.performer ?? {}) as Obj;
  const common = {
    ns: e.page_namespace,
    title: spaced(e.page_title),
    pageid: e.page_id,
    user: performer.user_text ?? '',
    userid: performer.user_id ?? 0,
    bot: performer.user_is_bot === true,
    minor: false,
    new: false,
    oldlen: 0,
    newlen: 0,
    comment: e.comment ?? '',
    redirect: e.page_is_redirect === true,
  };
  switch (meta.stream) {
    case 'mediawiki.revision-create': {
      const isNew = !e.rev_parent_id;
      return {
        ...common,
        type: isNew ? 'new' : 'edit',
        new: isNew,
        minor: e.rev_minor_edit === true,
        revid: e.rev_id,
        old_revid: e.rev_parent_id ?? 0,
        newlen: e.rev_len ?? 0,
        sha1: e.rev_sha1,
        timestamp: apiTimestamp(e.rev_timestamp),
      };
    }
    case 'mediawiki.page-delete':
      return { ...common, type: 'log', revid: 0, old_revid: 0, logtype: 'delete', logaction: 'delete', logparams: {}, timestamp: apiTimestamp(meta.dt) };
    case 'mediawiki.page-undelete':
      return { ...common, type: 'log', revid: 0, old_revid: 0, logtype: 'delete', logaction: 'restore', logparams: {}, timestamp: apiTimestamp(meta.dt) };
    case 'mediawiki.page-move': {
      const prior = (e.prior_state ?? {}) as Obj;
      return {
        ...common,
        type: 'log',
        ns: prior.page_namespace,
        title: spaced(prior.page_title),
        revid: e.rev_id,
        old_revid: 0,
        logtype: 'move',
        logaction: 'move',
        logparams: { target_ns: e.page_namespace, target_title: spaced(e.page_title), suppressredirect: e.new_redirect_page === undefined },
        timestamp: apiTimestamp(meta.dt),
      };
    }
    case 'mediawiki.revision-visibility-change':
      return {
        ...common,
        type: 'log',
        revid: 0,
        old_revid: 0,
        logtype: 'delete',
        logaction: 'revision',
        logparams: {
          type: 'revision',
          ids: [e.rev_id],
          old: visibilityParams(((e.prior_state ?? {}) as Obj).visibility as Obj),
          new: visibilityParams(e.visibility as Obj),
        },
        timestamp: apiTimestamp(meta.dt),
      };
    default:
      return undefined;
  }
}

export interface RecentChangesQuery {
  /** Inclusive start timestamp (dir newer: oldest first; older: newest first). */
  start?: string;
  dir: 'newer' | 'older';
  limit: number;
  types: string[];
  /** `timestamp|rcid` from a previous answer's `rccontinue`. */
  cont?: string;
}

export class RecentChanges {
  private readonly insert;

  constructor(private readonly db: WikiDatabase) {
    db.exec(SCHEMA);
    this.insert = db.prepare<[string, string, string]>('INSERT INTO recentchanges (timestamp, type, body) VALUES (?, ?, ?)');
  }

  /** Records the change an event describes (call inside the change's transaction). */
  record(event: Obj): void {
    const c = changeOfEvent(event);
    if (c) this.insert.run(String(c.timestamp), String(c.type), JSON.stringify(c));
  }

  /** MediaWiki-shaped rows and the `rccontinue` value for the next page, if any. */
  query(q: RecentChangesQuery): { changes: Obj[]; cont?: string } {
    const newer = q.dir === 'newer';
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.start) {
      where.push(newer ? 'timestamp >= ?' : 'timestamp <= ?');
      args.push(apiTimestamp(q.start));
    }
    if (q.cont) {
      const [ts, id] = q.cont.split('|');
      where.push(newer ? '(timestamp > ? OR (timestamp = ? AND rcid >= ?))' : '(timestamp < ? OR (timestamp = ? AND rcid <= ?))');
      args.push(ts, ts, Number(id));
    }
    if (q.types.length) {
      where.push(`type IN (${q.types.map(() => '?').join(',')})`);
      args.push(...q.types);
    }
    const order = newer ? 'ASC' : 'DESC';
    const rows = this.db
      .prepare(`SELECT rcid, timestamp, body FROM recentchanges ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY timestamp ${order}, rcid ${order} LIMIT ?`)
      .all(...args, q.limit + 1) as { rcid: number; timestamp: string; body: string }[];
    const page = rows.slice(0, q.limit);
    const changes = page.map((r) => ({ ...(JSON.parse(r.body) as Obj), rcid: r.rcid }));
    const next = rows[q.limit];
    return { changes, ...(next ? { cont: `${next.timestamp}|${next.rcid}` } : {}) };
  }
}
