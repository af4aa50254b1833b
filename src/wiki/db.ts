// The example wiki's own SQLite database: pages, revisions, template links, a deletion log
// and the event outbox (written in the same transaction as the change it describes).
import { migrate, openSqlite, shapeProblems, tableExists, type MigrationStep, type SqliteDatabase } from '../sqlite/index.ts';

export interface PageRow {
  page_id: number;
  namespace: number;
  /** DB key without the namespace prefix. */
  title: string;
  latest: number;
  /** Prefixed DB key of the redirect target, or null. */
  redirect_target: string | null;
  deleted: number;
  touched: string;
}

export interface RevisionRow {
  rev_id: number;
  page_id: number;
  parent_id: number;
  timestamp: string;
  user_id: number;
  user_text: string;
  comment: string;
  minor: number;
  sha1: string;
  len: number;
  text: string;
  /** MediaWiki's rev_deleted bits: 1 text, 2 comment, 4 user, 8 suppressed (restricted). */
  deleted: number;
}

export const REV_DELETED_TEXT = 1;
export const REV_DELETED_COMMENT = 2;
export const REV_DELETED_USER = 4;
export const REV_DELETED_RESTRICTED = 8;

const MIGRATIONS: MigrationStep[] = [
  {
    version: 1,
    name: 'pages, revisions, template links, deletion log and event outbox',
    sql: `
CREATE TABLE page (
  page_id INTEGER PRIMARY KEY AUTOINCREMENT,
  namespace INTEGER NOT NULL,
  title TEXT NOT NULL,
  latest INTEGER NOT NULL DEFAULT 0,
  redirect_target TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  touched TEXT NOT NULL
);
CREATE UNIQUE INDEX page_live_title ON page(namespace, title) WHERE deleted = 0;
CREATE INDEX page_title ON page(namespace, title);
CREATE TABLE revision (
  rev_id INTEGER PRIMARY KEY AUTOINCREMENT,
  page_id INTEGER NOT NULL,
  parent_id INTEGER NOT NULL DEFAULT 0,
  timestamp TEXT NOT NULL,
  user_id INTEGER NOT NULL DEFAULT 0,
  user_text TEXT NOT NULL,
  comment TEXT NOT NULL DEFAULT '',
  minor INTEGER NOT NULL DEFAULT 0,
  sha1 TEXT NOT NULL,
  len INTEGER NOT NULL,
  text TEXT NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX revision_page ON revision(page_id, rev_id);
CREATE TABLE templatelinks (
  from_page INTEGER NOT NULL,
  from_ns INTEGER NOT NULL,
  target TEXT NOT NULL,
  PRIMARY KEY (from_page, target)
);
CREATE INDEX templatelinks_target ON templatelinks(target, from_ns, from_page);
CREATE TABLE logging (
  log_id INTEGER PRIMARY KEY AUTOINCREMENT,
  type TEXT NOT NULL,
  action TEXT NOT NULL,
  page_id INTEGER NOT NULL,
  title TEXT NOT NULL,
  user_text TEXT NOT NULL,
  comment TEXT NOT NULL,
  timestamp TEXT NOT NULL
);
CREATE TABLE outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  stream TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE TABLE outbox_dead (
  seq INTEGER PRIMARY KEY,
  stream TEXT NOT NULL,
  body TEXT NOT NULL,
  status INTEGER NOT NULL,
  response TEXT NOT NULL
);
`,
  },
];

/** Version 1's tables, to recognize a file written before the wiki recorded its schema version. */
const V1_TABLES = {
  page: ['page_id', 'namespace', 'title', 'latest', 'redirect_target', 'deleted', 'touched'],
  revision: ['rev_id', 'page_id', 'parent_id', 'timestamp', 'user_id', 'user_text', 'comment', 'minor', 'sha1', 'len', 'text', 'deleted'],
  templatelinks: ['from_page', 'from_ns', 'target'],
  logging: ['log_id', 'type', 'action', 'page_id', 'title', 'user_text', 'comment', 'timestamp'],
  outbox: ['seq', 'stream', 'body'],
  outbox_dead: ['seq', 'stream', 'body', 'status', 'response'],
};

/** The version of a file without a migrations table: 0 when empty, 1 when it has version 1's tables. */
function wikiBaseline(db: SqliteDatabase): number {
  if (!Object.keys(V1_TABLES).some((t) => tableExists(db, t))) return 0;
  const problems = shapeProblems(db, V1_TABLES);
  if (problems.length > 0) throw new Error(`not a wiki database this release knows: ${problems.join('; ')}`);
  return 1;
}

export type WikiDatabase = SqliteDatabase;

export function openWikiDb(path: string): WikiDatabase {
  let db: WikiDatabase | undefined;
  try {
    db = openSqlite(path, { synchronous: 'normal', busyTimeout: 5000 });
    migrate(db, MIGRATIONS, { table: 'cascade_migrations', baseline: wikiBaseline });
  } catch (e) {
    db?.close();
    throw new Error(`cannot open the wiki database ${path}: ${(e as Error).message}`, { cause: e });
  }
  return db;
}
