// The example wiki's own SQLite database: pages, revisions, template links, a deletion log
// and the event outbox (written in the same transaction as the change it describes).
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

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

const SCHEMA = `
CREATE TABLE IF NOT EXISTS page (
  page_id INTEGER PRIMARY KEY AUTOINCREMENT,
  namespace INTEGER NOT NULL,
  title TEXT NOT NULL,
  latest INTEGER NOT NULL DEFAULT 0,
  redirect_target TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  touched TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS page_live_title ON page(namespace, title) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS page_title ON page(namespace, title);
CREATE TABLE IF NOT EXISTS revision (
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
CREATE INDEX IF NOT EXISTS revision_page ON revision(page_id, rev_id);
CREATE TABLE IF NOT EXISTS templatelinks (
  from_page INTEGER NOT NULL,
  from_ns INTEGER NOT NULL,
  target TEXT NOT NULL,
  PRIMARY KEY (from_page, target)
);
CREATE INDEX IF NOT EXISTS templatelinks_target ON templatelinks(target, from_ns, from_page);
CREATE TABLE IF NOT EXISTS logging (
  log_id INTEGER PRIMARY KEY AUTOINCREMENT,
  type TEXT NOT NULL,
  action TEXT NOT NULL,
  page_id INTEGER NOT NULL,
  title TEXT NOT NULL,
  user_text TEXT NOT NULL,
  comment TEXT NOT NULL,
  timestamp TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  stream TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox_dead (
  seq INTEGER PRIMARY KEY,
  stream TEXT NOT NULL,
  body TEXT NOT NULL,
  status INTEGER NOT NULL,
  response TEXT NOT NULL
);
`;

export type WikiDatabase = Database.Database;

export function openWikiDb(path: string): WikiDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  return db;
}
