// The content store contract (test/storage/store-conformance.ts), run against every backend,
// plain and with compression history.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { SqliteStore, PostgresStore } from '../../src/storage/index.ts';
import { PG_URL, requireBackend, uniqueName } from '../helpers/backends.ts';
import { runStoreConformance, type StoreDeviations, type StoreUnderTest } from './store-conformance.ts';

const pgOk = await requireBackend(undefined, 'postgres');

function sqliteBackend(variant: StoreUnderTest['variant']): StoreUnderTest {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-conf-'));
  const path = join(dir, 'store.sqlite');
  return {
    name: 'sqlite',
    variant,
    skip: false,
    open: async () => SqliteStore.open({ path, synchronous: 'normal' }),
    reopen: async () => SqliteStore.open({ path, synchronous: 'normal' }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    sql: async (query, params = []) => {
      const db = new Database(path);
      try {
        return db.prepare(query).reader ? (db.prepare(query).all(...params) as Record<string, unknown>[]) : (db.prepare(query).run(...params), []);
      } finally {
        db.close();
      }
    },
  };
}

function postgresBackend(variant: StoreUnderTest['variant']): StoreUnderTest {
  const schema = uniqueName('cascade_conf');
  return {
    name: 'postgres',
    variant,
    skip: pgOk ? false : `postgres is not reachable at ${PG_URL}`,
    open: () => PostgresStore.open({ url: PG_URL, schema, poolSize: 8 }),
    reopen: () => PostgresStore.open({ url: PG_URL, schema, poolSize: 2 }),
    cleanup: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    },
    sql: async (query, params = []) => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      try {
        await c.query(`SET search_path TO "${schema}"`);
        return (await c.query(query.replace(/\?/g, (_, i: number) => `$${query.slice(0, i).split('?').length}`), params)).rows as Record<string, unknown>[];
      } finally {
        await c.end();
      }
    },
  };
}

// compression: history (issue 6) stores key_rev_value renders as deltas against a base.
const HISTORY_DEVIATIONS: StoreDeviations = {
  krvEncoding: { encoding: 'br', reason: 'a history bucket serves its latest copy brotli-compressed, whatever the bucket was before' },
  purgeKeepsDeltaBases: { reason: 'kept renders are deltas against older rows, which stay (hidden) until nothing builds on them' },
};

const backends: StoreUnderTest[] = [sqliteBackend('plain'), postgresBackend('plain'), sqliteBackend('history'), postgresBackend('history')];

for (const be of backends) runStoreConformance(be.variant === 'history' ? { ...be, deviations: HISTORY_DEVIATIONS } : be);

